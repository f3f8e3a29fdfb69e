#!/usr/bin/env bash
# Runs the frontend fuzzer for a bounded time: run.sh FUZZER SECONDS.
# Seeds: tests/fuzz/corpus, the golden inputs and the examples; the working corpus is
# a temporary copy, so the repository never changes.
set -euo pipefail
fuzzer=$(realpath "$1")
seconds=${2:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root"/tests/fuzz/corpus/* "$root"/tests/golden/parse/*.stp "$root"/tests/golden/diag/*.stp \
   "$root"/tests/golden/elaborate/*.stp "$root"/tests/golden/elaborate-diag/*.stp \
   "$root"/examples/*.stp "$work"/ 2>/dev/null || true
cd "$work"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 \
  -dict="$root/tests/fuzz/stap.dict" -print_final_stats=1 "$work" 2>fuzz.log || {
  tail -n 60 fuzz.log
  exit 1
}
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' fuzz.log | tail -n 2
echo "fuzz_frontend: no crash, leak or hang in ${seconds}s"
