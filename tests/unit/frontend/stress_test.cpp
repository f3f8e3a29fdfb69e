// Bad and pathological input: any bytes give diagnostics or a tree, never a crash, a
// hang or unbounded recursion; deep nesting is an error, not a stack overflow.
#include <gtest/gtest.h>

#include <chrono>
#include <random>

#include "tests/unit/frontend/parse_helpers.h"

namespace btap::testing {
namespace {

std::string Repeat(std::string_view s, int n) {
  std::string out;
  out.reserve(s.size() * static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

TEST(Stress, HundredThousandNestedParentheses) {
  // Parentheses make no nodes, so this is deep for the parser's stack only (heap).
  Parsed p =
      ParseText("probe begin { x = " + Repeat("(", 100000) + "1" + Repeat(")", 100000) + " }");
  EXPECT_EQ(p.errors, 0u) << p.diagnostics.substr(0, 300);
}

TEST(Stress, HundredThousandNestedBlocks) {
  Parsed p = ParseText("probe begin " + Repeat("{", 100000) + Repeat("}", 100000));
  EXPECT_EQ(p.errors, 1u);
  EXPECT_NE(p.diagnostics.find("error: nesting too deep: more than 1000 levels"), std::string::npos)
      << p.diagnostics.substr(0, 300);
}

TEST(Stress, DeepExpressionsOfEveryShape) {
  const std::pair<std::string, std::string> shapes[] = {
      {Repeat("- ", 100000) + "1", ""},                       // unary chain (right-recursive)
      {"1" + Repeat(" + 1", 100000), ""},                     // left-deep binary chain
      {Repeat("a = ", 100000) + "1", ""},                     // right-assoc assignments
      {Repeat("a ? b : ", 100000) + "c", ""},                 // ternary chain
      {"f(" + Repeat("f(", 50000) + Repeat(")", 50001), ""},  // nested calls
      {"$x" + Repeat("->y", 100000), ""},                     // target components
  };
  for (const auto& [expr, unused] : shapes) {
    Parsed p = ParseText("probe begin { x = " + expr + " }");
    EXPECT_EQ(p.errors, 1u) << expr.substr(0, 40);
    EXPECT_NE(p.diagnostics.find("nesting too deep"), std::string::npos) << expr.substr(0, 40);
  }
  Parsed chain = ParseText("probe begin { " + Repeat("if (x) y = 1; else ", 100000) + "z = 2 }");
  EXPECT_NE(chain.diagnostics.find("nesting too deep"), std::string::npos);
}

TEST(Stress, NestedConditionalsAndMacros) {
  Parsed p = ParseText(Repeat("%( 1 == 1 %? ", 100000) + "probe begin {}" + Repeat(" %)", 100000));
  EXPECT_EQ(p.errors, 0u) << p.diagnostics.substr(0, 300);
  Parsed q = ParseText(Repeat("%( 1 == 1 %? ", 1000));
  EXPECT_GT(q.errors, 0u);
}

TEST(Stress, RandomBytesNeverCrash) {
  std::mt19937 rng(12345);
  const std::string alphabet = "probe begin{}()[];,.=+-*/%&|^!~<>?:\"'$@#%\\\n\t 0123456789abcxyz_";
  for (int round = 0; round < 2000; ++round) {
    std::string s;
    size_t n = rng() % 200;
    for (size_t i = 0; i < n; ++i)
      s += (rng() % 8 == 0) ? static_cast<char>(rng() % 256) : alphabet[rng() % alphabet.size()];
    Parsed p = ParseText(s, {.guru = (round % 2) == 1});
    if (p.errors == 0) {
      // Whatever parses must print to something that parses to the same tree.
      Parsed again = ParseText(p.canonical, {.guru = true});
      EXPECT_EQ(again.errors, 0u) << s;
      EXPECT_EQ(again.shape, p.shape) << s;
    }
  }
}

TEST(Stress, EveryPrefixOfARealScript) {
  const std::string script = R"(#! /usr/bin/env stap
global reads%[1000], hist
@define bytes(x) %( (@x > 0 ? @x : 0) %)
probe syscall.read.return? if (pid() != 0) {
  reads[execname(), tid()] <<< @bytes(retval)
  hist <<< retval
}
probe timer.s(5), end {
  foreach ([name, t] in reads @sum- limit 10)
    printf("%-16s %5d %d\n", name, t, @sum(reads[name, t]))
  print(@hist_log(hist))
  delete reads
}
function f:string(x:long) %{ /* pure */ STAP_RETVALUE[0] = 0; %}
)";
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i <= script.size(); ++i) ParseText(script.substr(0, i), {.guru = true});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
}

}  // namespace
}  // namespace btap::testing
