#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian 12, as root), builds
# btap, and runs a real probe script: it loads BPF into the kernel, counts every system
# call for a second and prints the busiest processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
source scripts/build-env.sh
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build btap
echo "+ build/btap examples/syscalls_by_process.stp"
./build/btap examples/syscalls_by_process.stp
echo "+ build/btap -L 'kernel.trace(\"sched:sched_switch\")'"
./build/btap -L 'kernel.trace("sched:sched_switch")'
