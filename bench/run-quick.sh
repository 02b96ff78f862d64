#!/usr/bin/env bash
# Quick benchmark run (about a minute): installs the Socket.IO peer, builds the servers, the floor
# baseline, the harness and the release cdylib, then runs `otc-bench --quick`. Exits non-zero if a
# scenario fails to run or ordering violations are seen (never because of a speed figure).
# Usage: bench/run-quick.sh [--out FILE.md]
set -euo pipefail
cd "$(dirname "$0")/.."
(cd bench/peer-socketio && npm ci --no-audit --no-fund)
cargo build --release -p otc-session
cargo build --profile server -p otc-server -p otc-bench
exec target/server/otc-bench --quick "$@"
