#!/usr/bin/env bash
# Downloads Debian's systemtap-common (SystemTap's tapset library) and systemtap-doc
# (its example scripts) and unpacks them into ~/.cache/btap/PACKAGE for the conformance
# tests and the parser benchmark. SystemTap itself is not installed. Idempotent.
set -euo pipefail
cache="${BTAP_CACHE:-$HOME/.cache/btap}"
mkdir -p "$cache"

fetch() {
  local package=$1 dest="$cache/$1"
  [[ -f "$dest/.complete" ]] && return 0
  local work
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  (
    cd "$work"
    if ! apt-get download "$package" >download.log 2>&1; then
      # The package lists may be missing on a fresh machine.
      if [[ $(id -u) -eq 0 ]]; then apt-get update -q >/dev/null; fi
      apt-get download "$package" >download.log 2>&1 || { cat download.log >&2; exit 1; }
    fi
    rm -rf "$dest"
    dpkg-deb -x "$package"_*.deb "$dest"
  )
  rm -rf "$work"
  touch "$dest/.complete"
  echo "corpus: $package: $(find "$dest" -name '*.stp' -o -name '*.stpm' | wc -l) scripts in $dest"
}

fetch systemtap-common
test -d "$cache/systemtap-common/usr/share/systemtap/tapset"
fetch systemtap-doc
test -d "$cache/systemtap-doc/usr/share/systemtap/examples"
