#!/usr/bin/env bash
# Runtime benchmarks, side by side in one run (best of N where noted), as ratios:
#   start-up    `probe begin { printf("hi\n"); exit() }`: wall time and peak memory,
#               btap vs bpftrace vs a hand-written libbpf C program (bench/c)
#   per event   handlers on syscalls:sys_enter_getppid: the traced loop's extra cost per
#               call over the untraced loop, btap vs bpftrace vs C, for an empty handler,
#               a counter, a count by task name (c[execname()]++, a hash map keyed by the
#               name), a time stamp stored by thread (t[tid()] = local_clock_ns()) and a
#               statistic printed as @hist_log at the end (s <<< tid())
#   printf      one line per getppid call (500,000 calls): records per second and lost
#               records, btap vs bpftrace vs C
#   syscall     `probe syscall.getppid { n++ }`, which btap dispatches by number in one
#               program on raw_syscalls:sys_enter, vs the same program by hand (target:
#               within 1.2x); and `syscall.*` counting by name, with every alias in one program
#   uprobe      a counter on a user function (20,000 calls): extra cost per hit, btap
#               (process(...).function) vs C vs bpftrace (uprobe:)
# The rows that time the workload's loop run the programs they compare in turn, round by
# round (the untraced loop too), so that the machine's load falls on all of them alike;
# each row ends with the load average when it finished.
#   kernel      the per-event, syscall and uprobe rows again, by the kernel's accounting
#               (kernel.bpf_stats_enabled): ns of the handlers alone per run and per call
#               of the workload (the ratios use per call: a raw_syscalls program, as
#               btap's syscalls:* points, runs on every system call of the machine); the
#               counter, count by name, time stamp, syscall.* by name and the uprobe
#               count also against a C program doing what btap's does (raw_syscalls with
#               the compat test; every call counted by name; the -c target's tree)
#   size        the count-by-name program as the kernel holds it (xlated bytes), btap vs
#               bpftrace vs C (on syscalls:sys_enter_getppid, and on raw_syscalls as
#               btap's); btap's syscall.* counting by name; the @hist_log update
#   arrays      an element per getppid call (262,144 and 1,048,576 calls), all printed at
#               exit: the whole run, btap vs bpftrace vs C (batched reads, one sort)
#   compile     passes 1-4 of a generated script of 100 tracepoint probes (500 lines) vs
#               bpftrace's --emit-elf of the same; the strace-like syscall.* script; and
#               syscall.*, syscall.*.return
# Usage: bench/runtime_bench.sh [BUILD_DIR] [ROUNDS] [SECTION...]; needs root, and the
# kernel and size sections python3; bpftrace is optional. SECTIONs (start-up, per-event, syscall, uprobe, kernel, printf, size, arrays,
# compile)
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
# The x86-64 system calls' names by number, for count_raw_names.
sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$/  [\2] = "\1",/p' \
  /usr/include/$(uname -m)-linux-gnu/asm/unistd_64.h >"$tmp/syscall_names.h"
clang-16 -target bpf -O2 -g -I/usr/include/$(uname -m)-linux-gnu -I"$tmp" -c "$here/c/bench.bpf.c" \
  -o "$tmp/bench.bpf.o"
cc -O2 "$here/c/runner.c" -o "$tmp/runner" -lbpf
cc -O2 "$here/c/linger.c" -o "$tmp/linger"
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
# compare WORKLOAD_ARGS BTAP_SCRIPT C_MODE BPFTRACE_SCRIPT: the untraced workload, btap, C
# and bpftrace (when installed and given a script) run in turn, ROUNDS rounds; sets base
# (untraced ns per call) and b, c, t (the best ns per call of each).
compare() {
  local args=$1 i
  base="" b="" c="" t=""
  for ((i = 0; i < rounds; i++)); do
    loop_once base $workload $args
    loop_once b $btap -c "$workload $args" -e "$2"
    if [[ -n $3 ]]; then loop_once c $runner "$3" $workload $args; fi
    if ((have_bpftrace)) && [[ -n $4 ]]; then loop_once t bpftrace -c "$workload $args" -e "$4"; fi
  done
}
per_event() {  # per_event TITLE BTAP_SCRIPT C_MODE BPFTRACE_SCRIPT: extra ns per getppid call
  compare "timed-getppid $calls" "$2" "$3" "$4"
  printf '%-22s btap +%s ns   C +%s ns   btap/C %s' "$1" "$(extra "$b")" "$(extra "$c")" \
    "$(ratio "$(extra "$b")" "$(extra "$c")")"
  if [[ -n $t ]]; then
    printf '   bpftrace +%s ns   btap/bpftrace %s' "$(extra "$t")" "$(ratio "$(extra "$b")" "$(extra "$t")")"
  fi
  printf '   (untraced %s ns, load %s)\n' "$base" "$(cut -d' ' -f1 /proc/loadavg)"
}
trace='kernel.trace("syscalls:sys_enter_getppid")'
point=tracepoint:syscalls:sys_enter_getppid

