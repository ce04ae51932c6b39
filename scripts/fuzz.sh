#!/usr/bin/env bash
# Builds every cargo-fuzz target and runs each for N seconds (default 15),
# seeded from fuzz/seeds/<target> (committed) and fuzz/corpus/<target>.
# Long campaigns: scripts/fuzz.sh 600
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-15}"
export RUSTC_BOOTSTRAP=1
sh ./seed_corpus.sh
# Short smoke runs (CI) use an unoptimised build, which compiles in a third
# of the time; campaigns use the optimised one.
if [ "$secs" -lt 120 ]; then mode=--dev; else mode=-O; fi
cargo fuzz build "$mode"
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  seeds=()
  [ -d "seeds/$t" ] && seeds+=("seeds/$t")
  echo "--- fuzz $t for ${secs}s"
  log="$(mktemp)"
  rc=0
  cargo fuzz run "$mode" "$t" "corpus/$t" "${seeds[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY)' "$log" || true
  if [ "$rc" -ne 0 ]; then tail -n 60 "$log" >&2; echo "fuzz target $t failed" >&2; exit 1; fi
  rm -f "$log"
done
