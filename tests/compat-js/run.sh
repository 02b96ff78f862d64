#!/usr/bin/env bash
# Compatibility suite: otc-server driven by the real openvidu-browser 2.32.2 and
# openvidu-node-client 2.32.2 packages. Installs them (npm ci), builds the server, runs every
# test file (each starts its own server on 127.0.0.1:0). Exits non-zero on any failure.
#   OTC_COMPAT_DEBUG=1       show openvidu-browser / node-client logs
#   OTC_COMPAT_SERVER_LOG=1  show the server's output
#   OTC_SERVER_BIN=path      use this server binary instead of building target/debug/otc-server
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "compat-js: Node >= 20 required (found $(node --version))" >&2
  exit 2
fi

cd "$here"
npm ci --no-audit --no-fund --loglevel=error

if [ -z "${OTC_SERVER_BIN:-}" ]; then
  (cd "$repo" && cargo build -p otc-server)
fi

websocket_flag=()
if [ "$node_major" -lt 22 ]; then
  websocket_flag=(--experimental-websocket)
fi

# Whole-run guard: the suite takes about two minutes; never let it hang CI.
exec timeout --kill-after=10 280 node "${websocket_flag[@]}" --test --test-concurrency=1 \
  --test-timeout=180000 --test-reporter=spec test/*.test.js