if want per-event; then
  echo "== per event: extra ns per getppid call (2,000,000 calls, best of $rounds, interleaved) =="
  per_event "empty handler" "probe $trace { }" empty "$point { }"
  per_event "counter" "global n; probe $trace { n++ }" count "$point { @n = count(); }"
  per_event "count by task name" "global c; probe $trace { c[execname()]++ }" comm \
    "$point { @c[comm] = count(); }"
  per_event "time stamp by thread" "global t; probe $trace { t[tid()] = local_clock_ns() }" stamp \
    "$point { @t[tid] = nsecs; }"
  per_event "@hist_log update" \
    "global s; probe $trace { s <<< tid() } probe end { print(@hist_log(s)) }" hist \
    "$point { @s = hist(tid); }"
fi

if want syscall; then
  echo "== syscall dispatch: counting getppid on raw_syscalls:sys_enter (2,000,000 calls, best of $rounds, interleaved) =="
  per_event "syscall.getppid" 'global n; probe syscall.getppid { n++ }' raw ""
  compare "timed-getppid $calls" 'global calls; probe syscall.* { calls[name]++ }' "" ""
  echo "btap syscall.* by name +$(extra "$b") ns/event"
fi

if want uprobe; then
  echo "== uprobe: counting a user function's calls (20,000 calls, best of $rounds, interleaved) =="
  ucalls=20000
  compare "timed-uprobe $ucalls" \
    "global n; probe process(\"$workload\").function(\"btap_bench_call\") { n++ }" uprobe \
    "uprobe:$workload:btap_bench_call { @n = count(); }"
  uextra() { awk -v t="$1" -v b="$base" 'BEGIN { printf "%.0f", t - b }'; }
  printf 'uprobe count            btap +%s ns   C +%s ns   btap/C %s' "$(uextra "$b")" "$(uextra "$c")" \
    "$(ratio "$(uextra "$b")" "$(uextra "$c")")"
  if [[ -n $t ]]; then
    printf '   bpftrace +%s ns   btap/bpftrace %s' "$(uextra "$t")" "$(ratio "$(uextra "$b")" "$(uextra "$t")")"
  fi
  printf '   (untraced %s ns, load %s)\n' "$base" "$(cut -d' ' -f1 /proc/loadavg)"
fi

