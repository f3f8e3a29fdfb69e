# Sourced by the benchmarks that time the workload's loop (runtime_bench.sh,
# embedded_c_bench.sh); they set `rounds` and `tmp`.
# loop_ns CMD...: the best nanoseconds per call of the workload's loop over `rounds` runs
# of CMD (which runs it, traced or not; the workload prints `ns_per_call N` on stderr).
loop_ns() {
  local best="" ns
  for ((i = 0; i < rounds; i++)); do
    "$@" >/dev/null 2>"$tmp/err" || true
    ns=$(awk '/^ns_per_call/ { print $2 }' "$tmp/err")
    if [[ -z $best ]] || awk -v a="$ns" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$ns; fi
  done
  echo "$best"
}
# loop_once VAR CMD...: runs CMD once; VAR keeps the least nanoseconds per call so far.
# Rows that compare programs call it round by round, each program in turn, so that a
# change of the machine's load falls on all of them alike.
loop_once() {
  local -n least=$1
  shift
  local ns
  "$@" >/dev/null 2>"$tmp/err" || true
  ns=$(awk '/^ns_per_call/ { print $2 }' "$tmp/err")
  if [[ -n $ns ]] && { [[ -z $least ]] || awk -v a="$ns" -v b="$least" 'BEGIN { exit !(a < b) }'; }; then
    least=$ns
  fi
}
