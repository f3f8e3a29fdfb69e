#!/usr/bin/env bash
# Downloads Debian's systemtap-common package (SystemTap's tapset library) and unpacks it
# into ~/.cache/btap/systemtap-common for the conformance test and the parser benchmark.
# SystemTap itself is not installed. Idempotent.
set -euo pipefail
cache="${BTAP_CACHE:-$HOME/.cache/btap}"
dest="$cache/systemtap-common"
if [[ -f "$dest/.complete" ]]; then exit 0; fi
mkdir -p "$cache"
work=$(mktemp -d "$cache/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-get download systemtap-common >download.log 2>&1; then
  # The package lists may be missing on a fresh machine.
  if [[ $(id -u) -eq 0 ]]; then apt-get update -q >/dev/null; fi
  apt-get download systemtap-common >download.log 2>&1 || { cat download.log >&2; exit 1; }
fi
rm -rf "$dest"
dpkg-deb -x systemtap-common_*.deb "$dest"
test -d "$dest/usr/share/systemtap/tapset"
touch "$dest/.complete"
echo "tapsets: $(find "$dest" -name '*.stp' -o -name '*.stpm' | wc -l) files in $dest"
