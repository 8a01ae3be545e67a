#!/usr/bin/env bash
# Runs every cargo-fuzz target of fuzz/ for SECONDS each (default 20; e.g. `scripts/fuzz.sh 300` for a
# long run), on the machine's stable toolchain: no sanitizer (`-s none`), so no nightly flag is needed,
# and one debug build (`--dev`: overflow checks and debug assertions on) reused by every target.
# The corpus grows in fuzz/corpus/TARGET (kept between runs, not committed) from the seeds in
# fuzz/seeds/TARGET. A crash stops the script with the input in fuzz/artifacts/TARGET/: make it a
# regression test in the crate it belongs to. Prints one line of figures per target.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`, done by .ci/run) and a C++ compiler.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-20}"
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2; exit 1; }

cargo fuzz build -s none --dev
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target" "seeds/$target"
  log=$(mktemp)
  status=0
  # -timeout: one input taking longer is a hang, reported as a crash; -rss_limit_mb likewise.
  cargo fuzz run -s none --dev "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "corpus/$target" -type f | wc -l)
  printf 'fuzz %-14s %4ss  %10s execs  %7s/s  cov %6s  corpus %6s  %s\n' "$target" "$secs" \
    "${runs:-?}" "${speed:-?}" "${cov:-?}" "$corpus" "$([ "$status" = 0 ] && echo ok || echo CRASH)"
  if [ "$status" != 0 ]; then
    tail -40 "$log" >&2
    exit "$status"
  fi
  rm -f "$log"
done
