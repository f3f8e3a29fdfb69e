// Regular expressions compiled to automata (codegen/regex_dfa.h), walked as the runtime
// library walks them, against the C library's POSIX matcher (regexec, extended syntax)
// on many patterns and strings; and what the automaton refuses.
#include "codegen/regex_dfa.h"

#include <gtest/gtest.h>
#include <regex.h>

#include <random>

namespace btap::codegen {
namespace {

// bpflib's btap_regex_search, over a C++ string.
bool Search(const RegexDfa& dfa, const std::string& s) {
  uint32_t state = 0;
  if (dfa.accept[0]) return true;
  for (size_t i = 0; i <= s.size(); ++i) {
    auto c = static_cast<unsigned char>(i < s.size() ? s[i] : 0);
    state = dfa.next[state * 256 + c];
    if (dfa.accept[state]) return true;
    if (!c) return false;
  }
  return false;
}

bool Posix(const std::string& pattern, const std::string& s) {
  regex_t re;
  EXPECT_EQ(regcomp(&re, pattern.c_str(), REG_EXTENDED | REG_NOSUB), 0) << pattern;
  bool found = regexec(&re, s.c_str(), 0, nullptr, 0) == 0;
  regfree(&re);
  return found;
}

TEST(RegexDfa, AgreesWithPosix) {
  const char* patterns[] = {
      "",
      "a",
      "^a",
      "a$",
      "^$",
      "^abc$",
      "a|b",
      "ab|cd",
      "a|^b",
      "(a|b)*c",
      "a*",
      "a+b",
      "a?b",
      "^a{3}$",
      "^a{2,}$",
      "^a{1,3}$",
      "^(ab){2}$",
      "x{0}y",
      "[abc]+",
      "[^abc]",
      "^[a-z]+$",
      "[[:digit:]]+",
      "^[[:alpha:]_][[:alnum:]_]*$",
      "[]x]",
      "[^]x]",
      "a.c",
      "^.*$",
      "o\\.b",
      "\\(",
      "^(ssh|sshd)$",
      "(^|/)bin/",
      "[0-9]+\\.[0-9]+",
      "(a|ab)(c|bcd)(d*)",
      "^(a*)*$",
      "^-?[0-9]+$",
      "()a",
      "a()b",
      "(a|)+b",
      "^[ab]*a[ab]$",
      "a{,3}",
      "^a{,2}$",
      "[a-]",
      "[]a]",
      "[^]a]",
      "(^a|b)",
      "a|",
      "|a",
      "a**",
      "(a*)*",
      "[\\]]",
      "a$b",
      "($)",
      "(^)a",
      "[.]",
      "\\{",
      "a{1,2}{2}",
      "\xc3\xa9",
      "[[:upper:]]+",
  };
  std::vector<std::string> inputs = {
      "-",    "\\",   "{",           "A",     "\xc3\xa9", "a$b",  ".",    "",
      "a",    "b",    "ab",          "abc",   "aaa",      "aaaa", "cd",   "xcd",
      "ba",   "abab", "y",           "xy",    "o.b",      "oxb",  "(",    "ssh",
      "sshd", "sshx", "/usr/bin/ls", "bin/x", "3.14",     "3x14", "abcd", "-12",
      "12-",  "]",    "x",           "_id9",  "9id",      "aab",  "abba", "hello world"};
  std::mt19937 random(20261204);
  std::uniform_int_distribution<int> letter(0, 5), length(0, 8);
  for (int i = 0; i < 200; ++i) {
    std::string s;
    for (int n = length(random); n > 0; --n) s += "abcdx/"[letter(random)];
    inputs.push_back(s);
  }
  for (const char* p : patterns) {
    RegexDfa dfa;
    std::string error;
    ASSERT_TRUE(CompileRegex(p, &dfa, &error)) << p << ": " << error;
    EXPECT_LE(dfa.states, RegexDfa::kMaxStates);
    for (const std::string& s : inputs)
      EXPECT_EQ(Search(dfa, s), Posix(p, s)) << "`" << p << "` on `" << s << "`";
  }
}

TEST(RegexDfa, RefusesWhatNoAutomatonHolds) {
  RegexDfa dfa;
  std::string error;
  EXPECT_FALSE(CompileRegex("(a)\\1", &dfa, &error));
  EXPECT_NE(error.find("back reference"), std::string::npos) << error;
  EXPECT_FALSE(CompileRegex("\\bword", &dfa, &error));
  EXPECT_NE(error.find("assertion"), std::string::npos) << error;
  // (a|b)*a(a|b){12}: the 13th byte from the end decides, 2^13 states.
  EXPECT_FALSE(CompileRegex("(a|b)*a(a|b){12}$", &dfa, &error));
  EXPECT_NE(error.find("automaton states"), std::string::npos) << error;
  // Bounds nested in bounds: refused at once, not after building millions of states.
  EXPECT_FALSE(CompileRegex("x((a{2,60}){2,60}){2,60}y", &dfa, &error));
  EXPECT_NE(error.find("4096 states"), std::string::npos) << error;
  EXPECT_FALSE(CompileRegex("(((a{255}){255}){255}){255}", &dfa, &error));
  EXPECT_FALSE(CompileRegex("a{10000}", &dfa, &error));
  EXPECT_NE(error.find("more than 255"), std::string::npos) << error;
}

}  // namespace
}  // namespace btap::codegen