if want kernel; then
  # The kernel's own accounting (kernel.bpf_stats_enabled): run time of the programs a
  # tool loads per event (per run of the one run most: programs on one event all run for
  # each, and a program reached by tail call is counted in its caller's time), read while it
  # runs. It counts only the handlers, so the load of other jobs on the machine changes it
  # much less than the loop's wall time.
  echo "== kernel accounting: ns of the handlers per run and per workload call (200,000 calls, best of $rounds, interleaved; ratios per call) =="
  # The command lingers 2 s after the workload, so the figures are read at their final
  # counts while the programs are still loaded; the per-call figure is the programs' run
  # time while the workload ran (read by linger just before and after it), over its calls.
  stats_was=$(sysctl -n kernel.bpf_stats_enabled)
  trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_was"; rm -rf "$tmp"' EXIT  # even on a failure
  sysctl -qw kernel.bpf_stats_enabled=1
  # run_ns RUN CALL CALLS CMD...: runs CMD once (its workload under linger -s "$tmp/stats");
  # RUN keeps the least ns per run so far (the new programs' run time over the runs of the
  # one run most, read at the end), CALL the least ns per workload call (their run time
  # while the workload ran, from linger, over CALLS, the calls it made).
  run_ns() {
    local -n least_run=$1 least_call=$2
    local calls=$3
    shift 3
    local before pid last="" sample per_call="" ids=""
    rm -f "$tmp/stats"
    before=$(python3 "$here/bpf_progs.py" | python3 -c 'import json,sys; print(" ".join(str(p["id"]) for p in json.load(sys.stdin)))')
    "$@" >/dev/null 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null; do
      sample=$(python3 "$here/bpf_progs.py" 2>/dev/null | python3 -c '
import json, sys
old = set(sys.argv[1].split())
progs = [p for p in json.load(sys.stdin) if str(p["id"]) not in old
         and p["type"] in ("tracepoint", "raw_tracepoint", "kprobe", "tracing")]
runs = max([p.get("run_cnt", 0) for p in progs] or [0])
if runs > 1000:
    print("%.1f %s" % (sum(p.get("run_time_ns", 0) for p in progs) / runs,
                       " ".join(str(p["id"]) for p in progs)))' "$before" || true)
      if [[ -n $sample ]]; then
        last=${sample%% *}
        ids=${sample#* }
      fi
      sleep 0.3
    done
    wait $pid 2>/dev/null || true
    # The same programs (linger saw them loaded when the workload started).
    [[ -s $tmp/stats && -n $ids ]] && per_call=$(awk -v ids=" $ids " -v n="$calls" '
      index(ids, " " $1 " ") > 0 { ns += $2 }
      END { if (ns > 0) printf "%.1f", ns / n }' "$tmp/stats")
    if [[ -n $last ]] && { [[ -z $least_run ]] || awk -v a="$last" -v b="$least_run" 'BEGIN { exit !(a < b) }'; }; then
      least_run=$last
    fi
    if [[ -n $per_call ]] && { [[ -z $least_call ]] || awk -v a="$per_call" -v b="$least_call" 'BEGIN { exit !(a < b) }'; }; then
      least_call=$per_call
    fi
  }
  # kernel_row TITLE WORKLOAD_ARGS BTAP_SCRIPT C_MODE BPFTRACE_SCRIPT [C_MODE_2]: C_MODE_2 is
  # a second C program, doing what btap's does where the first does less. Each program gets
  # two figures: ns per run, and ns per call of the workload (/call: the run time while it
  # ran over its calls); the ratios divide the per-call figures. They are about the same for
  # a program that runs only on the workload's calls (a syscalls:* tracepoint, a uprobe),
  # but a raw_syscalls:sys_enter program (btap's syscalls:* and syscall.* points, C's raw
  # and raw-native) runs on every system call of the machine: per run, its cheap runs on
  # other calls (a number test) dilute the cost of the getppid ones by an amount that
  # depends on the machine's load; per call, it is charged for all of them, as its user is.
  kernel_row() {
    local b="" bc="" c="" c1c="" c2="" c2c="" t="" tc="" i
    local calls=${2##* } linger="$tmp/linger -s $tmp/stats"
    for ((i = 0; i < rounds; i++)); do
      run_ns b bc "$calls" $btap -c "$linger $workload $2" -e "$3"
      run_ns c c1c "$calls" $runner "$4" $linger $workload $2
      if [[ -n ${6:-} ]]; then run_ns c2 c2c "$calls" $runner "$6" $linger $workload $2; fi
      if ((have_bpftrace)) && [[ -n $5 ]]; then
        run_ns t tc "$calls" bpftrace -c "$linger $workload $2" -e "$5"
      fi
    done
    printf '%-22s btap %s ns/run %s ns/call   C %s/run %s/call   btap/C per call %s' "$1" \
      "$b" "$bc" "$c" "$c1c" "$(ratio "$bc" "$c1c")"
    [[ -n $c2 ]] && printf '   C (%s) %s/run %s/call   btap/C per call %s' "$6" "$c2" "$c2c" \
      "$(ratio "$bc" "$c2c")"
    [[ -n $t ]] && printf '   bpftrace %s/run %s/call   btap/bpftrace per call %s' "$t" "$tc" \
      "$(ratio "$bc" "$tc")"
    printf '   (load %s)\n' "$(cut -d' ' -f1 /proc/loadavg)"
  }
  g="timed-getppid 200000"
  kernel_row "empty handler" "$g" "probe $trace { }" empty "$point { }"
  # btap dispatches syscalls:* points on raw_syscalls:sys_enter, testing the number and the
  # call's being native in the handler, which a syscalls:* tracepoint program (C's count)
  # has the kernel do outside its run time; C's raw-native does what btap's does. (Every
  # system call of the machine runs a raw_syscalls program: compare per call.)
  kernel_row "counter" "$g" "global n; probe $trace { n++ }" count "$point { @n = count(); }" \
    raw-native
  # The same for these two: C's comm-raw-native and stamp-raw-native are C's programs on
  # btap's hook, after the raw-native dispatch.
  kernel_row "count by task name" "$g" "global c; probe $trace { c[execname()]++ }" comm \
    "$point { @c[comm] = count(); }" comm-raw-native
  kernel_row "time stamp by thread" "$g" "global t; probe $trace { t[tid()] = local_clock_ns() }" \
    stamp "$point { @t[tid] = nsecs; }" stamp-raw-native
  kernel_row "@hist_log update" "$g" \
    "global s; probe $trace { s <<< tid() } probe end { print(@hist_log(s)) }" hist \
    "$point { @s = hist(tid); }"
  # syscall.* bodies skip compat calls too (their numbers are i386's): raw-native.
  kernel_row "syscall.getppid" "$g" 'global n; probe syscall.getppid { n++ }' raw "" raw-native
  # Every call's body in one program. C's raw counts getppid by number alone; raw-names
  # counts every native system call by its name, as btap's does (per call, both are
  # charged for the machine's other calls).
  kernel_row "syscall.* by name" "$g" 'global calls; probe syscall.* { calls[name]++ }' raw "" \
    raw-names
  kernel_row "uprobe empty handler" "timed-uprobe 20000" \
    "probe process(\"$workload\").function(\"btap_bench_call\") { }" uprobe-empty \
    "uprobe:$workload:btap_bench_call { }"
  # C counts every process's calls; under -c, btap (as stap) counts the target's tree only
  # (the workload is a child of the target, linger), which C's uprobe-tree does too.
  kernel_row "uprobe count" "timed-uprobe 20000" \
    "global n; probe process(\"$workload\").function(\"btap_bench_call\") { n++ }" uprobe \
    "uprobe:$workload:btap_bench_call { @n = count(); }" uprobe-tree
  sysctl -qw kernel.bpf_stats_enabled="$stats_was"
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
  # The tracepoint programs' xlated bytes among the programs process $1 holds (its
  # descriptors' prog_id), so that programs other sessions load meanwhile do not count.
  held_bytes() {
    local ids
    ids=$(grep -h '^prog_id:' /proc/"$1"/fdinfo/* 2>/dev/null | awk '{print $2}' | sort -u | tr '\n' ' ')
    python3 "$here/bpf_progs.py" | python3 -c '
import json, sys
held = set(sys.argv[1].split())
print(sum(p.get("bytes_xlated", 0) for p in json.load(sys.stdin)
          if str(p["id"]) in held and p["type"] in ("tracepoint", "raw_tracepoint")))' "$ids"
  }
  xlated() {  # xlated bytes of the tracepoint programs "$@" loads (running in the background)
    "$@" >/dev/null 2>&1 &
    local pid=$! bytes=0 i
    # Until the programs are loaded (syscall.* takes a few seconds to compile), then the
    # total once every program has been counted.
    for ((i = 0; i < 60; i++)); do
      sleep 0.5
      bytes=$(held_bytes $pid)
      ((bytes > 0)) && break
    done
    sleep 1
    held_bytes $pid
    # TERM: a background job of a script without job control ignores SIGINT, and the
    # tools here kept running on it.
    kill -TERM $pid 2>/dev/null || true
    wait $pid 2>/dev/null || true
  }
  b=$(xlated $btap -e 'global c; probe kernel.trace("syscalls:sys_enter_getppid") { c[execname()]++ }')
  c=$(xlated $runner comm sleep 10)
  # btap's point is a body of its raw_syscalls:sys_enter program; C's comm-raw-native is the
  # same dispatch and C's count.
  c2=$(xlated $runner comm-raw-native sleep 10)
  echo "btap      $b bytes"
  echo "C/libbpf  $c bytes   btap/C $(ratio "$b" "$c")"
  echo "C/libbpf on raw_syscalls (comm-raw-native) $c2 bytes   btap/C $(ratio "$b" "$c2")"
  if ((have_bpftrace)); then
    t=$(xlated bpftrace -e 'tracepoint:syscalls:sys_enter_getppid { @c[comm] = count(); }')
    echo "bpftrace  $t bytes   btap/bpftrace $(ratio "$b" "$t")"
  fi
  echo "btap syscall.* by name (every call's body) $(xlated $btap -e 'global calls; probe syscall.* { calls[name]++ }') bytes"
  # A statistic read by @hist_log alone: btap updates its count and one bucket; C's hist
  # keeps count, sum, minimum and maximum too.
  b=$(xlated $btap -e "global s; probe $trace { s <<< tid() } probe end { print(@hist_log(s)) }")
  c=$(xlated $runner hist sleep 10)
  echo "@hist_log update: btap $b bytes   C/libbpf (hist) $c bytes   btap/C $(ratio "$b" "$c")"
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
