#!/usr/bin/env bash
# Jobs flowing through reserved workers: the emulator of Vast's control plane, a Redis,
# three null-worker containers built with consumer-example/Dockerfile (the Redis consumer as
# CONSUMER_CMD), and the dispatcher on this host holding one reservation per job.
# Run from the repository root after `make images`; everything listens on 127.0.0.1 and on a
# Docker network made for the demo.
set -euo pipefail
# shellcheck source=scripts/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"

readonly IMAGE=${IMAGE:-null-worker:dev}
readonly EMULATOR_IMAGE=${EMULATOR_IMAGE:-null-worker-emulator:dev}
readonly BASE_IMAGE=${BASE_IMAGE:-null-worker-base:bookworm}
readonly CONSUMER_IMAGE=null-worker-consumer:dev
readonly REDIS_IMAGE=null-worker-test-redis:dev
readonly NETWORK=null-queue-demo
readonly PREFIX=null-queue-demo
readonly REDIS_PORT=${DEMO_REDIS_PORT:-16379}
readonly EMULATOR_PORT=${DEMO_EMULATOR_PORT:-8080}
readonly JOBS=${DEMO_JOBS:-12}
readonly PYTHON=${PYTHON:-.venv/bin/python}
readonly REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  docker rm -f "$PREFIX-emulator" "$PREFIX-redis" "$PREFIX-worker1" "$PREFIX-worker2" \
    "$PREFIX-worker3" >/dev/null 2>&1 || true
  docker network rm "$NETWORK" >/dev/null 2>&1 || true
}

py() { "$PYTHON" -c "$1" "${@:2}"; }

workers_ready() {
  curl -fsS "http://127.0.0.1:$EMULATOR_PORT/_emulator/state" |
    py 'import json, sys; w = json.load(sys.stdin)["workers"]
sys.exit(0 if sum(x["loaded"] for x in w) == 3 else 1)'
}

queue_drained() {
  py 'import redis, sys
g = redis.Redis.from_url(sys.argv[1]).xinfo_groups("jobs")[0]
sys.exit(0 if g["pending"] == 0 and g["lag"] == 0 else 1)' "$REDIS_URL"
}

start() {
  cleanup
  say "building the worker image with consumer-example/Dockerfile (FROM $IMAGE) and a Redis"
  docker build -q --build-arg "IMAGE=$IMAGE" -t "$CONSUMER_IMAGE" consumer-example >/dev/null
  docker build -q --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$REDIS_IMAGE" \
    -f tests/queue/redis.Dockerfile tests/queue >/dev/null
  docker network create "$NETWORK" >/dev/null
  docker run -d --name "$PREFIX-emulator" --network "$NETWORK" --network-alias emulator \
    -p "127.0.0.1:$EMULATOR_PORT:8080" "$EMULATOR_IMAGE" --host 0.0.0.0 --port 8080 \
    --endpoint null-demo >/dev/null
  docker run -d --name "$PREFIX-redis" --network "$NETWORK" --network-alias redis \
    -p "127.0.0.1:$REDIS_PORT:6379" "$REDIS_IMAGE" >/dev/null
  wait_for "the emulator answering" 30 curl -fsS "http://127.0.0.1:$EMULATOR_PORT/_emulator/state"

  say "three workers; each runs the Redis consumer as CONSUMER_CMD"
  for n in 1 2 3; do
    local port=$((EMULATOR_PORT + 100 + n))
    docker run -d --name "$PREFIX-worker$n" --network "$NETWORK" -p "127.0.0.1:$port:3000" \
      -e "CONTAINER_ID=$n" -e PUBLIC_IPADDR=127.0.0.1 -e "VAST_TCP_PORT_3000=$port" \
      -e REPORT_ADDR=http://emulator:8080 -e USE_SSL=false \
      -e REDIS_URL=redis://redis:6379/0 -e DEMO_WORK_SECONDS=2 "$CONSUMER_IMAGE" >/dev/null
    docker logs -f "$PREFIX-worker$n" 2>&1 | grep --line-buffered ' consumer INFO ' |
      sed -u "s/^/  [worker$n] /" &
    PIDS+=($!)
  done
  wait_for "three workers reporting ready" 60 workers_ready
}

main() {
  trap cleanup EXIT
  [ -x "$PYTHON" ] || die "$PYTHON is missing: run 'make venv' first"
  start
  say "dispatcher: one reservation per queued-or-running job, at most 3"
  "$PYTHON" -m dispatcher --endpoint null-demo --instance local \
    --emulator-url "http://127.0.0.1:$EMULATOR_PORT" --redis-url "$REDIS_URL" \
    --max-workers 3 > >(sed -u 's/^/  [dispatcher] /') 2>&1 &
  local dispatcher=$!
  PIDS+=("$dispatcher")
  sleep 2
  say "producer: $JOBS jobs of 2 s each on stream 'jobs'"
  py 'import redis, sys
r = redis.Redis.from_url(sys.argv[1])
for n in range(int(sys.argv[2])):
    r.xadd("jobs", {"job_id": f"demo-{n:02d}"})' "$REDIS_URL" "$JOBS"
  wait_for "every job done" 120 queue_drained
  sleep 3
  say "stopping the dispatcher (SIGTERM): it closes whatever it still holds"
  kill -TERM "$dispatcher"
  wait "$dispatcher" || die "the dispatcher exited with status $?"
  sleep 1
  say "done: $(py 'import redis, sys
print(redis.Redis.from_url(sys.argv[1], decode_responses=True).hgetall("jobs:workers:stats"))' \
    "$REDIS_URL")"
}

main "$@"
