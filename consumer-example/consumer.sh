#!/bin/sh
# The consumer contract in plain shell and curl, for consumers written in any language:
#   1. wait until this worker is reserved    GET  /session?wait=SECONDS  (200, or 404 if not yet)
#   2. pull one unit of work from your queue and do it (here: sleep WORK_SECONDS)
#   3. release that reservation              POST /release?id=ID
#      (answers 409 if it expired and the worker was reserved again: leave that one be)
# Run it as CONSUMER_CMD; supervisord restarts it if it exits.
set -u

control="http://127.0.0.1:${NULL_CONTROL_PORT:-18999}"
work_seconds="${WORK_SECONDS:-5}"

while :; do
  if ! session=$(curl -fsS "$control/session?wait=30" 2>/dev/null); then
    sleep 1  # nothing reserved within the wait, or the worker is still starting
    continue
  fi
  id=$(printf '%s' "$session" | sed -n 's/.*"id": *"\([^"]*\)".*/\1/p')
  echo "consumer: reserved $session; working for ${work_seconds}s"
  sleep "$work_seconds"
  echo "consumer: done; $(curl -sS -X POST "$control/release?id=$id")"
done
