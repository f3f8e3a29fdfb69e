#!/usr/bin/env bash
# run-in-vm.sh - run one command as root inside a throwaway QEMU virtual machine (TCG).
#
# usage: run-in-vm.sh [options] -- COMMAND [ARGS...]
#
# Boots a stock kernel (see fetch-kernel.sh) on a root file system made of
#   * busybox, which provides /bin/sh and the usual tools (all of its applets),
#   * COMMAND itself, when it is a host program that busybox does not provide,
#   * every --add PATH; an ELF program or library comes with all the shared libraries
#     `ldd` lists for it and the dynamic loader, at their host paths,
#   * a small /init that mounts proc, sysfs, devtmpfs, tracefs, debugfs, bpffs and cgroup2,
#     sets `ulimit -l unlimited`, loads the --kmod modules, runs COMMAND and powers off.
# COMMAND runs as root with stdin from /dev/null, in the guest directory of the same path
# as the host's current directory (created if missing). Its stdout and stderr reach this
# script's stdout and stderr as they are written (through virtio-serial ports, or the
# VM's 2nd and 3rd serial ports, see --output); the VM console (kernel log, on ttyS0)
# goes to a log that is shown with --console or when the VM fails. /init reports
# COMMAND's exit status on the console as a marker line ("VMH-EXIT-STATUS=N NONCE") and
# this script exits with it. The kernel runs with oops=panic, so an oops ends the VM.
#
# The root file system is one of
#   initramfs  a cpio archive unpacked into RAM: no kernel modules needed, but the guest
#              needs about 2 x its size in RAM and unpacking costs ~2 s per 100 MiB (TCG);
#   disk       an ext4 image on a virtio-blk disk (QEMU snapshot=on: writes are thrown
#              away), read on demand. A tiny initramfs loads virtio_pci + virtio_blk from
#              the kernel's modules/ directory (if it has them) and switches to it.
# --rootfs auto (default) picks disk when the files add up to more than 64 MiB and the
# modules are there, otherwise initramfs. Images are cached in $CACHE/images, keyed by
# the sha256 of everything in them (contents, modes, paths, /init, format), so only the
# first run with a given set of files pays for building. Per-file hashes are remembered
# by (device, inode, size, mtime, ctime) in $CACHE/hashes. The command line travels in a
# tiny uncompressed cpio archive put in front of the cached initramfs for each run,
# together with the --put files.
#
# Options:
#   --kernel FILE     bzImage to boot (default: $BTAP_VM_KERNEL, else $CACHE/kernel/default/vmlinuz
#                     as set up by fetch-kernel.sh)
#   --mem MB          guest RAM in MiB (default: 512 for disk; for initramfs at least
#                     256 + 2 x unpacked size + archive size)
#   --smp N           virtual CPUs (default 1; with N > 1 TCG uses N host threads)
#   --timeout S       wall-clock limit for the whole VM in seconds (default 600); exit 124
#   --add PATH[:GUEST]  put host file or directory PATH into the VM at GUEST (default: the
#                     same absolute path). Repeatable. Directories are copied recursively
#                     with symlinks followed; ELF files, in directories too, bring the
#                     shared libraries ldd finds for them (not those they dlopen()).
#   --put PATH[:GUEST]  like --add, but PATH travels in the per-run archive instead of the
#                     cached image (the shared libraries of an ELF file still go to the
#                     image): for small files that change from run to run, such as test
#                     inputs or a freshly built program, so that the image is not rebuilt.
#   --kmod NAME       insmod kernel module NAME, after the modules it depends on, from the
#                     kernel's modules directory before COMMAND runs. Repeatable.
#   --moddir DIR      that directory (default: modules/ next to the kernel, as laid out by
#                     fetch-kernel.sh, or ../lib/modules/RELEASE from a boot/vmlinuz-RELEASE)
#   --rootfs R        auto (default), initramfs or disk, see above
#   --env NAME=VALUE  environment variable for COMMAND. Repeatable.
#   --append ARGS     extra kernel command line (e.g. nokaslr)
#   --output O        how COMMAND's output leaves the VM: virtio (virtio-serial ports,
#                     ~30 MB/s, needs the virtio_pci and virtio_console modules), serial
#                     (16550 ports ttyS1/ttyS2, ~250 KB/s under TCG, no modules) or auto
#                     (default: virtio when the modules are there)
#   --compress C      initramfs compression: lz4 (default), zstd, gzip or none
#   --accel A         QEMU accelerator (default tcg; kvm does not work on every host)
#   --qemu-arg ARG    extra QEMU argument. Repeatable.
#   --console         copy the VM console (kernel messages) to stderr while it runs
#   --keep            keep the per-run directory (console.log, initrd) and print its path
#   -h, --help        show this text
#
# Exit status: COMMAND's exit status (128+N when killed by signal N); 124 when the VM hit
# --timeout; 125 when the VM ended without reporting a status (kernel panic, oops - the
# kernel runs with oops=panic -, initramfs too big for --mem, QEMU or harness error); the
# tail of the console log is then printed to stderr.
#
# Environment: BTAP_VM_CACHE (cache root, default ${XDG_CACHE_HOME:-~/.cache}/btap/vm),
# BTAP_VM_CACHE_MB (images kept, least recently used dropped first; default 1024), BTAP_VM_KERNEL,
# BTAP_VM_QEMU (default qemu-system-x86_64), BTAP_VM_BUSYBOX (default: busybox in PATH).
#
# Needs: bash 4.3, qemu-system-x86, busybox (busybox-static is best), cpio, ldd, coreutils
# (sha256sum, timeout, stat), mkfs.ext4 (e2fsprogs >= 1.43) for disk, lz4/zstd/gzip.
# shellcheck disable=SC2034,SC2178,SC2054  # (arrays used through namerefs; QEMU's commas)
set -euo pipefail

