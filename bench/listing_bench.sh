#!/usr/bin/env bash
# Listing speed against bpftrace, as ratios measured in one run (best of N each):
#   btap -l 'kernel.trace("*")'  vs  bpftrace -l 'tracepoint:*'
#   btap -L 'kernel.trace("*")'  vs  bpftrace -lv 'tracepoint:*'
#   btap -l/-L 'kernel.function("*")' (BTF) and -L of a ~1,000-function pattern  vs
#   bpftrace -l 'kfunc:*' / -lv 'kfunc:vmlinux:s*' (targets: < 0.5 s each)
#   btap -l/-L 'process("P").function("*")' over the test program with 10,000 functions
#   (DWARF) and /usr/bin/bash (symbols)  vs  bpftrace -l 'uprobe:P:*' (target: < 300 ms)
# Usage: bench/listing_bench.sh [BTAP] [ROUNDS] [MANY_FUNCTIONS]; needs root (tracefs);
# bpftrace optional; MANY_FUNCTIONS defaults to build/tests/many_functions.
set -euo pipefail
btap=${1:-build/btap}
rounds=${2:-5}
many=${3:-$(dirname "$btap")/tests/many_functions}

best_ms() {  # best wall time in ms of running "$@" ROUNDS times, output discarded
  local best=""
  for ((i = 0; i < rounds; i++)); do
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1 || true
    end=$(date +%s%N)
    local ms=$(((end - start) / 1000))
    if [[ -z $best || $ms -lt $best ]]; then best=$ms; fi
  done
  printf '%d.%03d' $((best / 1000)) $((best % 1000))
}

lines=$("$btap" -l 'kernel.trace("*")' | wc -l)
echo "tracepoints: $lines"
bl=$(best_ms "$btap" -l 'kernel.trace("*")')
bL=$(best_ms "$btap" -L 'kernel.trace("*")')
echo "btap -l: ${bl} ms   btap -L: ${bL} ms"
if command -v bpftrace >/dev/null; then
  tl=$(best_ms bpftrace -l 'tracepoint:*')
  tL=$(best_ms bpftrace -lv 'tracepoint:*')
  echo "bpftrace -l: ${tl} ms   bpftrace -lv: ${tL} ms"
  awk -v a="$bl" -v b="$tl" -v c="$bL" -v d="$tL" \
    'BEGIN { printf "ratio btap/bpftrace: -l %.2f   -L %.2f\n", a / b, c / d }'
else
  echo "bpftrace not installed: no ratio"
fi

# Kernel functions from BTF: the whole list, and -L of a pattern of about 1,000.
lines=$("$btap" -l 'kernel.function("*")' | wc -l)
some=$("$btap" -l 'kernel.function("s*")' | wc -l)
kl=$(best_ms "$btap" -l 'kernel.function("*")')
kL=$(best_ms "$btap" -L 'kernel.function("s*")')
echo "kernel functions: $lines; btap -l: ${kl} ms   btap -L of $some (s*): ${kL} ms"
# bpftrace lists kernel functions only where the kernel has fentry (kfunc) or lets it read
# available_filter_functions (kprobe); elsewhere a ratio would compare against nothing.
if command -v bpftrace >/dev/null; then
  theirs=$( (bpftrace -l 'kfunc:*' 2>/dev/null || true) | wc -l)
  if ((theirs > 1000)); then
    fl=$(best_ms bpftrace -l 'kfunc:*')
    fL=$(best_ms bpftrace -lv 'kfunc:vmlinux:s*')
    echo "bpftrace -l kfunc:*: ${fl} ms   bpftrace -lv kfunc:vmlinux:s*: ${fL} ms"
    awk -v a="$kl" -v b="$fl" -v c="$kL" -v d="$fL" \
      'BEGIN { printf "ratio btap/bpftrace: -l %.2f   -L %.2f\n", a / b, c / d }'
  else
    echo "bpftrace lists $theirs kernel functions here (no fentry): no ratio"
  fi
fi

# User-space functions: DWARF (10,000 functions) and a symbol table (bash).
for program in "$many" /usr/bin/bash; do
  [[ -x $program ]] || { echo "$program: not built, skipped"; continue; }
  lines=$("$btap" -l "process(\"$program\").function(\"*\")" | wc -l)
  ul=$(best_ms "$btap" -l "process(\"$program\").function(\"*\")")
  uL=$(best_ms "$btap" -L "process(\"$program\").function(\"*\")")
  echo "$program: $lines functions; btap -l: ${ul} ms   btap -L: ${uL} ms"
  if command -v bpftrace >/dev/null; then
    ut=$(best_ms bpftrace -l "uprobe:$program:*")
    echo "  bpftrace -l uprobe: ${ut} ms"
    awk -v a="$ul" -v b="$ut" 'BEGIN { printf "  ratio btap -l / bpftrace -l: %.2f\n", a / b }'
  fi
done

# Kernel DWARF: one function's -L through the -dbg vmlinux that tests/vm/fetch-kernel.sh
# --dbg fetches (target: under 1 s; only its unit is read).
kdir=$HOME/.cache/btap/vm/kernel/default
if [[ -f $kdir/vmlinux ]]; then
  kd=$(best_ms "$btap" -r "$kdir" -L 'kernel.function("vfs_read")')
  ks=$(best_ms "$btap" -r "$kdir" -L 'kernel.statement("vfs_read@fs/read_write.c:464")')
  echo "kernel DWARF: btap -L one function: ${kd} ms   -L one statement: ${ks} ms"
else
  echo "kernel DWARF: $kdir/vmlinux missing (tests/vm/fetch-kernel.sh --dbg), skipped"
fi
