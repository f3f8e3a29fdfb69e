// Print folding (semantic/fold_prints.cpp): which strings printf takes over, and what
// it leaves alone. The printed program (-p2 -v) shows the rewritten bodies.
#include <gtest/gtest.h>

#include <sstream>

#include "tests/unit/semantic/elab_helpers.h"

namespace btap {
namespace {
using testing::Elaborate;

std::string Body(const std::string& script, bool keep = false) {
  sema::ElaborateOptions options;
  options.keep_unused = keep;
  auto r = Elaborate(script, {}, options);
  EXPECT_FALSE(r->diags.has_errors()) << r->Errors();
  if (!r->program) return "";
  std::ostringstream out;
  sema::PrintProgram(*r->program, true, out);
  return out.str();
}

TEST(FoldPrints, SprintfAndTextJoinThePrintf) {
  std::string body = Body(
      "probe begin { n = 5; name = \"open\"; s = sprintf(\"%d, %s\", n, \"x%\"); "
      "printf(\"%s(%s) [%-6s]\\n\", name, s, s) }");
  EXPECT_NE(body.find("printf(\"open(%{(}%d, %s%{)}s) [%{(}%d, %s%-6{)}s]\\n\", n, \"x%\", n, "
                      "\"x%\")"),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("sprintf"), std::string::npos) << body;
  EXPECT_EQ(body.find("name = "), std::string::npos) << body;
}

TEST(FoldPrints, ArgumentsThatMayChangeAreKeptWhereTheSprintfWas) {
  std::string body = Body(
      "function f() { return 7 } "
      "probe begin { x = 1; s = sprintf(\"%d %d\", x, f()); x = 2; printf(\"%s %d\\n\", s, x) }");
  EXPECT_NE(body.find("__s_1 = x;"), std::string::npos) << body;
  EXPECT_NE(body.find("__s_2 = f();"), std::string::npos) << body;
  EXPECT_NE(body.find("printf(\"%{(}%d %d%{)}s %d\\n\", __s_1, __s_2, x)"), std::string::npos)
      << body;
}

TEST(FoldPrints, StringsUsedOtherwiseStay) {
  for (const char* script : {
           // read by something else than printf
           "probe begin { s = sprintf(\"%d\", 1); printf(\"%s\\n\", s); if (s == \"1\") exit() }",
           // printed before it is made, or where it may not have been made
           "probe begin { printf(\"%s\\n\", s); s = sprintf(\"%d\", 1) }",
           "probe begin { if (randint(2)) s = sprintf(\"%d\", 1); printf(\"%s\\n\", s) }",
           // written twice
           "probe begin { s = sprintf(\"%d\", 1); s .= \"x\"; printf(\"%s\\n\", s) }",
           // a `*` width takes the value's place in the arguments
           "probe begin { s = sprintf(\"%d\", 1); printf(\"%*s\\n\", 4, s) }",
       }) {
    std::string body = Body(script);
    EXPECT_NE(body.find("sprintf"), std::string::npos) << script << "\n" << body;
    EXPECT_EQ(body.find("%{("), std::string::npos) << script << "\n" << body;
  }
}

TEST(FoldPrints, UnoptimizedKeepsEverything) {
  std::string body =
      Body("probe begin { s = sprintf(\"%d\", 1); printf(\"%s\\n\", s) }", /*keep=*/true);
  EXPECT_NE(body.find("s = sprintf(\"%d\", 1);"), std::string::npos) << body;
}

TEST(FoldPrints, QuotedUserStringsAreQuotedByThePrinter) {
  std::string body = Body(
      "probe process(\"/bin/true\").begin { p = user_string_quoted(0x1000); "
      "printf(\"%s|%-9s\\n\", p, p) }");
  EXPECT_NE(body.find("p = __btap_user_string_marked(4096);"), std::string::npos) << body;
  EXPECT_NE(body.find("printf(\"%{quoted}s|%-9{quoted}s\\n\", p, p)"), std::string::npos) << body;
}

TEST(FoldPrints, ArgumentVectorsAreReadByEachPrint) {
  std::string body = Body(
      "probe process(\"/bin/true\").begin { v = pid(); a = __get_argv(v, 1); "
      "printf(\"%s|%.5s\\n\", a, a) }");
  EXPECT_NE(body.find("printf(\"%{argv}s|%.5{argv}s\\n\", __btap_user_argv_raw(v, 1), "
                      "__btap_user_argv_raw(v, 1))"),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("__get_argv"), std::string::npos) << body;
}

TEST(FoldPrints, DecodersLeaveTheirNumberToThePrinter) {
  std::string body = Body(
      "probe begin { x = 5; d = _dfd_str(x); t = _sock_type_str(x + 1); "
      "printf(\"%s|%-9s\\n\", d, t) }");
  EXPECT_NE(body.find("printf(\"%{decode:9:0:-100 AT_FDCWD}d|%-9{decode:2:526336:"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("__t_1 = x + 1 & 4294967295;"), std::string::npos) << body;
  EXPECT_EQ(body.find("_dfd_str"), std::string::npos) << body;
  // A tapset decoder with statements before its return (the huge-page prefix) stays a call.
  body = Body("probe begin { x = 5; p = _mmap_flags(x); printf(\"%s\\n\", p) }");
  EXPECT_NE(body.find("p = _mmap_flags(x);"), std::string::npos) << body;
}

TEST(FoldPrints, AChoiceOfTwoSprintfsBecomesAChoiceOfTwoPrintfs) {
  std::string body = Body(
      "probe begin { f = 64; m = 420; s = f & 64 ? sprintf(\"%d, %#o\", f, m) : "
      "sprintf(\"%d\", f); printf(\"<%s>\\n\", s) }");
  EXPECT_NE(body.find("__s_1 = f & 64;"), std::string::npos) << body;
  EXPECT_NE(body.find("if (__s_1)"), std::string::npos) << body;
  EXPECT_NE(body.find("printf(\"<%{(}%d, %#o%{)}s>\\n\", f, m)"), std::string::npos) << body;
  EXPECT_NE(body.find("printf(\"<%{(}%d%{)}s>\\n\", f)"), std::string::npos) << body;
  // The printf's other arguments that are neither literals nor variables are set, in
  // their order, just before the choice: each is read once, whichever printf runs.
  body = Body(
      "probe begin { f = 64; s = f & 64 ? sprintf(\"%d!\", f) : sprintf(\"%d\", f); "
      "printf(\"%s %d <%s> %s\\n\", execname(), pid() + 1, s, \"x\") }");
  EXPECT_NE(body.find("__s_arg1 = execname();"), std::string::npos) << body;
  EXPECT_NE(body.find("__s_arg2 = pid() + 1;"), std::string::npos) << body;
  EXPECT_NE(body.find("printf(\"%s %d <%{(}%d!%{)}s> %s\\n\", __s_arg1, __s_arg2, f, \"x\")"),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("sprintf"), std::string::npos) << body;
  // Arguments that differ (not one list's start) stay as written.
  body = Body(
      "probe begin { f = 64; s = f ? sprintf(\"%d\", f) : sprintf(\"%d\", f + 1); "
      "printf(\"%s\\n\", s) }");
  EXPECT_NE(body.find("sprintf"), std::string::npos) << body;
}

}  // namespace
}  // namespace btap
