#!/usr/bin/env bash
# Runtime benchmarks, side by side in one run (best of N where noted), as ratios:
#   start-up    `probe begin { printf("hi\n"); exit() }`: wall time and peak memory,
#               btap vs bpftrace vs a hand-written libbpf C program (bench/c)
#   per event   a counter on syscalls:sys_enter_getppid: the traced loop's extra cost
#               per call over the untraced loop, btap vs bpftrace vs C; and the same
#               counted by task name (c[execname()]++, a hash map keyed by the name)
#   printf      one line per getppid call (500,000 calls): records per second and lost
#               records, btap vs bpftrace vs C
#   syscall     `probe syscall.getppid { n++ }`, which btap dispatches by number in one
#               program on raw_syscalls:sys_enter, vs the same program by hand (target:
#               within 1.2x); and `syscall.*` counting by name, with every alias in one program
#   uprobe      a counter on a user function (20,000 calls): extra cost per hit, btap
#               (process(...).function) vs bpftrace (uprobe:)
# Usage: bench/runtime_bench.sh [BUILD_DIR] [ROUNDS]; needs root; bpftrace is optional.
set -euo pipefail
build=${1:-build}
rounds=${2:-5}
btap=$build/btap
workload=$build/tests/btap_workload
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The hand-written baseline.
clang-16 -target bpf -O2 -g -I/usr/include/$(uname -m)-linux-gnu -c "$here/c/bench.bpf.c" -o "$tmp/bench.bpf.o"
cc -O2 "$here/c/runner.c" -o "$tmp/runner" -lbpf
runner="$tmp/runner $tmp/bench.bpf.o"
have_bpftrace=0
command -v bpftrace >/dev/null && have_bpftrace=1