VMH_FORMAT=2          # bump when the image layout or /init changes (invalidates the cache)

die() { echo "run-in-vm.sh: $*" >&2; exit 125; }
usage() { sed -n '2,/^# shellcheck/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

# ----------------------------------------------------------------------------- options
CACHE=${BTAP_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btap/vm}
KERNEL=${BTAP_VM_KERNEL:-}
QEMU=${BTAP_VM_QEMU:-qemu-system-x86_64}
BUSYBOX=${BTAP_VM_BUSYBOX:-$(command -v busybox || true)}
MEM='' MODDIR='' SMP=1 TIMEOUT=600 APPEND='' COMPRESS=lz4 ROOTFS=auto OUTPUT=auto ACCEL=tcg
CONSOLE=0 KEEP=0
ADDS=() PUTS=() KMODS=() ENVS=() QEMU_ARGS=()

need_arg() { [ $# -ge 2 ] || die "option $1 needs an argument"; }
while [ $# -gt 0 ]; do
    case $1 in
        --kernel)   need_arg "$@"; KERNEL=$2; shift 2 ;;
        --mem)      need_arg "$@"; MEM=$2; shift 2 ;;
        --smp)      need_arg "$@"; SMP=$2; shift 2 ;;
        --timeout)  need_arg "$@"; TIMEOUT=$2; shift 2 ;;
        --add)      need_arg "$@"; ADDS+=("$2"); shift 2 ;;
        --put)      need_arg "$@"; PUTS+=("$2"); shift 2 ;;
        --kmod)     need_arg "$@"; KMODS+=("$2"); shift 2 ;;
        --moddir)   need_arg "$@"; MODDIR=$2; shift 2 ;;
        --rootfs)   need_arg "$@"; ROOTFS=$2; shift 2 ;;
        --output)   need_arg "$@"; OUTPUT=$2; shift 2 ;;
        --env)      need_arg "$@"; ENVS+=("$2"); shift 2 ;;
        --append)   need_arg "$@"; APPEND="$APPEND $2"; shift 2 ;;
        --compress) need_arg "$@"; COMPRESS=$2; shift 2 ;;
        --accel)    need_arg "$@"; ACCEL=$2; shift 2 ;;
        --qemu-arg) need_arg "$@"; QEMU_ARGS+=("$2"); shift 2 ;;
        --console)  CONSOLE=1; shift ;;
        --keep)     KEEP=1; shift ;;
        -h|--help)  usage; exit 0 ;;
        --)         shift; break ;;
        *)          die "unknown option '$1' (COMMAND goes after --; see --help)" ;;
    esac
