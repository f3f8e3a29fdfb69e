#!/usr/bin/env bash
# kernel.lsm on a kernel booted without `bpf` among its LSMs (lsm=landlock,lockdown): the
# guest's BTF still has the bpf_lsm_* hooks, so the object compiles (on the host, for that
# kernel), but btaprun refuses it before loading, naming the probe and the boot option,
# and `btaprun -L` marks the point as not here.
# Usage: tests/vm/lsm_disabled.sh BTAP BTAPRUN [KERNEL-DIR]
set -uo pipefail
btap=$1
btaprun=$2
dir=${3:-$HOME/.cache/btap/vm/kernel/default}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%s\n' 'probe kernel.lsm("file_open") { println(1) }' 'probe timer.ms(100) { exit() }' \
  >"$work/lsm.stp"
"$btap" -p4 -r "$dir" "$work/lsm.stp" -o "$work/lsm.bo" >/dev/null || exit 1
got=$(bash "$here/run-in-vm.sh" --timeout 300 --append "lsm=landlock,lockdown" \
  --add "$btaprun:/bin/btaprun" --put "$work/lsm.bo:/lsm.bo" \
  -- sh -c 'btaprun /lsm.bo; echo "status=$?"; btaprun -L /lsm.bo' 2>&1)
want="btaprun: error: cannot probe \`kernel.lsm(\"file_open\")\` at $work/lsm.stp:1:7: BPF LSM is not enabled: boot with lsm=lockdown,capability,landlock,bpf
status=1
kernel.lsm(\"file_open\")  # not here: BPF LSM is not enabled
timer.ms(100)"
if [[ $got == *"$want"* ]]; then
  echo "ok   lsm_disabled"
else
  echo "FAIL lsm_disabled"
  diff <(echo "$want") <(echo "$got") | head -20
  exit 1
fi
