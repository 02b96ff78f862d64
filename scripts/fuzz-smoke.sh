#!/usr/bin/env bash
# Builds the cargo-fuzz targets in fuzz/ and runs each one for FUZZ_SECONDS (default 20) seconds,
# starting from the committed seeds (fuzz/seeds/<target>) plus whatever fuzz/corpus/<target> holds.
# Exit status is non-zero when a build fails or any target finds a crash (libFuzzer writes the input
# to fuzz/artifacts/<target>/). Prints the inputs tried per target.
#
# Needs: cargo-fuzz (`cargo install cargo-fuzz`, installed here when missing). cargo-fuzz needs a
# nightly compiler for -Zsanitizer; RUSTC_BOOTSTRAP=1 lets the stable toolchain act as one.
# Longer runs: FUZZ_SECONDS=600 scripts/fuzz-smoke.sh [target...]
set -uo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-20}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(client_token client_server_frames client_hostile_server server_rpc_decode server_dispatch_inprocess server_rest_inprocess server_ws_dispatch server_rest_bodies server_first_request)
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install --locked cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz || { echo "cannot install cargo-fuzz"; exit 1; }
fi

echo "building fuzz targets"
cargo fuzz build || { echo "fuzz build failed"; exit 1; }

failed=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  log_file=$(mktemp)
  cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
    -dict=dict/openvidu.dict -max_total_time="$seconds" -print_final_stats=1 -timeout=30 >"$log_file" 2>&1
  status=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log_file" | grep -o '[0-9]*$' | tail -1)
  if [ $status -ne 0 ]; then
    failed+=("$target")
    echo "---- $target: CRASH after ${runs:-?} inputs (exit $status); last lines:"
    tail -40 "$log_file"
  else
    echo "---- $target: ok, ${runs:-?} inputs in ${seconds} s, 0 crashes"
  fi
  rm -f "$log_file"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz smoke: crashes in ${failed[*]}"
  exit 1
fi
echo "fuzz smoke: ${#targets[@]} targets, 0 crashes"
