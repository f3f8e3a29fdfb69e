#!/usr/bin/env bash
# fetch-kernel.sh - download a Debian kernel image package with apt and unpack it into the
# btap VM cache, so that run-in-vm.sh can boot it under QEMU.
#
# usage: fetch-kernel.sh [--cache DIR] [--dbg] [--keep-debs] [PACKAGE[=VERSION]]
#
#   PACKAGE     Debian binary package that holds the kernel image.
#               Default: linux-image-6.1.0-47-cloud-amd64-unsigned (Debian 12 cloud kernel:
#               KPROBES, KRETPROBES, KPROBE_EVENTS, FUNCTION_TRACER, BPF trampolines, BTF).
#   --dbg       also download the matching -dbg package (~280 MB) and extract only its
#               vmlinux (~590 MB, full DWARF + .BTF + .symtab) and the DWARF of the
#               modules the VM cases probe (DBG_MODULES); the rest is not unpacked.
#   --keep-debs keep the downloaded .deb files next to the unpacked tree.
#   --cache DIR cache root (default: $BTAP_VM_CACHE, else ${XDG_CACHE_HOME:-~/.cache}/btap/vm).
#
# Result, in $CACHE/kernel/PACKAGE/ :
#   vmlinuz      the bootable bzImage           config      the kernel's .config
#   System.map   symbol map                     release     the kernel release (uname -r)
#   root/        the unpacked package           version     the package version
#   modules/     -> root/lib/modules/RELEASE (the .ko files, for run-in-vm.sh --kmod)
#   vmlinux      (with --dbg) unstripped ELF with .debug_info, .BTF and .symtab
#   debug-modules/  (with --dbg) those modules' .ko files with DWARF, under kernel/
# and $CACHE/kernel/default -> PACKAGE, which run-in-vm.sh boots when given no --kernel.
# Prints the path of vmlinuz on stdout. Needs apt-get, dpkg-deb and tar; root is not needed
# (as root, missing package lists are fetched with 'apt-get update').
# Running it again reuses what is already unpacked.
set -euo pipefail

die() { echo "fetch-kernel.sh: $*" >&2; exit 1; }

CACHE=${BTAP_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/btap/vm}
PKG=linux-image-6.1.0-47-cloud-amd64-unsigned
DBG=0
KEEP=0
while [ $# -gt 0 ]; do
    case $1 in
        --cache) CACHE=$2; shift 2 ;;
        --cache=*) CACHE=${1#*=}; shift ;;
        --dbg) DBG=1; shift ;;
        --keep-debs) KEEP=1; shift ;;
        -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) PKG=$1; shift ;;
    esac
done

# The default ABI may leave the archive one day: then take the one the cloud metapackage
# depends on now.
if [ "$PKG" = linux-image-6.1.0-47-cloud-amd64-unsigned ] &&
   ! apt-cache show "$PKG" >/dev/null 2>&1; then
    abi=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
          sed -n 's/.*Depends: linux-image-\(.*-cloud-amd64\)$/\1/p' | head -n1)
    [ -n "$abi" ] && PKG=linux-image-$abi-unsigned
fi
NAME=${PKG%%=*}                    # package name without an optional =VERSION
DEST=$CACHE/kernel/$NAME
mkdir -p "$DEST"
cd "$DEST"

# apt-get download, as root, warns that user _apt cannot write here; tell it to stay root.
APT_OPTS=()
[ "$(id -u)" = 0 ] && APT_OPTS=(-o APT::Sandbox::User=root)

fetch_deb() {        # fetch_deb PACKAGE[=VERSION] -> prints the path of the .deb
    local want=$1 name=${1%%=*} deb
    deb=$(ls -t "$name"_*.deb 2>/dev/null | head -n1 || true)
    if [ -z "$deb" ]; then
        # A fresh machine (CI) may have no package lists yet: update them once, as root.
        apt-get download -q "${APT_OPTS[@]}" "$want" >&2 ||
            { [ "$(id -u)" = 0 ] && apt-get update -q >&2 &&
              apt-get download -q "${APT_OPTS[@]}" "$want" >&2; } ||
            die "apt-get download $want failed (run 'apt-get update' first?)"
        deb=$(ls -t "$name"_*.deb | head -n1)
    fi
    echo "$DEST/$deb"
}

if [ ! -e vmlinuz ]; then
    deb=$(fetch_deb "$PKG")
    echo "unpacking $deb" >&2
    rm -rf root.tmp && mkdir root.tmp
    dpkg-deb -x "$deb" root.tmp
    rm -rf root && mv root.tmp root
    img=$(ls root/boot/vmlinuz-* 2>/dev/null | head -n1)
    [ -n "$img" ] || die "$NAME has no /boot/vmlinuz-*; is it a kernel image package?"
    rel=${img#root/boot/vmlinuz-}
    echo "$rel" > release
    dpkg-deb -f "$deb" Version > version
    ln -sfn "$img" vmlinuz
    ln -sfn "root/boot/config-$rel" config
    ln -sfn "root/boot/System.map-$rel" System.map
    [ -d "root/lib/modules/$rel" ] && ln -sfn "root/lib/modules/$rel" modules
    [ "$KEEP" = 1 ] || rm -f "$deb"
fi
rel=$(cat release)

# The modules whose DWARF the VM cases read (paths under the modules directory).
DBG_MODULES=(kernel/drivers/block/brd.ko)
if [ "$DBG" = 1 ] && { [ ! -e vmlinux ] || [ ! -e "debug-modules/${DBG_MODULES[0]}" ]; }; then
    # linux-image-X-unsigned -> linux-image-X-dbg (same source version)
    dbgpkg=${NAME%-unsigned}-dbg
    deb=$(fetch_deb "$dbgpkg=$(cat version)")
    echo "extracting vmlinux and ${DBG_MODULES[*]} from $deb" >&2
    rm -rf dbg.tmp && mkdir dbg.tmp
    dpkg-deb --fsys-tarfile "$deb" |
        tar -x -C dbg.tmp "./usr/lib/debug/boot/vmlinux-$rel" \
            "${DBG_MODULES[@]/#/./usr/lib/debug/lib/modules/$rel/}"
    mv "dbg.tmp/usr/lib/debug/boot/vmlinux-$rel" vmlinux
    rm -rf debug-modules && mv "dbg.tmp/usr/lib/debug/lib/modules/$rel" debug-modules
    rm -rf dbg.tmp
    [ "$KEEP" = 1 ] || rm -f "$deb"
fi

ln -sfn "$NAME" "$CACHE/kernel/default"
echo "$DEST/vmlinuz"
