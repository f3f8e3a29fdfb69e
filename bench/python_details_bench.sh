#!/bin/bash
# python_details_bench.sh [BUILD_DIR] [ROUNDS]: what a python probe that reads $$parms on
# one function costs a program whose other function takes a 10,000-item list (300 calls
# of each): the program's own time untraced, traced by a probe that reads names only, and
# traced by the $$parms probe (HelperSDT computes the strings only for the matched
# function; BTAP_PYTHON_SESSIONS=/proc/btap-no-such-folder/x shows the cost when it computes them for
# every call). Best of ROUNDS each. Needs root.
set -eu
BUILD=${1:-build}
ROUNDS=${2:-3}
export PYTHONPATH=$BUILD/python
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/details_bench.py" <<'PY'
import sys, time
def wanted(n):
    return n + 1
def other(items):
    return len(items)
items = list(range(10000))
start = time.perf_counter()
for i in range(300):
    wanted(i)
    other(items)
sys.stderr.write("%.4f\n" % (time.perf_counter() - start))
PY
best() {  # best program time of ROUNDS runs of "$@"
  local b=""
  for _ in $(seq "$ROUNDS"); do
    t=$("$@" 2>&1 >/dev/null | grep -E '^[0-9.]+$' | tail -1)
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; fi
  done
  echo "$b"
}
run() { "$BUILD/btap" -e "$1" -c "python3 -m HelperSDT $work/details_bench.py"; }
unfiltered() { BTAP_PYTHON_SESSIONS=/proc/btap-no-such-folder/x run "$1"; }
echo "untraced:            $(best python3 -m HelperSDT "$work/details_bench.py") s"
echo "names-only probe:    $(best run 'probe python3.module("details_bench").function("wanted") { n++ } global n') s"
echo "\$\$parms probe:        $(best run 'probe python3.module("details_bench").function("wanted") { printf("%s\n", $$parms) }') s"
echo "\$\$parms, no filter:   $(best unfiltered 'probe python3.module("details_bench").function("wanted") { printf("%s\n", $$parms) }') s"
