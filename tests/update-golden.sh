#!/usr/bin/env bash
# Rewrites the golden expectations from the current build; review with `git diff`.
set -euo pipefail
cd "$(dirname "$0")/.."
BTAP_UPDATE_GOLDEN=1 build/tests/btap_tests --gtest_filter='Golden.*'
git status --short tests/golden
