# Writes a C++ source holding every tapset file's bytes (run at build time by
# semantic/CMakeLists.txt): -DSRC=<tapsets dir> -DOUT=<generated .cpp>
file(GLOB_RECURSE files RELATIVE ${SRC} ${SRC}/*.stp ${SRC}/*.stpm)
list(SORT files)
set(body "")
set(table "")
set(i 0)
foreach(f ${files})
  file(READ ${SRC}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
  string(APPEND body "const char kFile${i}[] = {${bytes} 0};\n")
  string(APPEND table "    {\"${f}\", kFile${i}, ${size}},\n")
  math(EXPR i "${i} + 1")
endforeach()
file(WRITE ${OUT}.tmp "// Generated from tapsets/ by tapsets/embed.cmake; do not edit.
#include \"semantic/embedded_tapsets.h\"

namespace btap::sema {
namespace {
${body}
const EmbeddedTapset kTable[] = {
${table}    {nullptr, nullptr, 0}};
}  // namespace

std::span<const EmbeddedTapset> EmbeddedTapsets() {
  return {kTable, sizeof kTable / sizeof kTable[0] - 1};
}

}  // namespace btap::sema
")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
