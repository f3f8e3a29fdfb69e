#!/usr/bin/env bash
# Runs the object-reader fuzzer for a bounded time: run_object.sh FUZZER SECONDS BTAP.
# Seeds are real objects that BTAP compiles (-p4) from the examples and the runtime
# cases' scripts, made fresh so that they always match the current .btap.meta format;
# the working corpus is a temporary directory, so the repository never changes.
set -euo pipefail
fuzzer=$(realpath "$1")
seconds=${2:-60}
btap=$(realpath "$3")
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
n=0
for script in "$root"/examples/*.stp; do
  "$btap" -p4 -o "$work/corpus/$(basename "$script" .stp).bo" "$script" >/dev/null 2>&1 || continue
  n=$((n + 1))
done
# The runtime cases' scripts: the part after `--- script` up to the next section.
for case in "$root"/tests/runtime/cases/*.test; do
  [ $n -ge 40 ] && break
  awk '/^--- script/{on=1; next} /^--- /{on=0} on' "$case" >"$work/script.stp"
  [ -s "$work/script.stp" ] || continue
  "$btap" -p4 -o "$work/corpus/$(basename "$case" .test).bo" "$work/script.stp" >/dev/null 2>&1 ||
    continue
  n=$((n + 1))
done
if [ $n -eq 0 ]; then
  echo "fuzz_object: btap compiled no seed object" >&2
  exit 1
fi
cd "$work"
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 "$work/corpus" 2>fuzz.log || {
  tail -n 60 fuzz.log
  exit 1
}
grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' fuzz.log | tail -n 2
echo "fuzz_object: no crash, leak or hang in ${seconds}s from $n seed objects"
