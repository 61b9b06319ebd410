#!/usr/bin/env bash
# The demo behind `make demo`: the emulator of Vast's control plane, one null-worker
# container running consumer-example/consumer.sh, and the client demo reserving through
# the real SDK. Everything listens on 127.0.0.1 and a Docker network made for the demo.
set -euo pipefail
# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"

readonly IMAGE=${IMAGE:-null-worker:dev}
readonly EMULATOR_IMAGE=${EMULATOR_IMAGE:-null-worker-emulator:dev}
readonly NETWORK=null-demo
readonly EMULATOR=null-demo-emulator
readonly WORKER=null-demo-worker
readonly WORKER_PORT=${DEMO_WORKER_PORT:-3000}
readonly PYTHON=${PYTHON:-.venv/bin/python}
readonly API_KEY=demo-key

cleanup() {
  docker rm -f "$WORKER" "$EMULATOR" >/dev/null 2>&1 || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
}

worker_state() {
  curl -fsS http://127.0.0.1:8080/_emulator/state |
    "$PYTHON" -c 'import json, sys
for w in json.load(sys.stdin)["workers"]:
    print("worker %(id)s: loaded=%(loaded)s load=%(cur_load)g/%(max_perf)g" % w)'
}

worker_is_free() { worker_state | grep -q 'loaded=True load=0/100'; }

start() {
  cleanup
  docker network create "$NETWORK" >/dev/null
  say "emulator of Vast's control plane on http://127.0.0.1:8080"
  docker run -d --name "$EMULATOR" --network "$NETWORK" -p 127.0.0.1:8080:8080 \
    "$EMULATOR_IMAGE" --host 0.0.0.0 --port 8080 --endpoint null-demo --api-key "$API_KEY" >/dev/null
  wait_for "the emulator answering" 30 curl -fsS http://127.0.0.1:8080/_emulator/state

  say "worker container: USE_SSL=true (certificate signed by the emulator), consumer-example/consumer.sh"
  docker run -d --name "$WORKER" --network "$NETWORK" -p "127.0.0.1:$WORKER_PORT:3000" \
    -e CONTAINER_ID=1 -e PUBLIC_IPADDR=127.0.0.1 -e "VAST_TCP_PORT_3000=$WORKER_PORT" \
    -e "REPORT_ADDR=http://$EMULATOR:8080" \
    -e "NULL_CERT_SIGN_URL=http://$EMULATOR:8080/api/v0/sign_cert/?instance_id=1" \
    -e WORK_SECONDS=5 -e CONSUMER_CMD=/demo/consumer.sh \
    -v "$PWD/consumer-example:/demo:ro" "$IMAGE" >/dev/null
  # These follow the containers' logs until cleanup removes the containers.
  docker logs -f "$EMULATOR" 2>&1 | sed -u 's/^/  [emulator] /' &
  docker logs -f "$WORKER" 2>&1 | sed -u 's/^/  [worker]   /' &
  wait_for "the worker reporting ready to the emulator" 60 worker_is_free
}

main() {
  trap cleanup EXIT
  [ -x "$PYTHON" ] || die "$PYTHON is missing: run 'make demo', which creates it"
  start
  say "client demo: two reservations 3 s apart through the real SDK; the consumer releases each after 5 s"
  "$PYTHON" -m worker.client --endpoint null-demo --instance local --api-key "$API_KEY" --count 2 --interval 3 --hold 60
  wait_for "the worker free again" 15 worker_is_free
  say "after the demo: $(worker_state)"
}

main "$@"