done
[ $# -ge 1 ] || { usage >&2; exit 125; }

[ -n "$KERNEL" ] || KERNEL=$CACHE/kernel/default/vmlinuz
[ -r "$KERNEL" ] || die "no kernel at $KERNEL (run fetch-kernel.sh, or pass --kernel)"
[ -n "$BUSYBOX" ] && [ -x "$BUSYBOX" ] || die "busybox not found (apt-get install busybox-static)"
command -v "$QEMU" >/dev/null || die "$QEMU not found (apt-get install qemu-system-x86)"
case $COMPRESS in
    lz4)  COMPRESSOR=(lz4 -l -q -c) ;;        # -l: the legacy frame format the kernel reads
    zstd) COMPRESSOR=(zstd -q -c -T0 -3) ;;
    gzip) COMPRESSOR=(gzip -c -6) ;;
    none) COMPRESSOR=(cat) ;;
    *) die "--compress must be lz4, zstd, gzip or none" ;;
esac
command -v "${COMPRESSOR[0]}" >/dev/null || die "${COMPRESSOR[0]} not found"
case $ROOTFS in auto|initramfs|disk) ;; *) die "--rootfs must be auto, initramfs or disk" ;; esac
case $OUTPUT in auto|virtio|serial) ;; *) die "--output must be auto, virtio or serial" ;; esac
for v in "$SMP" "$TIMEOUT" ${MEM:+"$MEM"}; do
    case $v in ''|*[!0-9]*) die "--smp, --timeout and --mem take whole numbers" ;; esac
done

# --------------------------------------------------------------- building a file list
# A file list is an associative array: [guest path]=host path. Files are copied with
# symlinks dereferenced. add_* put files in the list named by $LIST, and the shared
# libraries of ELF files in the list named by $LIBLIST.
declare -A FILES=() PUTF=() BOOT=()  # cached root file system; per-run files (--put);
LIST=FILES LIBLIST=FILES             # the boot initramfs of the disk mode

is_elf() { [ "$(LC_ALL=C head -c 4 "$1" 2>/dev/null)" = $'\177ELF' ]; }

add_file() {            # add_file HOSTPATH GUESTPATH
    local -n l=$LIST
    case $2 in *$'\n'*) die "newline in path '$2'" ;; esac
    l[$2]=$1
}

