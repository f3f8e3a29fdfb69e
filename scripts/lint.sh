#!/usr/bin/env bash
# Formats the C++ sources with clang-format (.clang-format: Google style, 100 columns).
# `lint.sh --check` only reports files that are not formatted (the test script runs it).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.h' | grep -v '^tests/golden/')
if [[ ${1:-} == --check ]]; then
  bad=()
  for f in "${files[@]}"; do
    clang-format --style=file "$f" | cmp -s - "$f" || bad+=("$f")
  done
  if ((${#bad[@]})); then
    echo "lint: not formatted (run scripts/lint.sh): ${bad[*]}" >&2
    exit 1
  fi
  echo "lint: ${#files[@]} files formatted"
else
  clang-format --style=file -i "${files[@]}"
fi
