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
#   size        the count-by-name program as the kernel holds it (xlated bytes), btap vs
#               bpftrace vs C
#   arrays      an element per getppid call (262,144 and 1,048,576 calls), all printed at
#               exit: the whole run, btap vs bpftrace vs C (batched reads, one sort)
#   compile     passes 1-4 of a generated script of 100 tracepoint probes (500 lines) vs
#               bpftrace's --emit-elf of the same; the strace-like syscall.* script; and
#               syscall.*, syscall.*.return
# Usage: bench/runtime_bench.sh [BUILD_DIR] [ROUNDS] [SECTION...]; needs root; bpftrace is
# optional. SECTIONs (start-up, per-event, syscall, uprobe, printf, size, arrays, compile)
# pick what runs; without them, everything does.
set -euo pipefail
build=${1:-build}
rounds=${2:-5}
sections=" ${*:3} "
want() { [[ $sections == "  " || $sections == *" $1 "* ]]; }
btap=$build/btap
workload=$build/tests/btap_workload
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
source "$here/loop_ns.sh"

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

if want start-up; then
  echo "== start-up: hello and exit (best of $rounds) =="
  read -r b_ms b_kb < <(best $btap -e 'probe begin { printf("hi\n"); exit() }')
  read -r c_ms c_kb < <(best $runner hello)
  echo "btap      ${b_ms} ms  $((b_kb / 1024)) MB"
  echo "C/libbpf  ${c_ms} ms  $((c_kb / 1024)) MB"
  if ((have_bpftrace)); then
    read -r t_ms t_kb < <(best bpftrace -e 'BEGIN { printf("hi\n"); exit(); }')
    echo "bpftrace  ${t_ms} ms  $((t_kb / 1024)) MB   btap/bpftrace time $(ratio "$b_ms" "$t_ms"), memory $(ratio "$b_kb" "$t_kb")"
  fi
fi

calls=2000000
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
if want per-event || want syscall; then base=$(loop_ns $workload timed-getppid $calls); fi

if want per-event; then
  echo "== per event: counting getppid (2,000,000 calls, best of $rounds) =="
  echo "untraced  ${base} ns/call"
  per_event 'global n; probe kernel.trace("syscalls:sys_enter_getppid") { n++ }' count \
    'tracepoint:syscalls:sys_enter_getppid { @n = count(); }'
fi

if want per-event; then
  echo "== per event: counting getppid by task name (2,000,000 calls, best of $rounds) =="
  per_event 'global c; probe kernel.trace("syscalls:sys_enter_getppid") { c[execname()]++ }' comm \
    'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); }'
fi

if want syscall; then
  echo "== syscall dispatch: counting getppid on raw_syscalls:sys_enter (2,000,000 calls, best of $rounds) =="
  b=$(loop_ns $btap -c "$workload timed-getppid $calls" -e 'global n; probe syscall.getppid { n++ }')
  c=$(loop_ns $runner raw $workload timed-getppid $calls)
  a=$(loop_ns $btap -c "$workload timed-getppid $calls" -e 'global calls; probe syscall.* { calls[name]++ }')
  echo "btap syscall.getppid  +$(extra "$b") ns/event"
  echo "C/libbpf raw_tp       +$(extra "$c") ns/event   btap/C $(ratio "$(extra "$b")" "$(extra "$c")")"
  echo "btap syscall.* by name +$(extra "$a") ns/event"
fi

if want uprobe; then
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
fi

if want printf; then
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
fi

if want size; then
  echo "== size: the count-by-name program, xlated bytes =="
  xlated() {  # xlated bytes of the tracepoint programs "$@" loads (running in the background)
    local before
    before=$(bpftool prog show -j | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))')
    "$@" >/dev/null 2>&1 &
    local pid=$!
    sleep 1.5
    bpftool prog show -j | python3 -c '
import json, sys
old = set(sys.argv[1].split())
progs = [p for p in json.load(sys.stdin)
         if str(p["id"]) not in old and p["type"] in ("tracepoint", "raw_tracepoint")]
