#!/bin/bash
# The stock way to boot a PyWorker, as Vast's start_server.sh does at every start: make a venv,
# pip-install the framework from PyPI with every dependency it declares (no cache), then run
# the worker. The git clone and apt-get of the real script are left out, so this path is, if
# anything, faster than the real one.
set -euo pipefail

readonly VENV=/workspace/worker-env
export REPORT_ADDR="${REPORT_ADDR:-https://run.vast.ai}"
export WORKER_PORT="${WORKER_PORT:-3000}"
export USE_SSL="${USE_SSL:-true}"

python3 -m venv "$VENV"
"$VENV/bin/pip" install --no-cache-dir --disable-pip-version-check -q -r /stock/requirements.txt
exec "$VENV/bin/python" /stock/worker.py
