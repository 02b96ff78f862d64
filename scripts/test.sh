#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine with Rust, Node 20 and Java 17.
# Installs what it needs (Debian: mono, valgrind; npm: the real OpenVidu packages, kotlin-compiler), then runs
# every suite and prints one summary line. Exit status is non-zero when any suite fails.
set -uo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==== %s ====\n' "$*"; }

# A suite that dies half-way must not leave a server of this checkout behind (it would hold CI's output open).
cleanup() { pkill -f "^$PWD/target/[a-z]+/otc-server" 2>/dev/null || true; }
trap cleanup EXIT

install_system_packages() {
  local missing=()
  command -v mcs >/dev/null 2>&1 || missing+=(mono-mcs)
  command -v mono >/dev/null 2>&1 || missing+=(mono-runtime)
  [ -f /usr/lib/mono/4.5/System.Net.Http.dll ] || missing+=(libmono-system-net-http4.0-cil)
  command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

passed=0; failed=0; failed_names=()
run_suite() {
  local name=$1; shift
  log "$name"
  local start=$SECONDS
  if "$@"; then
    passed=$((passed + 1)); echo "---- $name: ok ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1)); failed_names+=("$name"); echo "---- $name: FAILED ($((SECONDS - start)) s)"
  fi
}

install_system_packages
log "npm: the Socket.IO peer of the benchmark quick mode (run by cargo test)"
(cd bench/peer-socketio && npm ci --no-audit --no-fund --loglevel=error) || { echo "npm ci failed"; echo "suites: 0 passed, 1 failed"; exit 1; }
log "build"
cargo build --workspace --all-targets || { echo "build failed"; echo "suites: 0 passed, 1 failed"; exit 1; }

run_suite "rust (server, client, C API under ASan/valgrind, header, network loss, security, bench quick mode)" cargo test --workspace --no-fail-fast
run_suite "demo (embedded server, REST, three clients through the C API)" cargo run -q --example demo -- --fast
run_suite "openvidu npm packages against our server" bash tests/compat-js/run.sh
run_suite "kotlin wrapper" bash bindings/kotlin/test.sh
run_suite "csharp wrapper" bash bindings/csharp/test.sh
run_suite "fuzz smoke (9 targets, 20 s each)" bash scripts/fuzz-smoke.sh

echo
[ ${#failed_names[@]} -gt 0 ] && printf 'failed suite: %s\n' "${failed_names[@]}"
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
