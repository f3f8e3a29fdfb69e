#!/usr/bin/env bash
# Downloads Debian's systemtap-common (SystemTap's tapset library) and systemtap-doc
# (its example scripts) and unpacks them into ~/.cache/btap/PACKAGE for the conformance
# tests and the parser benchmark. SystemTap itself is not installed. Idempotent, and safe to
# run twice at once: one run fetches while the other waits on the cache's lock, and a
# package is unpacked beside its place and renamed there whole.
set -euo pipefail
cache="${BTAP_CACHE:-$HOME/.cache/btap}"
mkdir -p "$cache"
exec 9>"$cache/.fetch-corpus.lock"
flock 9
work=""
trap '[[ -z $work ]] || rm -rf "$work"' EXIT

fetch() {
  local package=$1 dest="$cache/$1"
  [[ -f "$dest/.complete" ]] && return 0
  work=$(mktemp -d "$cache/fetch.XXXXXX")
  (
    cd "$work"
    if ! apt-get download "$package" >download.log 2>&1; then
      # The package lists may be missing on a fresh machine.
      if [[ $(id -u) -eq 0 ]]; then apt-get update -q >/dev/null; fi
      apt-get download "$package" >download.log 2>&1 || { cat download.log >&2; exit 1; }
    fi
    dpkg-deb -x "$package"_*.deb unpacked
    touch unpacked/.complete
  )
  rm -rf "$dest"
  mv "$work/unpacked" "$dest"
  rm -rf "$work"
  work=""
  echo "corpus: $package: $(find "$dest" -name '*.stp' -o -name '*.stpm' | wc -l) scripts in $dest"
}

fetch systemtap-common
test -d "$cache/systemtap-common/usr/share/systemtap/tapset"
fetch systemtap-doc
test -d "$cache/systemtap-doc/usr/share/systemtap/examples"
