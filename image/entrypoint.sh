#!/bin/bash
# Entrypoint of the null-worker image. With no arguments: check the environment, obtain a
# TLS certificate when USE_SSL=true, then hand the container to supervisord, which runs the
# null PyWorker and the consumer. With arguments: run them instead (e.g. `bash`).
set -euo pipefail

NULL_WORKER_HOME="${NULL_WORKER_HOME:-/opt/null-worker}"

fail() {
  echo "null-worker: $*" >&2
  exit 1
}

warn() {
  echo "null-worker: WARNING: $*" >&2
}

set_defaults() {
  export REPORT_ADDR="${REPORT_ADDR:-https://run.vast.ai}"
  export WORKER_PORT="${WORKER_PORT:-3000}"
  USE_SSL="${USE_SSL:-true}"
  export USE_SSL="${USE_SSL,,}"
  export NULL_CONTROL_PORT="${NULL_CONTROL_PORT:-18999}"
  export CONSUMER_STOP_SECONDS="${CONSUMER_STOP_SECONDS:-30}"
}

check_environment() {
  # The certificate request needs CONTAINER_ID checked first; otherwise the preflight in
  # main checks everything in one start of python.
  if [ "$USE_SSL" = true ]; then
    "$NULL_WORKER_HOME/bin/python" -m worker.config || exit 1
  fi
  case "$CONSUMER_STOP_SECONDS" in
    '' | *[!0-9]*)
      fail "CONSUMER_STOP_SECONDS=$CONSUMER_STOP_SECONDS is not a whole number of seconds: use e.g. 30" ;;
  esac
}

choose_programs() {
  if [ -n "${CONSUMER_CMD:-}" ]; then
    export NULL_CONSUMER_AUTOSTART=true
  else
    export NULL_CONSUMER_AUTOSTART=false
    warn "CONSUMER_CMD is empty: the worker runs alone and nothing releases its reservations;" \
      "set CONSUMER_CMD to the command that runs your queue consumer"
  fi
}

subject_alt_name() {
  if [[ "$PUBLIC_IPADDR" =~ ^[0-9.]+$ || "$PUBLIC_IPADDR" == *:* ]]; then
    echo "IP:$PUBLIC_IPADDR"
  else
    echo "DNS:$PUBLIC_IPADDR"
  fi
}

# As Vast's own start script does: a fresh key and CSR at every start, signed by Vast.
obtain_certificate() {
  local sign_url="${NULL_CERT_SIGN_URL:-https://console.vast.ai/api/v0/sign_cert/?instance_id=$CONTAINER_ID}"
  local work
  work=$(mktemp -d)
  openssl req -new -newkey rsa:2048 -nodes -sha256 -subj "/CN=pyworker" \
    -addext "subjectAltName=$(subject_alt_name)" \
    -keyout "$work/instance.key" -out "$work/instance.csr" 2>"$work/openssl.log" ||
    fail "could not make a TLS key: $(tail -n 1 "$work/openssl.log")"
  if ! curl -fsS --retry 3 --max-time 30 -H 'Content-Type: application/octet-stream' \
    --data-binary "@$work/instance.csr" -o "$work/instance.crt" "$sign_url" 2>"$work/curl.log"; then
    fail "could not get a TLS certificate from $sign_url ($(tail -n 1 "$work/curl.log"));" \
      "on Vast this needs CONTAINER_ID of a running instance; set USE_SSL=false to serve plain HTTP"
  fi
  openssl x509 -in "$work/instance.crt" -noout 2>/dev/null ||
    fail "$sign_url answered with something that is not a certificate; set USE_SSL=false to serve plain HTTP"
  install -m 600 "$work/instance.key" /etc/instance.key
  install -m 644 "$work/instance.crt" /etc/instance.crt
  rm -rf "$work"
  echo "null-worker: TLS certificate obtained from $sign_url"
}

# As Vast's own start script does, so that ssh sessions into the instance see the same
# variables (those with an underscore in their name, like Vast's). Values with quotes or
# line breaks cannot be written there and are left out.
export_for_logins() {
  local file=${NULL_ENVIRONMENT_FILE:-/etc/environment} name value
  {
    grep -v -e '^# null-worker:' -e '^[A-Za-z0-9]*_[A-Za-z0-9_]*=' "$file" 2>/dev/null || true
    echo "# null-worker: the container's environment at start"
    while IFS= read -r name; do
      value=${!name}
      [[ "$value" == *[\"$'\n']* ]] && continue
      printf '%s="%s"\n' "$name" "$value"
    done < <(compgen -e | grep _)
  } >"$file.new" && mv "$file.new" "$file"
}

print_version() {
  "$NULL_WORKER_HOME/bin/python" -c 'import importlib.metadata as m, worker
print("null-worker %s (vastai %s)" % (worker.__version__, m.version("vastai")))'
}

# supervisord starts its programs only after its first one-second poll, unless something
# touches its control socket first: this does, as soon as the socket exists (about 0.9 s
# off every cold start). If it misses, the programs start a second later as usual.
wake_supervisord() {
  local socket=$NULL_WORKER_HOME/run/supervisor.sock
  for _ in $(seq 40); do
    if [ -S "$socket" ]; then
      curl -s -o /dev/null --max-time 1 --unix-socket "$socket" http://localhost/ || true
      return 0
    fi
    sleep 0.025
  done
}

main() {
  set_defaults
  check_environment
  export_for_logins
  if [ "$USE_SSL" = true ]; then
    obtain_certificate
  fi
  "$NULL_WORKER_HOME/bin/python" -m worker.config --preflight || exit 1
  choose_programs
  wake_supervisord &
  exec "$NULL_WORKER_HOME/bin/supervisord" -c "$NULL_WORKER_HOME/etc/supervisord.conf"
}

case "${1:-}" in
  '') main ;;
  -h | --help) cat "$NULL_WORKER_HOME/etc/help.txt" ;;
  --version) print_version ;;
  -*) fail "unknown option $1: use --help, --version, or a command to run instead" ;;
  *) exec "$@" ;;
esac
