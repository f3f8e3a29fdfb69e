#!/usr/bin/env bash
# The README's first command: installs what is missing (Debian 12, as root), builds
# btap, and runs an example script.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
source scripts/build-env.sh
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo
ninja -C build btap
echo "+ build/btap -p2 examples/syscall_top.stp"
./build/btap -p2 examples/syscall_top.stp
echo "+ build/btap -L 'kernel.trace(\"sched:sched_switch\")'"
./build/btap -L 'kernel.trace("sched:sched_switch")'
