# Helpers the demo scripts share; sourced, not run.
# shellcheck shell=bash

say() { printf '\n== %s\n' "$*"; }

die() {
  printf 'demo: %s\n' "$*" >&2
  exit 1
}

# wait_for WHAT SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds.
wait_for() {
  local what=$1 seconds=$2
  shift 2
  for _ in $(seq "$((seconds * 5))"); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  die "$what did not happen within ${seconds}s"
}
