#!/usr/bin/env bash
# selftest.sh - checks that run-in-vm.sh works on this machine: exit statuses, output
# channels, quoting, a timeout, a kernel panic, a missing QEMU, and the guest kernel's
# kprobe support. Run fetch-kernel.sh once before. Prints one line per check and a
# closing 'N passed, M failed'; exits non-zero when any check failed.
set -u
H=$(cd "$(dirname "$0")" && pwd)/run-in-vm.sh
pass=0 fail=0
check() {               # check NAME EXPECTED-STATUS GREP-PATTERN RUN-IN-VM-ARGS...
    local name=$1 want=$2 pat=$3 out rc t0=$SECONDS
    shift 3
    out=$("$H" "$@" 2>&1); rc=$?
    if [ "$rc" = "$want" ] && { [ -z "$pat" ] || grep -Eq -- "$pat" <<< "$out"; }; then
        pass=$((pass + 1)); echo "ok   $name ($((SECONDS - t0)) s)"
    else
        fail=$((fail + 1)); echo "FAIL $name: status $rc (want $want), output:"; sed 's/^/    /' <<< "$out"
    fi
}
cd "${TMPDIR:-/tmp}" || exit 1
# No boot: the reason comes first, with the package to install.
BTAP_VM_QEMU=/nonexistent/qemu check "a missing QEMU is 125 and says so" 125 \
    'qemu not found \(apt-get install qemu-system-x86\)' -- true
check "a missing kernel is 125 and says so" 125 'no kernel at /nonexistent' \
    --kernel /nonexistent/vmlinuz -- true
check "exit status 3 comes out as 3" 3 '^out$' -- sh -c 'echo out; exit 3'
check "stderr is passed through" 0 '^err$' -- sh -c 'echo err >&2'
check "arguments keep their quoting" 0 "^\[it's a \"x\"\]$" -- printf '[%s]\n' "it's a \"x\""
check "signal death is 128+N" 137 '' -- sh -c 'kill -9 $$'
check "kernel panic is 125" 125 'sysrq triggered crash' -- sh -c 'echo c > /proc/sysrq-trigger'
check "timeout is 124" 124 'timed out' --timeout 15 -- sleep 60
check "tracefs, debugfs, bpffs, BTF; memlock unlimited" 0 '^unlimited$' -- sh -c \
    'grep -q " /sys/kernel/tracing tracefs" /proc/mounts && grep -q " /sys/fs/bpf bpf" /proc/mounts &&
     grep -q " /sys/kernel/debug debugfs" /proc/mounts && [ -r /sys/kernel/btf/vmlinux ] && ulimit -l'
check "the guest kernel has kprobes" 0 'vmh_vfs_read' -- sh -c \
    'echo "p:vmh_vfs_read vfs_read count=%dx" > /sys/kernel/tracing/kprobe_events &&
     cat /sys/kernel/tracing/kprobe_events'
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
