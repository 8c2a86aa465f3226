#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30) and prints, per target, its run count and time.
# Usage: fuzz/run.sh [SECONDS] [TARGET...]. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`).
# The machine's stable toolchain is used with RUSTC_BOOTSTRAP=1, since libFuzzer needs -Z sanitizer flags.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
export RUSTC_BOOTSTRAP=1
cargo fuzz build
mkdir -p logs
for target in "${targets[@]}"; do
    log=logs/$target.log
    # -rss_limit_mb keeps a runaway allocation a finding rather than a machine hang.
    if ! cargo fuzz run "$target" -- -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
        echo "$target: FOUND A CRASH; see fuzz/$log and fuzz/artifacts/$target/"
        tail -30 "$log"
        exit 1
    fi
    runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "$target: ${seconds}s, ${runs:-?} executions, no crash"
done