print(sum(p.get("bytes_xlated", 0) for p in progs))' "$before"
    kill -INT $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  }
  b=$(xlated $btap -e 'global c; probe kernel.trace("syscalls:sys_enter_getppid") { c[execname()]++ }')
  c=$(xlated $runner comm sleep 3)
  echo "btap      $b bytes"
  echo "C/libbpf  $c bytes   btap/C $(ratio "$b" "$c")"
  if ((have_bpftrace)); then
    t=$(xlated bpftrace -e 'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); }')
    echo "bpftrace  $t bytes   btap/bpftrace $(ratio "$b" "$t")"
  fi
fi

if want arrays; then
  echo "== arrays: an element per call, all printed at exit (best of $rounds) =="
  for n in 262144 1048576; do
    printf 'global a[%d], i\nprobe kernel.trace("syscalls:sys_enter_getppid") { a[i] = i; i++ }\n' \
      $((2 * n)) >"$tmp/array.stp"
    read -r b_ms b_kb < <(best $btap -c "$workload getppid $n" "$tmp/array.stp")
    read -r c_ms c_kb < <(best $runner array $workload getppid $n)
    echo "$n keys: btap ${b_ms} ms $((b_kb / 1024)) MB; C/libbpf ${c_ms} ms $((c_kb / 1024)) MB   btap/C $(ratio "$b_ms" "$c_ms")"
    if ((have_bpftrace)); then
      export BPFTRACE_MAP_KEYS_MAX=$((2 * n))
      read -r t_ms t_kb < <(best bpftrace -c "$workload getppid $n" \
        -e 'tracepoint:syscalls:sys_enter_getppid { @a[@i] = @i; @i++; }')
      unset BPFTRACE_MAP_KEYS_MAX
      echo "$n keys: bpftrace ${t_ms} ms $((t_kb / 1024)) MB   btap/bpftrace $(ratio "$b_ms" "$t_ms")"
    fi
  done
fi

if want compile; then
  echo "== compile: passes 1-4, no object cache (best of $rounds) =="
  events=/sys/kernel/tracing/available_events
  [[ -r $events ]] || mount -t tracefs nodev /sys/kernel/tracing
  sed -n '/^syscalls:sys_enter_/{s/^syscalls://;p}' "$events" | sed -n '1,100p' >"$tmp/points"
  {
    echo "global counts"
    while read -r point; do
      n=${point#sys_enter_}
      printf 'probe kernel.trace("syscalls:%s") {\n  if (pid() != target()) next\n' "$point"
      printf '  counts[execname(), "%s"]++\n  printf("%%s %%d %%s\\n", "%s", tid(), execname())\n}\n' "$n" "$n"
    done <"$tmp/points"
  } >"$tmp/generated.stp"
  while read -r point; do
    n=${point#sys_enter_}
    printf 'tracepoint:syscalls:%s /pid == 1/ {\n  @counts[comm, "%s"] = count();\n' "$point" "$n"
    printf '  printf("%%s %%d %%s\\n", "%s", tid, comm);\n}\n' "$n"
  done <"$tmp/points" >"$tmp/generated.bt"
  read -r b_ms b_kb < <(best $btap -p4 --disable-cache -o /dev/null "$tmp/generated.stp")
  echo "$(wc -l <"$tmp/generated.stp")-line script, 100 probes: btap ${b_ms} ms $((b_kb / 1024)) MB"
  if ((have_bpftrace)); then
    read -r t_ms t_kb < <(best bpftrace --emit-elf "$tmp/generated.elf" "$tmp/generated.bt")
    echo "$(wc -l <"$tmp/generated.bt")-line script, 100 probes: bpftrace ${t_ms} ms $((t_kb / 1024)) MB   btap/bpftrace $(ratio "$b_ms" "$t_ms")"
  fi
  read -r b_ms b_kb < <(best $btap -p4 --disable-cache -o /dev/null -e 'probe syscall.* { printf("%s(%s)\n", name, argstr) }')
  echo "strace-like syscall.*: btap ${b_ms} ms $((b_kb / 1024)) MB"
  read -r b_ms b_kb < <(best $btap -p4 --disable-cache -o /dev/null -e 'probe syscall.*, syscall.*.return { printf("%s\n", name) }')
  echo "syscall.*, syscall.*.return: btap ${b_ms} ms $((b_kb / 1024)) MB"
fi
