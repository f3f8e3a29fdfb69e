// The place a run-time error of btap's interpreter names, from the object's line info.
#include "runtime/btf_ext.h"

#include <gtest/gtest.h>

namespace btap::runtime {
namespace {

SourceLine Line(uint32_t instruction, uint32_t line, uint32_t column, std::string text) {
  return {instruction, "a.stp", line, column, std::move(text)};
}

TEST(NearInstruction, NamesTheTokenOfTheLastLineAtOrBeforeTheInstruction) {
  std::vector<SourceLine> lines = {Line(0, 1, 0, "probe begin {"), Line(2, 2, 3, "  while (x) {"),
                                   Line(5, 3, 5, "    total += \"a\\\"b\""), Line(9, 0, 0, ""),
                                   Line(12, 4, 14, "    total .= \"a\\\"b\" . 10")};
  EXPECT_EQ(NearInstruction(lines, 0), " at a.stp:1");
  EXPECT_EQ(NearInstruction(lines, 4), " near keyword 'while' at a.stp:2:3");
  EXPECT_EQ(NearInstruction(lines, 5), " near identifier 'total' at a.stp:3:5");
  // Code of line 0 belongs to no statement: the line before it is named.
  EXPECT_EQ(NearInstruction(lines, 10), " near identifier 'total' at a.stp:3:5");
  EXPECT_EQ(NearInstruction(lines, 12), " near string 'a\\\"b' at a.stp:4:14");
  lines.back().column = 11;
  EXPECT_EQ(NearInstruction(lines, 12), " near operator '.=' at a.stp:4:11");
  lines.back().column = 23;
  EXPECT_EQ(NearInstruction(lines, 12), " near number '10' at a.stp:4:23");
  // A column past the text (no source in the object) names the place only.
  lines.back().column = 200;
  EXPECT_EQ(NearInstruction(lines, 12), " at a.stp:4:200");
  EXPECT_EQ(NearInstruction({}, 3), "");
  EXPECT_EQ(NearInstruction({Line(4, 1, 1, "x")}, 3), "");
}

}  // namespace
}  // namespace btap::runtime