add_elf() {             # add_elf HOSTPATH GUESTPATH: the file, its libraries, the loader
    local -n l=$LIBLIST
    local lib
    add_file "$1" "$2"
    # ldd prints 'name => /path (addr)', '/path/ld-linux.so (addr)', 'name => not found'
    while read -r lib; do
        case $lib in
            NOTFOUND*) die "$1 needs ${lib#NOTFOUND } which ldd cannot find" ;;
            /*) [ -n "${l[$lib]:-}" ] || l[$lib]=$lib ;;
        esac
    done < <(ldd "$1" 2>/dev/null | awk '
        $2 == "=>" && $3 ~ /^\// { print $3; next }
        $2 == "=>" && $3 == "not" { print "NOTFOUND " $1; next }
        $1 ~ /^\// { print $1 }')
}

add_path() {            # add_path HOSTPATH GUESTPATH: a file, an ELF file or a directory
    local src=$1 dst=$2 f
    [ -e "$src" ] || die "--add: $src does not exist"
    if [ -d "$src" ]; then
        while IFS= read -r -d '' f; do
            add_path "$f" "$dst${f#"$src"}"
        done < <(find -L "$src" -mindepth 1 -type f -print0)
    elif is_elf "$src"; then
        add_elf "$src" "$dst"
    else
        add_file "$src" "$dst"
    fi
}

abspath() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }

add_elf "$BUSYBOX" /bin/busybox
mapfile -t APPLETS < <("$BUSYBOX" --list-full)          # e.g. bin/sh, usr/bin/awk

add_spec() {            # add_spec HOSTPATH[:GUESTPATH]
    local src=${1%%:*} dst=
    [ "$src" != "$1" ] && dst=${1#*:}
    src=$(abspath "$src")
    [ "$src" = / ] || src=${src%/}
    dst=${dst:-$src}
    [ "$dst" = / ] || dst=${dst%/}
    add_path "$src" "$dst"
}
for a in ${ADDS[@]+"${ADDS[@]}"}; do add_spec "$a"; done
LIST=PUTF
for a in ${PUTS[@]+"${PUTS[@]}"}; do add_spec "$a"; done
LIST=FILES

# COMMAND: a path is copied in (unless --add put something there); a bare name is left
# to busybox when it is an applet or to an --add'ed program in a bin directory, and is
# otherwise looked up in the host's PATH and copied in at the same path.
declare -A APPLET=()
for a in "${APPLETS[@]}"; do APPLET[${a##*/}]=1; done
CMD0=$1 CMD_DIR=
if [[ $CMD0 == */* ]]; then
    src=$(abspath "$CMD0")
    [ -n "${FILES[$src]:-}${PUTF[$src]:-}" ] || add_path "$src" "$src"
elif [ -z "${APPLET[$CMD0]:-}" ]; then
    found=
    for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
        [ -n "${FILES[$d/$CMD0]:-}${PUTF[$d/$CMD0]:-}" ] && found=1
    done
    if [ -z "$found" ]; then
        host=$(command -v -- "$CMD0" || true)
        [[ $host == /* ]] || die "$CMD0: not a busybox applet and not found in PATH"
        add_path "$host" "$host"
        CMD_DIR=${host%/*}                      # put on the guest's PATH
    fi
fi

# ------------------------------------------------------------------------ kernel modules
# Names resolve to .ko files under MODDIR, ordered so that the modules each one depends
# on (the 'depends=' field of its .modinfo) come first. Compressed .ko files: not handled.
if [ -z "$MODDIR" ]; then
    kimg=$(readlink -f "$KERNEL")
    for d in "$(dirname "$KERNEL")/modules" "${kimg%/*}/../lib/modules/${kimg##*/vmlinuz-}"; do
        [ -d "$d" ] && { MODDIR=$(readlink -f "$d"); break; }
    done
fi
declare -A KO=() KSEEN=()
if [ -n "$MODDIR" ]; then
    while IFS= read -r f; do
        b=${f##*/}; b=${b%.ko}; KO[${b//-/_}]=$f
    done < <(find "$MODDIR" -name '*.ko')
fi
kmod_order() {          # kmod_order ARRAYNAME NAME...: append the NAMEs' .ko files to
    local arr=$1; shift    # ARRAYNAME, each after those of the modules it depends on
    local -n out=$arr
    local name dep
    for name; do
        name=${name//-/_}
        [ -n "${KSEEN[$arr:$name]:-}" ] && continue
        KSEEN[$arr:$name]=1
        [ -n "${KO[$name]:-}" ] || die "--kmod: no module $name under ${MODDIR:-(no modules directory)}"
        for dep in $(tr '\0' '\n' < "${KO[$name]}" | sed -n 's/^depends=//p' | head -n1 | tr ',' ' '); do
            kmod_order "$arr" "$dep"
        done
        out+=("${KO[$name]}")
    done
}
# The command's output channel: virtio-serial ports (~30 MB/s) need virtio_pci and
# virtio_console; 16550 serial ports need nothing but carry only ~250 KB/s under TCG.
if [ "$OUTPUT" = auto ]; then
    OUTPUT=serial
    [ -n "${KO[virtio_console]:-}" ] && [ -n "${KO[virtio_pci]:-}" ] && OUTPUT=virtio
fi
KORDER=()
for m in virtio_pci virtio_console; do
    [ "$OUTPUT" = virtio ] && [ -n "${KO[$m]:-}" ] && kmod_order KORDER "$m"
done
[ ${#KMODS[@]} -eq 0 ] || kmod_order KORDER "${KMODS[@]}"
for f in ${KORDER[@]+"${KORDER[@]}"}; do add_file "$f" "/lib/modules/vmh/${f##*/}"; done

# ------------------------------------------------------------------------------- /init
# PID 1 of the guest (busybox ash). /vmh/run and /vmh/cmd are written for each run.
INIT=$(cat <<'EOF_INIT'
#!/bin/sh
# /init written by run-in-vm.sh: set up the VM, run /vmh/cmd, report its status, power off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /root /tmp /run /var/tmp
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
ln -s /proc/self/fd /dev/fd; ln -s fd/0 /dev/stdin; ln -s fd/1 /dev/stdout; ln -s fd/2 /dev/stderr
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug      # also shows tracefs at /sys/kernel/debug/tracing
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
ulimit -l unlimited                             # BPF maps are charged to memlock on old kernels
ulimit -n 65536 2>/dev/null
hostname vmh
ip link set lo up 2>/dev/null
. /vmh/run                                      # VMH_NONCE, VMH_KMODS, VMH_OUTPUT
if [ ! -e /.vmh-complete ]; then                # the last file of the archive
    echo "<2>vmh: the initramfs did not unpack completely; give the VM more --mem" > /dev/kmsg
    /bin/busybox poweroff -f; exit 1            # no status: run-in-vm.sh reports 125
fi
if [ -d /vmh/files ]; then                      # the --put files
    cp -a /vmh/files/. / && rm -rf /vmh/files
fi
kfail=
for m in $VMH_KMODS; do                         # skipping those already loaded
    n=${m##*/}; n=${n%.ko}
    [ -d "/sys/module/$(echo "$n" | tr - _)" ] || insmod "$m" 2>/dev/null || kfail="$kfail $n"
done
if [ "$VMH_OUTPUT" = virtio ]; then            # virtio ports named vmh.out and vmh.err
    out= err= i=0
    while [ -z "$out" ] || [ -z "$err" ]; do
        for p in /sys/class/virtio-ports/*/name; do
            [ -r "$p" ] || continue
            d=${p%/name}; d=/dev/${d##*/}
            case $(cat "$p") in vmh.out) out=$d ;; vmh.err) err=$d ;; esac
        done
        i=$((i + 1))
        [ $i -le 100 ] || { echo "<2>vmh: no virtio ports" > /dev/kmsg; /bin/busybox poweroff -f; }
        [ -n "$out" ] && [ -n "$err" ] || sleep 0.05
    done
    exec 3<>"$out" 4<>"$err"
else                                            # ttyS1: stdout, ttyS2: stderr
    exec 3<>/dev/ttyS1 4<>/dev/ttyS2
    stty raw -echo <&3; stty raw -echo <&4      # raw: no \n -> \r\n
fi
[ -z "$kfail" ] || echo "run-in-vm.sh: in the VM, insmod failed for:$kfail" >&4
/bin/sh /vmh/cmd </dev/null >&3 2>&4 3>&- 4>&-
rc=$?
exec 3>&- 4>&-                                  # the last close waits for the ports to drain
# printk writes to the console synchronously, so the marker is out before poweroff.
echo "<2>VMH-EXIT-STATUS=$rc $VMH_NONCE" > /dev/kmsg
/bin/busybox poweroff -f
EOF_INIT
)

# Boot initramfs of the disk mode: load virtio-blk, mount /dev/vda, move the per-run
# files over and switch_root to it. @INSMOD@ is replaced by the module list.
INIT_BOOT=$(cat <<'EOF_INIT'
#!/bin/sh
# stage-1 /init written by run-in-vm.sh: mount the root disk and switch to it.
export PATH=/sbin:/bin
fail() { echo "<2>vmh: $*" > /dev/kmsg; /bin/busybox poweroff -f; exit 1; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in @INSMOD@; do insmod "$m" || fail "insmod $m failed"; done
i=0
while [ ! -b /dev/vda ]; do
    i=$((i + 1)); [ $i -le 200 ] || fail "no /dev/vda"; sleep 0.05
done
mkdir -p /newroot
mount -t ext4 /dev/vda /newroot || fail "cannot mount /dev/vda"
cp -a /vmh/. /newroot/vmh/
umount /dev /sys /proc 2>/dev/null
exec switch_root /newroot /init
EOF_INIT
)

# ------------------------------------------------------------------------ cached images
mkdir -p "$CACHE/images"
HASHDB=$CACHE/hashes
declare -A HASH=()                   # "dev:ino:size:mtime:ctime" -> sha256
[ -f "$HASHDB" ] && while read -r k h; do HASH[$k]=$h; done < "$HASHDB"

list_key() {            # list_key LISTNAME TEXT: content key of a file list + TEXT
    local -n l=$1
    local d k i todo=() ids=() dests srcs stats
    mapfile -t dests < <(printf '%s\n' "${!l[@]}" | LC_ALL=C sort)
    srcs=(); for d in "${dests[@]}"; do srcs+=("${l[$d]}"); done
    mapfile -t stats < <(stat -L -c '%d:%i:%s:%.9Y:%.9Z %a' -- "${srcs[@]}")
    for i in "${!srcs[@]}"; do
        k=${stats[$i]% *}
        [ -n "${HASH[$k]:-}" ] || { todo+=("${srcs[$i]}"); ids+=("$k"); }
    done
    if [ ${#todo[@]} -gt 0 ]; then
        i=0
        while read -r h _; do
            HASH[${ids[$i]}]=${h#\\}; echo "${ids[$i]} ${h#\\}" >> "$HASHDB"; i=$((i + 1))
        done < <(sha256sum -- "${todo[@]}")
    fi
    {
        echo "format=$VMH_FORMAT"; printf '%s\n' "$2"
        for i in "${!srcs[@]}"; do
            echo "${dests[$i]} ${stats[$i]#* } ${HASH[${stats[$i]% *}]}"
        done
    } | sha256sum | cut -c1-16
}

stage_list() {          # stage_list LISTNAME INITTEXT DIR: lay the files out in DIR
    local -n l=$1
    local d a
    for d in "${!l[@]}"; do
        mkdir -p "$3${d%/*}"
        cp -L --preserve=mode "${l[$d]}" "$3$d"
    done
    for a in "${APPLETS[@]}"; do                # busybox applet links, unless a file is there
        [ -e "$3/$a" ] || [ -L "$3/$a" ] && continue
        mkdir -p "$3/${a%/*}"
        ln -s /bin/busybox "$3/$a"
    done
    mkdir -p "$3"/{proc,sys,dev,tmp,root,run,mnt,etc,vmh}
    printf '%s\n' "$2" > "$3/init"
    chmod 755 "$3/init"
    # An ld.so.cache naming every directory that holds a copied library, so that libraries
    # the host found through RPATH or LD_LIBRARY_PATH are found in the guest as well.
    printf '%s\n' "${!l[@]}" | sed -n 's|/[^/]*\.so[^/]*$||p' | sort -u > "$3/etc/ld.so.conf"
    "$(command -v ldconfig || echo /sbin/ldconfig)" -X -r "$3" 2>/dev/null || true
    : > "$3/.vmh-complete"
}

make_image() {          # make_image LISTNAME INITTEXT cpio|ext4 -> prints the image path
    local key out stage t0 size
    t0=$(date +%s%N)
    if [ "$3" = cpio ]; then
        key=$(list_key "$1" "$2 cpio ${COMPRESSOR[*]}"); out=$CACHE/images/$key.cpio.$COMPRESS
    else
        key=$(list_key "$1" "$2 ext4"); out=$CACHE/images/$key.ext4
    fi
    if [ ! -s "$out" ]; then                    # (this runs in a $(...) subshell)
        stage=$(mktemp -d "$CACHE/images/stage.XXXXXX")
        # shellcheck disable=SC2064  # (expanded now on purpose: the locals are gone at exit)
        trap "rm -rf $(printf '%q ' "$stage" "$stage.log" "$out.tmp.$$")" EXIT
        stage_list "$1" "$2" "$stage"
        size=$(du -sk --apparent-size "$stage" | cut -f1)
        if [ "$3" = cpio ]; then               # .vmh-complete goes last
            (cd "$stage" && { find . -mindepth 1 ! -name .vmh-complete | LC_ALL=C sort
                              echo ./.vmh-complete; } | cpio -o -H newc -R 0:0 --quiet) |
                "${COMPRESSOR[@]}" > "$out.tmp.$$"
        else                                    # room for 25% + 64 MiB of writes
            mkfs.ext4 -q -F -L vmhroot -m 0 -O ^has_journal -E root_owner=0:0 \
                -d "$stage" "$out.tmp.$$" "$(( size * 5 / 4 + 65536 ))k" > "$stage.log" 2>&1 ||
                { cat "$stage.log" >&2; die "mkfs.ext4 failed"; }
            rm -f "$stage.log"
        fi
        mv -f "$out.tmp.$$" "$out"
        echo "$size" > "$out.size"              # KiB of files, for the --mem default
        rm -rf "$stage"
        echo "run-in-vm.sh: built $out ($(( size >> 10 )) MiB of files," \
             "$(( $(du -k "$out" | cut -f1) >> 10 )) MiB image)" \
             "in $(( ($(date +%s%N) - t0) / 1000000 )) ms" >&2
    fi
    echo "$out"
}

total=$(stat -L -c %s -- "${FILES[@]}" | awk '{ t += $1 } END { print t + 0 }')
if [ "$ROOTFS" = auto ]; then
    ROOTFS=initramfs
    [ "$total" -gt $(( 64 << 20 )) ] && [ -n "${KO[virtio_blk]:-}" ] && ROOTFS=disk
fi
DISK=
if [ "$ROOTFS" = disk ]; then
    DISK=$(make_image FILES "$INIT" ext4)
    # The boot initramfs: busybox and the virtio modules, if they are modules at all.
    BOOTMODS=()
    for m in virtio_pci virtio_blk; do
        [ -n "${KO[$m]:-}" ] && kmod_order BOOTMODS "$m"
    done
    LIST=BOOT LIBLIST=BOOT
    add_elf "$BUSYBOX" /bin/busybox
    ins=
    for f in ${BOOTMODS[@]+"${BOOTMODS[@]}"}; do
        add_file "$f" "/lib/modules/vmh/${f##*/}"; ins="$ins /lib/modules/vmh/${f##*/}"
    done
    BASE=$(make_image BOOT "${INIT_BOOT/@INSMOD@/$ins}" cpio)
    [ -n "$MEM" ] || MEM=512
else
    BASE=$(make_image FILES "$INIT" cpio)
    if [ -z "$MEM" ]; then
        MEM=$(( 256 + ($(cat "$BASE.size") >> 9) + ($(stat -c %s "$BASE") >> 20) ))
        [ "$MEM" -ge 512 ] || MEM=512
    fi
fi
# Keep the cache bounded: the hash memo to 20000 lines, the images to $BTAP_VM_CACHE_MB MiB
# (default 1024: a dozen images of btap), dropping the least recently used ones first.
if [ "$(wc -l < "$HASHDB")" -gt 20000 ]; then
    tail -n 10000 "$HASHDB" > "$HASHDB.$$" && mv -f "$HASHDB.$$" "$HASHDB"
fi
touch "$BASE" ${DISK:+"$DISK"}
used=0
while IFS= read -r f; do
    used=$(( used + $(du -k "$f" | cut -f1) ))
    if [ $used -gt $(( ${BTAP_VM_CACHE_MB:-1024} << 10 )) ] && [ "$f" != "$BASE" ] && [ "$f" != "${DISK:-}" ]; then
        rm -f "$f" "$f.size"
    fi
done < <(ls -t "$CACHE"/images/*.cpio.lz4 "$CACHE"/images/*.cpio.zstd "$CACHE"/images/*.cpio.gzip \
               "$CACHE"/images/*.cpio.none "$CACHE"/images/*.ext4 2>/dev/null || true)

# ------------------------------------------------------------------------- per-run part
RUN=$(mktemp -d "${TMPDIR:-/tmp}/vmh-run.XXXXXX")
QPID=
cleanup() {
    if [ -n "$QPID" ]; then kill "$QPID" 2>/dev/null || true; fi
    if [ "$KEEP" = 1 ]; then echo "run-in-vm.sh: kept $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }          # shell-quote one word: it's -> 'it'\''s'
NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
mkdir -p "$RUN/stage/vmh"
{
    echo "VMH_NONCE=$NONCE VMH_OUTPUT=$OUTPUT"
    printf 'VMH_KMODS="'
    for f in ${KORDER[@]+"${KORDER[@]}"}; do printf '/lib/modules/vmh/%s ' "${f##*/}"; done
    echo '"'
} > "$RUN/stage/vmh/run"
{
    printf 'mkdir -p %s 2>/dev/null; cd %s 2>/dev/null || cd /root\n' "$(sq "$PWD")" "$(sq "$PWD")"
    [ -n "$CMD_DIR" ] && printf 'export PATH=%s:"$PATH"\n' "$(sq "$CMD_DIR")"
    for e in ${ENVS[@]+"${ENVS[@]}"}; do
        case $e in [A-Za-z_]*=*) printf 'export %s=%s\n' "${e%%=*}" "$(sq "${e#*=}")" ;;
                   *) die "--env wants NAME=VALUE, got '$e'" ;; esac
    done
    printf 'exec'; for w in "$@"; do printf ' %s' "$(sq "$w")"; done; echo
} > "$RUN/stage/vmh/cmd"
for d in "${!PUTF[@]}"; do
    mkdir -p "$RUN/stage/vmh/files${d%/*}"
    cp -L --preserve=mode "${PUTF[$d]}" "$RUN/stage/vmh/files$d"
done
# The small uncompressed archive goes first: the kernel unpacks concatenated archives in
# order, and a compressed one (lz4 legacy in particular) is safest as the last member.
(cd "$RUN/stage" && find vmh | cpio -o -H newc -R 0:0 --quiet) > "$RUN/initrd"
cat "$BASE" >> "$RUN/initrd"

DRIVE=()
[ "$ROOTFS" = disk ] &&
    DRIVE=(-drive "file=$DISK,if=virtio,format=raw,snapshot=on,cache=unsafe")

# Serial port ttyS0 (console) -> console.log (and stderr with --console); the command's
# stdout and stderr -> our stdout and stderr, through virtio-serial ports or through
# serial ports ttyS1 and ttyS2. Each goes through a FIFO read by a background process.
if [ "$OUTPUT" = virtio ]; then
    OUTDEV=(-device virtio-serial-pci,id=vser
            -chardev file,id=out,path="$RUN/out" -device virtserialport,bus=vser.0,chardev=out,name=vmh.out
            -chardev file,id=err,path="$RUN/err" -device virtserialport,bus=vser.0,chardev=err,name=vmh.err)
else
    OUTDEV=(-chardev file,id=out,path="$RUN/out" -serial chardev:out
            -chardev file,id=err,path="$RUN/err" -serial chardev:err)
fi
mkfifo "$RUN/con" "$RUN/out" "$RUN/err"
if [ "$CONSOLE" = 1 ]; then
    (tr -d '\r' < "$RUN/con" | tee "$RUN/console.log" >&2) &
else
    (tr -d '\r' < "$RUN/con" > "$RUN/console.log") &
fi
R1=$!
cat "$RUN/out" & R2=$!
cat "$RUN/err" >&2 & R3=$!

ACCEL_OPT=$ACCEL
[ "$ACCEL" = tcg ] && [ "$SMP" -gt 1 ] && ACCEL_OPT=tcg,thread=multi
set +e
timeout -k 5 "$TIMEOUT" "$QEMU" \
    -machine pc -accel "$ACCEL_OPT" -cpu max -smp "$SMP" -m "$MEM" \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$KERNEL" -initrd "$RUN/initrd" \
    -append "console=ttyS0 quiet panic=-1 oops=panic$APPEND" \
    -chardev file,id=con,path="$RUN/con" -serial chardev:con "${OUTDEV[@]}" \
    ${DRIVE[@]+"${DRIVE[@]}"} ${QEMU_ARGS[@]+"${QEMU_ARGS[@]}"} \
    < /dev/null > "$RUN/qemu.log" 2>&1 &
QPID=$!
wait "$QPID"; QRC=$?
QPID=
set -e
# If QEMU died before opening a FIFO, its reader still blocks in open(): release it.
for f in con out err; do exec {fd}<>"$RUN/$f"; exec {fd}>&-; done
wait "$R1" "$R2" "$R3" 2>/dev/null || true

STATUS=$(grep -ao "VMH-EXIT-STATUS=[0-9]* $NONCE" "$RUN/console.log" | tail -n1 |
         sed 's/.*=\([0-9]*\) .*/\1/' || true)
if [ -n "$STATUS" ]; then
    exit "$STATUS"
fi
if [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    echo "run-in-vm.sh: VM timed out after ${TIMEOUT}s" >&2; RC=124
else
    echo "run-in-vm.sh: VM ended without an exit status from COMMAND (qemu status $QRC," \
         "$ROOTFS root, ${MEM} MiB)" >&2; RC=125
fi
# The reason comes first: a long call trace can push it out of the console's tail.
if grep -aqE 'Kernel panic|BUG:|Oops|general protection|vmh: ' "$RUN/console.log"; then
    echo "--- why the kernel stopped:" >&2
    grep -aE 'Kernel panic|BUG:|Oops|general protection|vmh: ' "$RUN/console.log" | head -n 5 >&2
fi
[ "$CONSOLE" = 1 ] || { echo "--- last console lines:" >&2; tail -n 40 "$RUN/console.log" >&2; }
[ -s "$RUN/qemu.log" ] && { echo "--- qemu:" >&2; cat "$RUN/qemu.log" >&2; }
exit "$RC"
