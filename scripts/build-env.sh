# Shared by setup.sh and test.sh: the compiler and how a build tree is configured.
export CC=clang-16 CXX=clang++-16
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/btap/ccache}"

# configure DIR [CMAKE ARGS...]
configure() {
  local dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" "$@" >/dev/null
}