best() {  # best "wall_ms peak_kb" of ROUNDS runs of "$@" (wall time includes time(1))
  local best_ms="" best_kb=""
  for ((i = 0; i < rounds; i++)); do
    local start end
    start=$(date +%s%N)
    /usr/bin/time -f '%M' -o "$tmp/time" "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    read -r kb <"$tmp/time"
    ms=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.1f", ns / 1e6 }')
    if [[ -z $best_ms ]] || awk -v a="$ms" -v b="$best_ms" 'BEGIN { exit !(a < b) }'; then best_ms=$ms; fi
    if [[ -z $best_kb || $kb -lt $best_kb ]]; then best_kb=$kb; fi
  done
  echo "$best_ms $best_kb"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "== start-up: hello and exit (best of $rounds) =="
read -r b_ms b_kb < <(best $btap -e 'probe begin { printf("hi\n"); exit() }')
read -r c_ms c_kb < <(best $runner hello)
echo "btap      ${b_ms} ms  $((b_kb / 1024)) MB"
echo "C/libbpf  ${c_ms} ms  $((c_kb / 1024)) MB"
if ((have_bpftrace)); then
  read -r t_ms t_kb < <(best bpftrace -e 'BEGIN { printf("hi\n"); exit(); }')
  echo "bpftrace  ${t_ms} ms  $((t_kb / 1024)) MB   btap/bpftrace time $(ratio "$b_ms" "$t_ms"), memory $(ratio "$b_kb" "$t_kb")"
fi

echo "== per event: counting getppid (2,000,000 calls, best of $rounds) =="
calls=2000000
loop_ns() {  # best ns per call of the workload's loop, run by "$@"
  local best=""
  for ((i = 0; i < rounds; i++)); do
    "$@" >/dev/null 2>"$tmp/err" || true
    ns=$(awk '/^ns_per_call/ { print $2 }' "$tmp/err")
    if [[ -z $best ]] || awk -v a="$ns" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$ns; fi
  done
  echo "$best"
}
base=$(loop_ns $workload timed-getppid $calls)
extra() { awk -v a="$1" -v b="$base" 'BEGIN { printf "%.1f", a - b }'; }
per_event() {  # per_event BTAP_SCRIPT C_MODE BPFTRACE_SCRIPT: one row each, extra ns per call
  local b c t
  b=$(loop_ns $btap -c "$workload timed-getppid $calls" -e "$1")
  c=$(loop_ns $runner "$2" $workload timed-getppid $calls)
  echo "btap      +$(extra "$b") ns/event"
  echo "C/libbpf  +$(extra "$c") ns/event   btap/C $(ratio "$(extra "$b")" "$(extra "$c")")"
  if ((have_bpftrace)); then
    t=$(loop_ns bpftrace -c "$workload timed-getppid $calls" -e "$3")
    echo "bpftrace  +$(extra "$t") ns/event   btap/bpftrace $(ratio "$(extra "$b")" "$(extra "$t")")"
  fi
}
echo "untraced  ${base} ns/call"
per_event 'global n; probe kernel.trace("syscalls:sys_enter_getppid") { n++ }' count \
  'tracepoint:syscalls:sys_enter_getppid { @n = count(); }'

echo "== per event: counting getppid by task name (2,000,000 calls, best of $rounds) =="
per_event 'global c; probe kernel.trace("syscalls:sys_enter_getppid") { c[execname()]++ }' comm \
  'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); }'

echo "== syscall dispatch: counting getppid on raw_syscalls:sys_enter (2,000,000 calls, best of $rounds) =="
b=$(loop_ns $btap -c "$workload timed-getppid $calls" -e 'global n; probe syscall.getppid { n++ }')
c=$(loop_ns $runner raw $workload timed-getppid $calls)
a=$(loop_ns $btap -c "$workload timed-getppid $calls" -e 'global calls; probe syscall.* { calls[name]++ }')
echo "btap syscall.getppid  +$(extra "$b") ns/event"
echo "C/libbpf raw_tp       +$(extra "$c") ns/event   btap/C $(ratio "$(extra "$b")" "$(extra "$c")")"
echo "btap syscall.* by name +$(extra "$a") ns/event"

echo "== uprobe: counting a user function's calls (20,000 calls, best of $rounds) =="
ucalls=20000
ubase=$(loop_ns $workload timed-uprobe $ucalls)
ub=$(loop_ns $btap -c "$workload timed-uprobe $ucalls" \
  -e "global n; probe process(\"$workload\").function(\"btap_bench_call\") { n++ }")
uextra() { awk -v t="$1" -v b="$ubase" 'BEGIN { printf "%.0f", t - b }'; }
echo "untraced  ${ubase} ns/call"
echo "btap      +$(uextra "$ub") ns/hit"
if ((have_bpftrace)); then
  ut=$(loop_ns bpftrace -c "$workload timed-uprobe $ucalls" \
    -e "uprobe:$workload:btap_bench_call { @n = count(); }")
  echo "bpftrace  +$(uextra "$ut") ns/hit   btap/bpftrace $(ratio "$(uextra "$ub")" "$(uextra "$ut")")"
fi

echo "== printf: one record per getppid call (500,000 calls) =="
records=500000
rate() {  # "records/s lines" for "$@" writing one line per record to a file
  local start end
  start=$(date +%s%N)
  "$@" >"$tmp/out" 2>"$tmp/err" || true
  end=$(date +%s%N)
  local lines
  lines=$(grep -c '^record ' "$tmp/out" || true)
  awk -v n="$lines" -v ns=$((end - start)) 'BEGIN { printf "%d", n / (ns / 1e9) }'
  echo " $lines"
}
read -r b_rate b_lines < <(rate $btap -c "$workload getppid $records" \
  -e 'global n; probe kernel.trace("syscalls:sys_enter_getppid") { if (pid() == target()) printf("record %d from %s\n", ++n, execname()) }')
echo "btap      ${b_rate} records/s, $((records - b_lines)) lost $(grep -h WARNING "$tmp/err" || true)"
read -r c_rate c_lines < <(rate $runner printf $workload getppid $records)
echo "C/libbpf  ${c_rate} records/s, $((records - c_lines)) lost   btap/C $(ratio "$b_rate" "$c_rate")"
if ((have_bpftrace)); then
  read -r t_rate t_lines < <(rate bpftrace -c "$workload getppid $records" \
    -e 'tracepoint:syscalls:sys_enter_getppid /pid == cpid/ { @n++; printf("record %d from %s\n", @n, comm); }')
  echo "bpftrace  ${t_rate} records/s, $((records - t_lines)) lost   btap/bpftrace $(ratio "$b_rate" "$t_rate")"
fi
