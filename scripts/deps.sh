#!/usr/bin/env bash
# Installs every Debian 12 package btap builds, tests or benchmarks with, and nothing else.
# Idempotent: asks apt only for what dpkg does not already have.
set -euo pipefail

packages=(
  cmake ninja-build ccache pkg-config
  clang-16 llvm-16-dev libclang-cpp16-dev libclang-16-dev libclang-rt-16-dev
  libbpf-dev libelf-dev libdw-dev zlib1g-dev libzstd-dev liblzma-dev liblz4-dev
  systemtap-sdt-dev gcc binutils  # <sys/sdt.h>; cc, objcopy, readelf for the ELF tests
  bpftool  # to look at loaded programs by hand (no test or benchmark needs it)
  re2c bison clang-format
  googletest libgtest-dev
  # tests/vm: Debian's cloud kernel under QEMU (TCG), an initramfs or ext4 root of busybox
  qemu-system-x86 busybox-static cpio lz4 e2fsprogs python3
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "deps: must run as root to install packages" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
