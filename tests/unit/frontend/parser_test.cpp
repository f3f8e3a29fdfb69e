// Parser: stap's precedence, statement boundaries, probes, declarations, parse-time
// checks, and the printer's round trip.
#include <gtest/gtest.h>

#include "tests/unit/frontend/parse_helpers.h"

namespace btap::testing {
namespace {

TEST(Parser, BinaryPrecedenceFollowsStap) {
  EXPECT_EQ(Shape("a + b * c"), "a + (b * c)");
  EXPECT_EQ(Shape("a - b - c"), "(a - b) - c");
  EXPECT_EQ(Shape("a . b + c"), "a . (b + c)");    // . is looser than +
  EXPECT_EQ(Shape("a << b . c"), "a << (b . c)");  // shifts are looser than .
  EXPECT_EQ(Shape("a < b << c"), "a < (b << c)");
  EXPECT_EQ(Shape("a == b < c"), "(a == b) < c");  // one level, left to right
  EXPECT_EQ(Shape("a & b == c"), "a & (b == c)");
  EXPECT_EQ(Shape("a ^ b & c"), "a ^ (b & c)");
  EXPECT_EQ(Shape("a | b ^ c"), "a | (b ^ c)");
  EXPECT_EQ(Shape("a && b | c"), "a && (b | c)");
  EXPECT_EQ(Shape("a || b && c"), "a || (b && c)");
  EXPECT_EQ(Shape("a >>> b"), "a >>> b");
}

TEST(Parser, AssignmentTernaryAndIn) {
  EXPECT_EQ(Shape("a = b = c"), "a = (b = c)");
  EXPECT_EQ(Shape("a += b ? c : d"), "a += (b ? c : d)");
  EXPECT_EQ(Shape("a ? b : c ? d : e"), "a ? b : (c ? d : e)");
  EXPECT_EQ(Shape("a ? b = 1 : c"), "a ? (b = 1) : c");
  EXPECT_EQ(Shape("a ? b : c = d"), "(a ? b : c) = d");  // stap >= 4.0
  EXPECT_EQ(Shape("s <<< x * 2"), "s <<< (x * 2)");
  EXPECT_EQ(Shape("x .= \"a\" . \"b\""), "x .= (\"a\" . \"b\")");
  EXPECT_EQ(Shape("k in a && y"), "(k in a) && y");
  EXPECT_EQ(Shape("a < b in c"), "(a < b) in c");
  EXPECT_EQ(Shape("x & k in a"), "x & (k in a)");
  EXPECT_EQ(Shape("[a, b + 1, *] in arr"), "[a, b + 1, *] in arr");
  // stap quirks: `[e]` alone is `e`; a bare `$` is a target variable.
  EXPECT_EQ(Shape("a[k, [j]]"), "a[k, j]");
  EXPECT_EQ(Shape("x = [y]"), "x = y");
  EXPECT_EQ(Shape("$"), "$");
  EXPECT_NE(ParseText("probe begin { x = [a, b] }")
                .diagnostics.find("a bracketed list of keys must be followed by `in`"),
            std::string::npos);
  EXPECT_EQ(Shape("s =~ \"^a.*\""), "s =~ \"^a.*\"");
  EXPECT_EQ(Shape("!(s !~ \"x\")"), "!(s !~ \"x\")");
}

TEST(Parser, UnaryAndCrement) {
  EXPECT_EQ(Shape("-x++"), "-(x++)");
  EXPECT_EQ(Shape("- -x"), "-(-x)");
  EXPECT_EQ(Shape("!a == b"), "(!a) == b");
  EXPECT_EQ(Shape("~a * b"), "(~a) * b");
  EXPECT_EQ(Shape("++a[1]"), "++a[1]");
  EXPECT_EQ(Shape("a-- - --b"), "(a--) - (--b)");
  Parsed p = ParseText("probe begin { x = - -y; z = + +w }");
  EXPECT_NE(p.canonical.find("x = - -y;"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("z = + +w;"), std::string::npos) << p.canonical;
}

TEST(Parser, TargetVariables) {
  EXPECT_EQ(Shape("$x->y->z[3]"), "$x->y->z[3]");
  EXPECT_EQ(Shape("&$x->y"), "&$x->y");
  EXPECT_EQ(Shape("$$parms$$"), "$$parms$$");
  EXPECT_EQ(Shape("$x->next$"), "$x->next$");  // keywords as members
  EXPECT_EQ(Shape("$x[i] $"), "$x[i]$");
  EXPECT_EQ(Shape("@cast(p, \"task_struct\", \"kernel<linux/sched.h>\")->pid"),
            "@cast(p, \"task_struct\", \"kernel<linux/sched.h>\")->pid");
  EXPECT_EQ(Shape("@var(\"jiffies@kernel/time.c\")->x"), "@var(\"jiffies@kernel/time.c\")->x");
  EXPECT_EQ(Shape("f(x)->y"), "f(x)->y");  // autocast
  EXPECT_EQ(Shape("(a + b)->y"), "(a + b)->y");
  EXPECT_EQ(Shape("a[1][2]"), "a[1][2]");
  EXPECT_EQ(Shape("@entry($x) + @defined($y->z)"), "@entry($x) + @defined($y->z)");
}

TEST(Parser, AtOperators) {
  EXPECT_EQ(Shape("@count(s) + @sum(s) + @avg(a[k])"), "(@count(s) + @sum(s)) + @avg(a[k])");
  EXPECT_EQ(Shape("@variance(s, 2)"), "@variance(s, 2)");
  EXPECT_EQ(Shape("print(@hist_log(s))"), "print(@hist_log(s))");
  EXPECT_EQ(Shape("@hist_linear(s, 0, 100, -10)[2]"), "@hist_linear(s, 0, 100, -10)[2]");
  EXPECT_EQ(Shape("@probewrite(x)"), "@probewrite(x)");
  EXPECT_EQ(Shape("@uregister(3) + @uderef(4, p)"), "@uregister(3) + @uderef(4, p)");
  EXPECT_EQ(Shape("@perf(\"cycles\")"), "@perf(\"cycles\")");
  Parsed bad = ParseText("probe begin { x = @count(s, 1) + @nosuch(y) }");
  EXPECT_NE(bad.diagnostics.find("error: `@count` takes no parameters"), std::string::npos)
      << bad.diagnostics;
  EXPECT_NE(bad.diagnostics.find("error: unknown operator or macro `@nosuch`"), std::string::npos)
      << bad.diagnostics;
}

TEST(Parser, StatementsNeedNoSemicolons) {
  Parsed p = ParseText("probe begin { a = 1 b = 2 printf(\"%d\\n\", a + b) exit() }");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_EQ(p.canonical,
            "probe begin {\n  a = 1;\n  b = 2;\n  printf(\"%d\\n\", a + b);\n  exit();\n}\n");
  // Greedy, as in stap: `a = b -c` is one statement.
  EXPECT_EQ(Shape("a = b -c"), "a = (b - c)");
  Parsed q = ParseText("probe begin { if (x) a = 1; else b = 2; ; }");
  EXPECT_EQ(q.errors, 0u) << q.diagnostics;
  EXPECT_EQ(q.canonical, "probe begin {\n  if (x)\n    a = 1;\n  else\n    b = 2;\n  ;\n}\n");
}

TEST(Parser, ControlFlow) {
  Parsed p = ParseText(R"(
function f(n) {
  for (i = 0; i < n; i++) { if (i % 2) continue; else if (i > 10) break }
  for (;;) next
  while (n--) delete a[n]
  foreach (v = [k1, k2-] in arr[*, "x"] limit 5) printf("%d", v)
  foreach (k in s @sum+) print(k)
  foreach (x in arr-) ;
  try { error("boom") } catch (msg) { println(msg) }
  try { x = 1 } catch { }
  return
})");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_NE(p.canonical.find("foreach (v = [k1, k2-] in arr[*, \"x\"] limit 5)"), std::string::npos)
      << p.canonical;
  EXPECT_NE(p.canonical.find("foreach (k in s @sum+)"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("foreach (x in arr-)"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("} catch (msg) {"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("for (; ; )\n    next;"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("else if (i > 10)"), std::string::npos) << p.canonical;
}

TEST(Parser, ProbePoints) {
  Parsed p = ParseText(R"(
probe syscall.open*.return?, kernel.function("vfs_*@fs/*.c").call !, timer.ms(100),
      process("/bin/ls").function("main") if (enabled), begin(-10) { }
probe {foo,bar}.{a,b}? { }
probe perf.type(1).config(0).sample(1000000) { }
)");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_NE(
      p.canonical.find(
          "probe syscall.open*.return?, kernel.function(\"vfs_*@fs/*.c\").call!, timer.ms(100), "
          "process(\"/bin/ls\").function(\"main\") if (enabled), begin(-10) {"),
      std::string::npos)
      << p.canonical;
  EXPECT_NE(p.canonical.find("probe foo.a?, foo.b?, bar.a?, bar.b? {"), std::string::npos)
      << p.canonical;
  // A space ends a component: `open *` is not `open*`.
  Parsed q = ParseText("probe syscall.open * { }");
  EXPECT_GT(q.errors, 0u);
}

TEST(Parser, Aliases) {
  Parsed p = ParseText(R"(
probe my.read = kernel.function("vfs_read") { n = $count } , { total += n }
probe my.write += syscall.write { w++ }
probe a = b = c.d { }
)");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_NE(
      p.canonical.find(
          "probe my.read = kernel.function(\"vfs_read\") {\n  n = $count;\n}, {\n  total += n;\n}"),
      std::string::npos)
      << p.canonical;
  EXPECT_NE(p.canonical.find("probe my.write += syscall.write {"), std::string::npos)
      << p.canonical;
  EXPECT_NE(p.canonical.find("probe a = b = c.d {"), std::string::npos) << p.canonical;
  Parsed bad = ParseText("probe x += y { } , { }");
  EXPECT_NE(bad.diagnostics.find("an alias defined with `+=` cannot have a second body"),
            std::string::npos);
  Parsed opt = ParseText("probe x? = y { }");
  EXPECT_NE(opt.diagnostics.find("a probe alias name cannot be optional"), std::string::npos);
}

TEST(Parser, Declarations) {
  Parsed p = ParseText(R"(
global a, b = -5, c[100], d%, e%[10], s = "x" "y"
private global p
private q, r
function f:long(x:long, y:string, z) { return x }
function string(x) { return x }
private function g() : 3 { }
function h:string() %{ STAP_RETURN("x"); %}
%{ #include <linux/sched.h> %}
probe begin { }
)",
                       {.guru = true});
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_EQ(p.canonical,
            "global a\nglobal b = -5\nglobal c[100]\nglobal d%\nglobal e%[10]\nglobal s = \"xy\"\n"
            "private global p\nprivate global q\nprivate global r\n\n"
            "function f:long(x:long, y:string, z) {\n  return x;\n}\n\n"
            "function string(x) {\n  return x;\n}\n\n"
            "private function g() : 3 {\n}\n\n"
            "function h:string() %{ STAP_RETURN(\"x\"); %}\n\n"
            "%{ #include <linux/sched.h> %}\n\n"
            "probe begin {\n}\n");
}

TEST(Parser, ParseTimeChecks) {
  auto diags = [](std::string_view text) { return ParseText(text).diagnostics; };
  EXPECT_NE(
      diags("probe begin { return 1 }").find("t.stp:1:15: error: `return` outside a function"),
      std::string::npos);
  EXPECT_NE(diags("probe begin { %{ x %} }")
                .find("error: embedded code in unprivileged script; need stap -g"),
            std::string::npos);
  EXPECT_NE(
      diags("function f() %{ %}").find("error: embedded code in unprivileged script; need stap -g"),
      std::string::npos);
  EXPECT_NE(diags("probe begin { x = @const(\"X\") }").find("`@const` needs guru mode"),
            std::string::npos);
  EXPECT_NE(diags("global a global a").find("global `a` is declared twice in this file"),
            std::string::npos);
  EXPECT_NE(diags("global a[0]").find("array size must be between 1 and 2147483647"),
            std::string::npos);
  EXPECT_NE(diags("global a[2] = 1").find("only scalar globals can be initialized"),
            std::string::npos);
  EXPECT_NE(diags("function f(a, a) { }").find("duplicate parameter `a`"), std::string::npos);
  EXPECT_NE(diags("function f() : 0 { }").find("function priority must be at least 1"),
            std::string::npos);
  EXPECT_NE(diags("probe begin { x = 09 }").find("invalid number `09`"), std::string::npos);
  EXPECT_NE(diags("probe begin { x = 99999999999999999999 }")
                .find("number `99999999999999999999` is out of range"),
            std::string::npos);
  EXPECT_NE(diags("probe begin { foreach (a+ in b-) x }").find("more than one sort directive"),
            std::string::npos);
  EXPECT_NE(diags("probe begin { x = &&$y }").find("unexpected `&&`"), std::string::npos);
  EXPECT_NE(diags("").find("input file `t.stp` is empty"), std::string::npos);
  EXPECT_NE(diags("%( 1 == 2 %? probe begin {} %)")
                .find("input file `t.stp` is empty after preprocessing"),
            std::string::npos);
}

TEST(Parser, PrintFamilyChecks) {
  auto diags = [](std::string_view text) { return ParseText(text).diagnostics; };
  EXPECT_NE(diags("probe begin { printf printf(\"x\") }").find("expected `(` after `printf`"),
            std::string::npos);
  EXPECT_NE(diags("probe begin { printf(x) }").find("`printf` takes a literal format string first"),
            std::string::npos);
  EXPECT_NE(diags("probe begin { print() }").find("`print` needs an argument"), std::string::npos);
  EXPECT_NE(
      diags("probe begin { printd(\",\", 1) }").find("at least two values after the delimiter"),
      std::string::npos);
  EXPECT_EQ(ParseText("probe begin { println() printf(\"%d\", 1) printdln(\",\", 1, 2) x = "
                      "sprintf(\"%s\", \"a\" \"b\") }")
                .errors,
            0u);
  // A macro argument is tokens: `sprint` passed for a function parameter becomes a call
  // where the body applies it (the prometheus tapset's _map macros), through a nested
  // macro too.
  Parsed p = ParseText(
      "@define app(m, x) %( @m(@x) %) @define app2(x) %( @app(sprint, @x) %) "
      "probe begin { a = @app(sprint, 1) . @app2(2) }");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_NE(p.canonical.find("a = sprint(1) . sprint(2);"), std::string::npos) << p.canonical;
}

TEST(Parser, NumbersWrapLikeStap) {
  Parsed p = ParseText(
      "probe begin { x = 0xffffffffffffffff; y = 9223372036854775807 } global m = "
      "-9223372036854775808");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics;
  EXPECT_NE(p.canonical.find("x = 0xffffffffffffffff;"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("global m = -9223372036854775808"), std::string::npos) << p.canonical;
}

TEST(Parser, AllSyntaxErrorsOfAFileAreReported) {
  Parsed p = ParseText(R"(probe begin { x = }
probe end { y = 1 + }
function f( { }
global ok
probe timer.s(1) { z = ) })");
  EXPECT_EQ(p.errors, 4u) << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("t.stp:1:19: error: unexpected `}`; expected an expression"),
            std::string::npos)
      << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("t.stp:2:21: error: unexpected `}`; expected an expression"),
            std::string::npos)
      << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("t.stp:3:13: error: unexpected `{`; expected identifier or `)`"),
            std::string::npos)
      << p.diagnostics;
  EXPECT_NE(p.diagnostics.find("t.stp:5:24: error: unexpected `)`"), std::string::npos)
      << p.diagnostics;
}

TEST(Parser, PrintedUnaryOperatorsStayApart) {
  EXPECT_EQ(Shape("x = ! ~a"), "x = (!(~a))");
  Parsed p = ParseText("probe begin { x = ! ~a; y = - -a }");
  EXPECT_NE(p.canonical.find("x = ! ~a"), std::string::npos) << p.canonical;
  EXPECT_NE(p.canonical.find("y = - -a"), std::string::npos) << p.canonical;
}

TEST(Parser, RoundTripKeepsTheTree) {
  const char* scripts[] = {
      "probe begin { x = (a = b) + 1; y = (a ? b : c) ? d : e; z = -(-1); w = (a . b) . c; }",
      "probe begin { v = !(a in b); u = [1, \"s\"] in m; t = (a < b) == (c < d); s = a - (b - c) }",
      "probe begin { x = \"tab\\there\\n\\001\\\\\\\"\"; if (a) if (b) c(); else d(); }",
      "probe begin { a[1] <<< 2; print(@hist_log(a[1])); printf(\"%s\", sprint(@hist_linear(a[1], "
      "0, 10, 1))) }",
      "probe kernel.function(\"f\").return { printf(\"%s\\n\", $$return$) ; x = &@cast($p, "
      "\"s\")->m[2]->n }",
      // Unary operators next to each other must not fuse into `!~`, `--`, `++`, `&&`.
      "probe begin { x = ! ~a; y = - -a; z = + +a; w = ! !a; v = - ~a; u = ~ -a }",
  };
  for (const char* s : scripts) {
    Parsed first = ParseText(s);
    ASSERT_EQ(first.errors, 0u) << s << "\n" << first.diagnostics;
    Parsed second = ParseText(first.canonical);
    ASSERT_EQ(second.errors, 0u) << first.canonical << "\n" << second.diagnostics;
    EXPECT_EQ(first.shape, second.shape) << s;
    EXPECT_EQ(first.canonical, second.canonical) << s;
  }
}

}  // namespace
}  // namespace btap::testing
