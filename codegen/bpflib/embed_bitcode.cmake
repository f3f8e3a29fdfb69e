# Writes a C++ source holding a bitcode file's bytes: -DIN=<file.bc> -DOUT=<file.cpp>
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR size "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
file(WRITE ${OUT}.tmp "// Generated from the BPF runtime library by embed_bitcode.cmake; do not edit.
#include \"codegen/bpflib.h\"

namespace btap::codegen {
namespace {
alignas(8) const unsigned char kBitcode[] = {${bytes}};
}  // namespace

std::span<const unsigned char> RuntimeLibraryBitcode() { return {kBitcode, ${size}}; }

}  // namespace btap::codegen
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
