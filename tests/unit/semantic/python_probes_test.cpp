// Python points (semantic/probes/python.cpp): the mark a point becomes and the filters
// of its prologue, from the module and function patterns.
#include "semantic/probes/python.h"

#include <gtest/gtest.h>

namespace btap::sema {
namespace {

std::vector<PointPart> Parts(std::string_view lang, std::string module, std::string function,
                             std::string_view suffix = "") {
  std::vector<PointPart> parts(3);
  parts[0].name = lang;
  parts[1].name = "module";
  parts[1].arg = ArgKind::String;
  parts[1].string = std::move(module);
  parts[2].name = "function";
  parts[2].arg = ArgKind::String;
  parts[2].string = std::move(function);
  if (!suffix.empty()) {
    parts.emplace_back();
    parts.back().name = suffix;
  }
  return parts;
}

TEST(PythonProbes, CallFiltersModuleAndFunctionAsAnchoredRegexes) {
  DiagnosticSink diags;
  PythonPoint py;
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "py*", "Scale.conv?rt"), diags, &py));
  EXPECT_EQ(py.version, 3);
  EXPECT_EQ(py.target.back().string, "python3_call");
  EXPECT_EQ(py.target[1].string, "btap_python");
  EXPECT_NE(py.prologue.find("user_string($arg2) =~ \"^py.*$\""), std::string::npos) << py.prologue;
  EXPECT_NE(py.prologue.find("user_string($arg3) =~ \"^Scale\\\\.conv.rt$\""), std::string::npos)
      << py.prologue;
  EXPECT_FALSE(diags.has_errors());
}

TEST(PythonProbes, ReturnFileAndLines) {
  DiagnosticSink diags;
  PythonPoint py;
  ASSERT_TRUE(ParsePythonPoint(Parts("python2", "*", "*", "return"), diags, &py));
  EXPECT_EQ(py.version, 2);
  EXPECT_EQ(py.target.back().string, "python2_return");
  EXPECT_EQ(py.prologue, "probe __python {\n}\n");  // `*` filters nothing
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@lib/m.py:3,7-9"), diags, &py));
  EXPECT_EQ(py.target.back().string, "python3_line");
  EXPECT_NE(py.prologue.find("user_string($arg4) =~ \"(^|/)lib/m\\\\.py$\""), std::string::npos)
      << py.prologue;
  EXPECT_NE(py.prologue.find("if (!($arg5 == 3 || ($arg5 >= 7 && $arg5 <= 9))) next"),
            std::string::npos)
      << py.prologue;
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f+2"), diags, &py));
  EXPECT_NE(py.prologue.find("($arg5 - $arg6) == 2"), std::string::npos) << py.prologue;
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@m.py:*"), diags, &py));
  EXPECT_EQ(py.target.back().string, "python3_line");
  EXPECT_EQ(py.prologue.find("$arg5"), std::string::npos) << py.prologue;
  EXPECT_FALSE(diags.has_errors());
}

TEST(PythonProbes, FileNamesMayHoldPlus) {
  DiagnosticSink diags;
  PythonPoint py;
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@a+b.py"), diags, &py));
  EXPECT_EQ(py.target.back().string, "python3_call");
  EXPECT_NE(py.prologue.find("user_string($arg4) =~ \"(^|/)a\\\\+b\\\\.py$\""), std::string::npos)
      << py.prologue;
  EXPECT_EQ(py.prologue.find("$arg5"), std::string::npos) << py.prologue;
  // Lines after such a name: the last marker's.
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@a+b.py+2"), diags, &py));
  EXPECT_EQ(py.target.back().string, "python3_line");
  EXPECT_NE(py.prologue.find("user_string($arg4) =~ \"(^|/)a\\\\+b\\\\.py$\""), std::string::npos)
      << py.prologue;
  EXPECT_NE(py.prologue.find("($arg5 - $arg6) == 2"), std::string::npos) << py.prologue;
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@x+y/a+b.py:4-5"), diags, &py));
  EXPECT_NE(py.prologue.find("user_string($arg4) =~ \"(^|/)x\\\\+y/a\\\\+b\\\\.py$\""),
            std::string::npos)
      << py.prologue;
  EXPECT_NE(py.prologue.find("($arg5 >= 4 && $arg5 <= 5)"), std::string::npos) << py.prologue;
  EXPECT_FALSE(diags.has_errors());
  // `:` always marks lines: bad ones after it are still an error.
  ASSERT_TRUE(ParsePythonPoint(Parts("python3", "m", "f@a+b.py:x"), diags, &py));
  EXPECT_EQ(py.version, 0);
  EXPECT_TRUE(diags.has_errors());
}

TEST(PythonProbes, BadPatternsAreErrors) {
  for (std::string f : {"f:", "f:9-3", "f+*", "@m.py", "f@", "f:1,,2"}) {
    DiagnosticSink diags;
    PythonPoint py;
    EXPECT_TRUE(ParsePythonPoint(Parts("python3", "m", f), diags, &py));
    EXPECT_EQ(py.version, 0) << f;
    EXPECT_TRUE(diags.has_errors()) << f;
  }
  DiagnosticSink diags;
  PythonPoint py;
  EXPECT_TRUE(ParsePythonPoint(Parts("python3", "", "f"), diags, &py));
  EXPECT_EQ(py.version, 0);
  EXPECT_FALSE(ParsePythonPoint(Parts("process", "m", "f"), diags, &py));
}

}  // namespace
}  // namespace btap::sema
