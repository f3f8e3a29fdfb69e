// Preprocessor: conditionals as stap evaluates them, macros, library macros, arguments.
#include "frontend/preprocessor.h"

#include <gtest/gtest.h>

#include "tests/unit/frontend/parse_helpers.h"

namespace btap::frontend {
namespace {

using testing::ParseSetup;
using testing::ParseText;

// Tokens after preprocessing, joined by spaces.
std::string Expand(std::string_view text, const PPConfig& config = {},
                   std::string* errors = nullptr, const std::string& library_text = "") {
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  MacroTable library;
  if (!library_text.empty()) {
    FileId lib = sm.AddFile("lib.stpm", library_text);
    LoadLibraryMacros(sm, lib, config, library, arena, diags);
  }
  FileId f = sm.AddFile("t.stp", std::string(text));
  Preprocessor pp(sm, f, config, &library, arena, diags);
  std::string out;
  for (Token t = pp.Next(); t.kind != Tok::Eof; t = pp.Next()) {
    if (!out.empty()) out += ' ';
    out += t.kind == Tok::String ? "\"" + std::string(t.text) + "\"" : std::string(t.text);
    if (t.kind == Tok::AtWord) out.insert(out.size() - t.text.size(), "@");
  }
  std::ostringstream d;
  RenderDiagnostics(sm, diags, d);
  if (errors)
    *errors = d.str();
  else
    EXPECT_EQ(d.str(), "") << text;
  return out;
}

PPConfig Machine() {
  PPConfig c;
  c.kernel_v = "6.1.0";
  c.kernel_vr = "6.1.0-28-amd64";
  c.arch = "x86_64";
  c.systemtap_v = "4.8";
  c.kernel_config = [](std::string_view name) -> std::string {
    if (name == "CONFIG_SMP") return "y";
    if (name == "CONFIG_NR_CPUS") return "64";
    if (name == "CONFIG_BASE") return "0x10";
    return "";
  };
  return c;
}

TEST(Preprocessor, VersionComparisons) {
  PPConfig c = Machine();
  EXPECT_EQ(Expand("%( kernel_v >= \"2.6.30\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( kernel_v < \"6.1.0\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( kernel_v >= \"6.1\" %? a %: b %)", c), "a");    // 6.1.0 vs 6.1
  EXPECT_EQ(Expand("%( kernel_v > \"6.0.99\" %? a %: b %)", c), "a");  // numeric, not textual
  EXPECT_EQ(Expand("%( kernel_v < \"6.10\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( kernel_v > \"6.1.0\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( kernel_vr == \"6.1.0-*\" %? a %: b %)", c), "a");  // glob
  EXPECT_EQ(Expand("%( kernel_vr != \"6.1.0-*\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( systemtap_v >= \"4.0\" %? a %)", c), "a");
  EXPECT_EQ(Expand("%( systemtap_v < \"2.3\" %? a %)", c), "");
  EXPECT_EQ(CompareVersions("2.6.9", "2.6.10"), -1);
  EXPECT_EQ(CompareVersions("3.10", "3.9"), 1);
  EXPECT_EQ(CompareVersions("4.8", "4.8"), 0);
}

TEST(Preprocessor, ArchRuntimePrivilegeGuru) {
  PPConfig c = Machine();
  EXPECT_EQ(Expand("%( arch == \"x86_64\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( arch == \"i?86\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( arch != \"*64\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( runtime == \"bpf\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( systemtap_privilege == \"stapdev\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( guru_mode == 0 %? a %: b %)", c), "a");
  c.guru_mode = true;
  EXPECT_EQ(Expand("%( guru_mode == 1 %? a %: b %)", c), "a");
}

TEST(Preprocessor, KernelConfig) {
  PPConfig c = Machine();
  EXPECT_EQ(Expand("%( CONFIG_SMP == \"y\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( CONFIG_SMP == \"[ym]\" %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( CONFIG_MISSING == \"y\" %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( CONFIG_NR_CPUS >= 32 %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( CONFIG_NR_CPUS > CONFIG_BASE %? a %: b %)", c), "a");  // 64 > 0x10
}

TEST(Preprocessor, LiteralsAndLogic) {
  PPConfig c = Machine();
  EXPECT_EQ(Expand("%( 1 < 2 %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( \"abc\" < \"abd\" %? a %: b %)", c), "a");
  // && binds tighter than ||.
  EXPECT_EQ(Expand("%( arch == \"s390\" && 1 == 1 || 2 == 2 %? a %: b %)", c), "a");
  EXPECT_EQ(Expand("%( 1 == 2 || 1 == 1 && 2 == 3 %? a %: b %)", c), "b");
  EXPECT_EQ(Expand("%( 1 == 1 %? %( 2 == 3 %? x %: y %) z %: w %)", c), "y z");
  EXPECT_EQ(Expand("%( 1 == 2 %? %( 2 == 2 %? x %: y %) %: w %)", c), "w");
}

TEST(Preprocessor, ConditionErrorsAreLocated) {
  std::string errors;
  Expand("%( kernel_v >= 5 %? a %)", Machine(), &errors);
  EXPECT_NE(errors.find("t.stp:1:16: error: expected a version string after `kernel_v`"),
            std::string::npos)
      << errors;
  Expand("x %( arch == \"x86_64\"", Machine(), &errors);
  EXPECT_NE(errors.find("t.stp:1:3: error: `%(` is not closed by `%)` before the end of the file"),
            std::string::npos)
      << errors;
  Expand("a %: b", Machine(), &errors);
  EXPECT_NE(errors.find("t.stp:1:3: error: `%:` without a matching `%(`"), std::string::npos)
      << errors;
  Expand("%( 1 == 1 %? a %: b %: c %)", Machine(), &errors);
  EXPECT_NE(errors.find("duplicate `%:`"), std::string::npos) << errors;
  Expand("%( frobnicate == 1 %? a %)", Machine(), &errors);
  EXPECT_NE(errors.find("t.stp:1:4: error: expected `arch`"), std::string::npos) << errors;
  Expand("%( 1 == 1 a %)", Machine(), &errors);
  EXPECT_NE(errors.find("error: expected `%?` after the condition of `%(`"), std::string::npos)
      << errors;
  Expand("%( arch < \"x\" %? a %)", Machine(), &errors);
  EXPECT_NE(errors.find("`arch` can only be compared with `==` or `!=`"), std::string::npos)
      << errors;
}

TEST(Preprocessor, Macros) {
  EXPECT_EQ(Expand("@define two %( 2 %) x = @two"), "x = 2");
  EXPECT_EQ(Expand("@define add(a, b) %( (@a + @b) %) @add(1, f(2, 3))"), "( 1 + f ( 2 , 3 ) )");
  // Brackets nest inside arguments; parameters are closures over the caller's scope.
  EXPECT_EQ(Expand("@define id(x) %( @x %) @define twice(y) %( @id(@y) @id(@y) %) @twice(a[1, 2])"),
            "a [ 1 , 2 ] a [ 1 , 2 ]");
  // A macro may expand to a conditional, and conditions may use macros.
  EXPECT_EQ(Expand("@define is64 %( arch == \"x86_64\" %) %( @is64 %? yes %: no %)", Machine()),
            "yes");
  // Unknown @words are left for the parser (@cast, @var, ...).
  EXPECT_EQ(Expand("@cast(p, \"t\")"), "@cast ( p , \"t\" )");
  // A parameterless macro leaves following parentheses alone.
  EXPECT_EQ(Expand("@define f %( g %) @f(1)"), "g ( 1 )");
  // Definitions in a skipped branch do not happen.
  EXPECT_EQ(Expand("%( 1 == 2 %? @define m %( a %) %) @m", Machine()), "@m");
}

TEST(Preprocessor, MacroErrors) {
  std::string errors;
  Expand("@define m %( a %) @define m %( b %)", {}, &errors);
  EXPECT_NE(errors.find("t.stp:1:27: error: macro `@m` is defined twice in the same file"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("t.stp:1:9: note: macro `@m` first defined here"), std::string::npos)
      << errors;
  Expand("@define m(a) %( @a %) @m(1, 2)", {}, &errors);
  EXPECT_NE(errors.find("too many arguments for macro `@m` (expected 1)"), std::string::npos)
      << errors;
  Expand("@define m(a, b) %( @a %) @m(1)", {}, &errors);
  EXPECT_NE(errors.find("too few arguments for macro `@m` (expected 2)"), std::string::npos)
      << errors;
  Expand("@define m(a) %( @a %) @m x", {}, &errors);
  EXPECT_NE(errors.find("expected `(` in the invocation of macro `@m` taking 1 parameter"),
            std::string::npos)
      << errors;
  Expand("@define m(a) %( @a %) @m(1", {}, &errors);
  EXPECT_NE(errors.find("could not find the end of the invocation of macro `@m`"),
            std::string::npos)
      << errors;
  Expand("@define m %( a", {}, &errors);
  EXPECT_NE(errors.find("t.stp:1:9: error: definition of macro `@m` is missing its closing `%)`"),
            std::string::npos)
      << errors;
  Expand("@define r %( @r %) @r", {}, &errors);
  EXPECT_NE(errors.find("nested more than 1000 levels deep (is `@r` recursive?)"),
            std::string::npos)
      << errors;
  // Exponential expansion stops at a limit instead of exhausting memory.
  std::string bomb = "@define a0 %( x x %)";
  for (int i = 1; i < 40; ++i)
    bomb += " @define a" + std::to_string(i) + " %( @a" + std::to_string(i - 1) + " @a" +
            std::to_string(i - 1) + " %)";
  bomb += " @a39";
  Expand(bomb, {}, &errors);
  EXPECT_NE(errors.find("macro expansion produced more than 5000000 tokens"), std::string::npos)
      << errors;
}

TEST(Preprocessor, LibraryMacros) {
  std::string lib = "@define sq(x) %( (@x * @x) %)\n@define helper %( @sq(3) %)\n";
  EXPECT_EQ(Expand("y = @helper", {}, nullptr, lib), "y = ( 3 * 3 )");
  // Library files may only define macros.
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  MacroTable library;
  FileId bad = sm.AddFile("bad.stpm", "@define ok %( 1 %) probe");
  EXPECT_FALSE(LoadLibraryMacros(sm, bad, {}, library, arena, diags));
  ASSERT_EQ(diags.error_count(), 1u);
  EXPECT_EQ(diags.diagnostics()[0].message,
            "unexpected `probe` in library macro file; `.stpm` files may only define macros");
  DiagnosticSink diags2;
  FileId a = sm.AddFile("a.stpm", "@define m %( 1 %)");
  FileId b = sm.AddFile("b.stpm", "@define m %( 2 %)");
  EXPECT_TRUE(LoadLibraryMacros(sm, a, {}, library, arena, diags2));
  EXPECT_FALSE(LoadLibraryMacros(sm, b, {}, library, arena, diags2));
  EXPECT_EQ(diags2.diagnostics()[0].message, "duplicate definition of library macro `@m`");
}

TEST(Preprocessor, FileMacrosAreInvisibleToLibraryMacros) {
  // A library macro's body sees library macros and its parameters, not the user's macros.
  std::string lib = "@define use_m %( @m %)\n";
  EXPECT_EQ(Expand("@define m %( mine %) @use_m @m", {}, nullptr, lib), "@m mine");
}

TEST(Preprocessor, ArgumentSubstitution) {
  PPConfig c = Machine();
  c.args = {"42", "kernel.function(\"x\")", "hello world"};
  EXPECT_EQ(Expand("$1 @1 $# @# $2 @3", c),
            "42 \"42\" 3 \"3\" kernel . function ( \"x\" ) \"hello world\"");
  // Only kept tokens are substituted: an out-of-range argument in a skipped branch is fine.
  EXPECT_EQ(Expand("%( $# >= 9 %? $9 %: none %)", c), "none");
  std::string errors;
  Expand("x = $4", c, &errors);
  EXPECT_NE(errors.find("t.stp:1:5: error: command line argument `$4` is out of range: 3 given"),
            std::string::npos)
      << errors;
  c.args = {"$1"};
  Expand("$1", c, &errors);
  EXPECT_NE(errors.find("command line argument `$1` inside an argument is not substituted"),
            std::string::npos)
      << errors;
}

}  // namespace
}  // namespace btap::frontend
