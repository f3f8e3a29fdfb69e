#!/usr/bin/env bash
# The compiled-object cache (DESIGN decision 10): a cache miss (passes 1-5, the object
# stored) against a hit (the object read back, pass 5 only), for
#   hello     `probe begin { printf("hi\n"); exit() }`
#   strace    `probe syscall.* { printf("%s(%s)\n", name, argstr) }`, stopped by a begin
#             probe's exit() as soon as it is attached
# each as a whole run and up to the object alone (-p4 -o /dev/null), best of ROUNDS, in a
# private cache folder. Usage: bench/cache_bench.sh [BUILD_DIR] [ROUNDS]; needs root.
set -euo pipefail
build=${1:-build}
rounds=${2:-5}
btap=$build/btap
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export BTAP_CACHE=$tmp/objects

best_ms() {  # best wall time (ms) of ROUNDS runs of "$@"; "miss" empties the cache first
  local mode=$1 best=""
  shift
  for ((i = 0; i < rounds; i++)); do
    [[ $mode == miss ]] && "$btap" --clean-cache
    local start end
    start=$(date +%s%N)
    "$@" >/dev/null 2>&1
    end=$(date +%s%N)
    local ms=$(((end - start) / 100000))
    if [[ -z $best ]] || ((ms < best)); then best=$ms; fi
  done
  awk -v t="$best" 'BEGIN { printf "%.1f", t / 10 }'
}

hello='probe begin { printf("hi\n"); exit() }'
strace='probe syscall.* { printf("%s(%s)\n", name, argstr) } probe begin { exit() }'

printf '%-8s %-8s %12s %12s %8s\n' script what miss_ms hit_ms ratio
for name in hello strace; do
  script=${!name}
  for what in run object; do
    args=(-e "$script")
    [[ $what == object ]] && args=(-p4 -o /dev/null -e "$script")
    miss=$(best_ms miss "$btap" "${args[@]}")
    "$btap" "${args[@]}" >/dev/null 2>&1  # fill the entry
    hit=$(best_ms hit "$btap" "${args[@]}")
    ratio=$(awk -v a="$miss" -v b="$hit" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')
    printf '%-8s %-8s %12s %12s %7sx\n' "$name" "$what" "$miss" "$hit" "$ratio"
  done
done
du -sh "$BTAP_CACHE" | awk '{ print "cache size: " $1 }'
