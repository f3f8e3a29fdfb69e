#!/usr/bin/env bash
# The README's second command (and CI's): installs what is missing, then builds and runs
# every test: unit, golden, stress and conformance tests in a -Werror build and in an
# ASan/UBSan build, and one-minute libFuzzer runs of the frontend and the object reader.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
tests/fetch-corpus.sh
source scripts/build-env.sh

# ctest in DIR; on failure the failing checks are printed again at the very end, where a
# log cut to its head and tail still shows them.
run_ctest() {           # run_ctest DIR CTEST-ARGS...
    local dir=$1; shift
    (cd "$dir" && ctest --output-on-failure "$@") && return 0
    echo "== what failed in $dir (from $dir/Testing/Temporary/LastTest.log)"
    awk '/: Failure$/ { n = 25 }
         /^\[  FAILED  \]|^FAIL / { print; n = 0; next }
         n > 0 { print; n-- }' "$dir/Testing/Temporary/LastTest.log" | head -n 200
    return 1
}
bash scripts/lint.sh --check
python3 tools/tapset-docs.py --check
python3 tools/tapset-locals.py

echo "== fuzz build (clang, libFuzzer, ASan, UBSan)"
configure build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBTAP_FUZZ=ON -DBTAP_WERROR=ON \
  -DCMAKE_CXX_FLAGS="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined"
ninja -C build-fuzz fuzz_frontend fuzz_object

echo "== sanitizer build (ASan, UBSan)"
configure build-asan -DCMAKE_BUILD_TYPE=Debug -DBTAP_SANITIZE=ON -DBTAP_WERROR=ON
ninja -C build-asan btap_tests
run_ctest build-asan -R 'unit|fetch_corpus|conformance'

echo "== release build"
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBTAP_WERROR=ON \
  -DBTAP_FUZZER="$PWD/build-fuzz/tests/fuzz/fuzz_frontend" \
  -DBTAP_OBJECT_FUZZER="$PWD/build-fuzz/tests/fuzz/fuzz_object"
ninja -C build
python3 tools/tapset-coverage.py --check
run_ctest build
