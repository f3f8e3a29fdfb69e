// The groups of regular expressions (codegen/regex_submatch.h): the tables walked on the
// host by the very steps bpflib runs (bpflib/regex_walk.h), against the C library's
// regexec (extended syntax) on chosen and on thousands of random patterns and strings.
#include "codegen/regex_submatch.h"

#include <gtest/gtest.h>
#include <regex.h>

#include <cstdio>
#include <cstring>
#include <random>

#include "codegen/regex_dfa.h"
#include "codegen/regex_parse.h"

#define RW_RUN HostGroups
#define RW_LOOP(rounds, step, walk)                              \
  for (unsigned long k_ = 0; k_ < (unsigned long)(rounds); k_++) \
    if (rw_##step##_step((walk), k_)) break
#include "codegen/bpflib/regex_walk.h"
// clang-format off
#include "codegen/bpflib/regex_run.h"
// clang-format on

namespace btap::codegen {
namespace {

constexpr unsigned long kSlot = 256;
constexpr unsigned char kPoison = 0xA5;

// (start, end) of group 0..groups after the match, -1 for a group that took no part;
// empty when there is no match. The buffers start as scratch does in the kernel, full
// of what was there before (here a poison byte), so a step that reads a byte the walk
// has not written gives a wrong answer here too; the registers are read back as bytes
// (the walk writes them as shorts, this file is built with -fno-strict-aliasing as the
// kernel is).
std::vector<int> Walk(const RegexGroups& g, const std::string& s, bool found) {
  alignas(8) unsigned char text[kSlot], area[RW_AREA_TEXT + kSlot], work[RW_WORK_LIVE + kSlot];
  std::memset(text, kPoison, sizeof text);
  std::memset(area, kPoison, sizeof area);
  std::memset(work, kPoison, sizeof work);
  std::memcpy(text, s.c_str(), s.size() + 1);
  long status = HostGroups(text, g.tables.data(), g.tables.size(), area, work, found, kSlot, kSlot);
  if (!status) return {};
  std::vector<int> regs;
  for (int i = 0; i <= g.groups; ++i) {
    short pair[2];
    std::memcpy(pair, area + RW_AREA_REGS + 4 * i, sizeof pair);
    bool unset = pair[0] < 0 || pair[1] < 0;
    regs.push_back(unset ? -1 : pair[0]);
    regs.push_back(unset ? -1 : pair[1]);
  }
  return regs;
}

std::vector<int> Posix(const std::string& pattern, const std::string& s, bool* ok) {
  regex_t re;
  *ok = regcomp(&re, pattern.c_str(), REG_EXTENDED) == 0;
  if (!*ok) return {};
  std::vector<regmatch_t> m(re.re_nsub + 1);
  std::vector<int> regs;
  if (regexec(&re, s.c_str(), m.size(), m.data(), 0) == 0)
    for (const regmatch_t& r : m) {
      bool unset = r.rm_so < 0 || r.rm_eo < 0;
      regs.push_back(unset ? -1 : static_cast<int>(r.rm_so));
      regs.push_back(unset ? -1 : static_cast<int>(r.rm_eo));
    }
  regfree(&re);
  return regs;
}

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

std::string Show(const std::vector<int>& regs) {
  std::string out;
  for (size_t i = 0; i + 1 < regs.size(); i += 2)
    out += "(" + std::to_string(regs[i]) + "," + std::to_string(regs[i + 1]) + ")";
  return out.empty() ? "no match" : out;
}

// Compares one pattern on `inputs`; the disagreements are appended to `diffs`. Inputs
// where regex_dfa and glibc disagree on whether there is a match at all are not
// compared, but counted in `*unmatched`.
void Compare(const std::string& pattern, const RegexDfa& dfa, const RegexGroups& groups,
             const std::vector<std::string>& inputs, std::vector<std::string>* diffs,
             int* unmatched = nullptr) {
  for (const std::string& s : inputs) {
    bool ok;
    std::vector<int> want = Posix(pattern, s, &ok);
    bool found = Search(dfa, s);
    // `$` twice (`a$$`): regex_dfa's known difference, not the groups'.
    if (found != !want.empty()) {
      if (unmatched) ++*unmatched;
      continue;
    }
    std::vector<int> got = Walk(groups, s, found);
    if (got != want)
      diffs->push_back("`" + pattern + "` on `" + s + "`: " + Show(got) + ", glibc " + Show(want));
  }
}

TEST(RegexGroups, AgreesWithGlibc) {
  const char* patterns[] = {
      "",
      "a",
      "(a)",
      "(a)(b)",
      "(a|b)",
      "a|(b)",
      "(a)|b",
      "((a))",
      "(((a)))",
      "((a)(b))",
      "(a*)*",
      "(a?)*",
      "((a?))*",
      "(a|ab)(c|bcd)(d*)",
      "(a*)(a*)",
      "(a*)+",
      "(a+|b)*",
      "(a|b)*c",
      "^(a)",
      "(^a|b)",
      "(a$)",
      "(a)$",
      "x(a){0}y",
      "(a){2}",
      "(a){1,3}",
      "(a|aa){0,2}",
      "(aa|a){0,2}",
      "(|a)(a*)",
      "(a|)(a*)",
      "(a||b)c",
      "()",
      "()a",
      "(()|a)+",
      "([ab]+)([bc]+)",
      "(.*)(b)",
      "(a*)b(a*)",
      "([^b]*)b",
      "(\\.)",
      "^([a-z]+)=([0-9]*)$",
  };
  std::vector<std::string> inputs = {"",     "a",    "b",   "ab",  "aa",   "aaa",  "abc",
                                     "abcd", "ba",   "xay", "xy",  "xaay", "aab",  "bab",
                                     "abb",  "k=42", "=",   "a.b", "ccb",  "abab", "aaaa"};
  std::vector<std::string> diffs;
  for (const char* p : patterns) {
    RegexDfa dfa;
    RegexGroups groups;
    std::string error;
    ASSERT_TRUE(CompileRegex(p, &dfa, &error)) << p << ": " << error;
    ASSERT_TRUE(CompileRegexGroups(p, &groups, &error)) << p << ": " << error;
    Compare(p, dfa, groups, inputs, &diffs);
  }
  for (const std::string& d : diffs) ADD_FAILURE() << d;
}

// Where glibc's regexec mishandles anchors in the copies its regcomp makes (see below),
// btap keeps them anchors; and where a match can end with or without passing one, it
// takes glibc's way, without.
TEST(RegexGroups, AnchorsStayAnchors) {
  struct Case {
    const char* pattern;
    const char* text;
    std::vector<int> want;
  } cases[] = {
      {"(a$b){0,2}", "ab", {0, 0, -1, -1}},        // glibc: (0,2)(0,2)
      {"(^b){0,3}", "bb", {0, 1, 0, 1}},           // glibc: no match
      {"x(^a){0,2}", "xa", {0, 1, -1, -1}},        // glibc: no match
      {"(^)?", "a", {0, 0, -1, -1}},               // glibc's choice too
      {"(a|$)(b|$)", "a", {0, 1, 0, 1, 1, 1}},     // glibc too
      {"b(($)|x)*", "b", {0, 1, -1, -1, -1, -1}},  // glibc's choice too
  };
  for (const Case& c : cases) {
    RegexDfa dfa;
    RegexGroups groups;
    std::string error;
    ASSERT_TRUE(CompileRegex(c.pattern, &dfa, &error)) << error;
    ASSERT_TRUE(CompileRegexGroups(c.pattern, &groups, &error)) << error;
    EXPECT_EQ(Show(Walk(groups, c.text, Search(dfa, c.text))), Show(c.want))
        << "`" << c.pattern << "` on `" << c.text << "`";
  }
}

TEST(RegexGroups, RefusesWhatTheTablesCannotHold) {
  RegexGroups groups;
  std::string error;
  std::string many;
  for (int i = 0; i < 64; ++i) many += "(a)";
  EXPECT_FALSE(CompileRegexGroups(many, &groups, &error));
  EXPECT_EQ(error, "it has more than 63 groups");
  EXPECT_TRUE(CompileRegexGroups(many.substr(3), &groups, &error)) << error;
  EXPECT_EQ(groups.groups, 63);
  EXPECT_FALSE(CompileRegexGroups("(ab){70}", &groups, &error));
  EXPECT_EQ(error, "its groups need more than 255 automaton nodes");
  EXPECT_FALSE(CompileRegexGroups("((((a{255}){255}){255}){255})", &groups, &error));
  EXPECT_FALSE(CompileRegexGroups("(a)\\1", &groups, &error));
  EXPECT_NE(error.find("back reference"), std::string::npos) << error;
}

// A disagreement accepted: glibc's regexec mishandles `^` and `$` inside the copies its
// regcomp makes of a group repeated with a bound (`(a$b){0,2}`, `(^b){0,3}`, `(x^)+`): it
// ignores a `$` there (`(a$b){0,2}` matches "ab"), may find no match where one is
// (`(^b){0,3}` on "bb") or another one. btap keeps them anchors.
bool AnchorInCopies(const regex::Node& n, bool copied) {
  if (copied && (n.kind == regex::Node::StartOnly || n.kind == regex::Node::EndOnly)) return true;
  if (n.kind == regex::Node::Repeat)
    copied |= !((n.min == 0 && (n.max == -1 || n.max == 1)) || (n.min == 1 && n.max == 1));
  for (const regex::Node& kid : n.kids)
    if (AnchorInCopies(kid, copied)) return true;
  return false;
}

// Random patterns of a few letters, groups, alternation, repetition and anchors.
std::string RandomPattern(std::mt19937& random, int depth) {
  std::uniform_int_distribution<int> pick(0, 99);
  std::string out;
  int pieces = 1 + pick(random) % 3;
  for (int i = 0; i < pieces; ++i) {
    int p = pick(random);
    std::string atom;
    if (p < 35 || depth > 2)
      atom = std::string(1, "ab"[pick(random) % 2]);
    else if (p < 40)
      atom = ".";
    else if (p < 45)
      atom = "[ab]";
    else if (p < 50)
      atom = pick(random) % 2 ? "^" : "$";
    else if (p < 85)
      atom = "(" + RandomPattern(random, depth + 1) + ")";
    else
      atom = "(" + RandomPattern(random, depth + 1) + "|" + RandomPattern(random, depth + 1) + ")";
    if (atom != "^" && atom != "$") {
      int r = pick(random);
      if (r < 15)
        atom += "*";
      else if (r < 22)
        atom += "+";
      else if (r < 30)
        atom += "?";
      else if (r < 36)
        atom += "{" + std::to_string(pick(random) % 3) + "," +
                std::to_string(2 + pick(random) % 2) + "}";
      else if (r < 40)
        atom += "{" + std::to_string(pick(random) % 3) + "}";
    }
    out += atom;
  }
  if (pick(random) < 8) out += "|" + RandomPattern(random, depth + 1);
  return out;
}

TEST(RegexGroups, AgreesWithGlibcOnRandomPatterns) {
  std::mt19937 random(20260321);
  std::uniform_int_distribution<int> letter(0, 2), length(0, 7);
  std::vector<std::string> diffs;
  int compared = 0, accepted = 0, unmatched = 0;
  for (int i = 0; i < 2500; ++i) {
    std::string pattern = RandomPattern(random, 0);
    regex_t re;
    if (regcomp(&re, pattern.c_str(), REG_EXTENDED) != 0) continue;
    regfree(&re);
    RegexDfa dfa;
    RegexGroups groups;
    std::string error;
    if (!CompileRegex(pattern, &dfa, &error) || !CompileRegexGroups(pattern, &groups, &error))
      continue;
    std::vector<std::string> inputs;
    for (int j = 0; j < 6; ++j) {
      std::string s;
      for (int n = length(random); n > 0; --n) s += "abc"[letter(random)];
      inputs.push_back(s);
    }
    ++compared;
    regex::Node tree;
    if (regex::Parse(pattern, &tree, nullptr, &error) && AnchorInCopies(tree, false)) {
      std::vector<std::string> ignored;
      Compare(pattern, dfa, groups, inputs, &ignored, &unmatched);
      accepted += static_cast<int>(ignored.size());
      continue;
    }
    Compare(pattern, dfa, groups, inputs, &diffs, &unmatched);
  }
  EXPECT_GT(compared, 1500);
  std::printf(
      "%d patterns compared; %d results differ where glibc mishandles anchors; %d inputs not "
      "compared (=~ and glibc disagree on a match)\n",
      compared, accepted, unmatched);
  // All 25 of them at this seed are anchors: `$` twice on a path (`($){2}`, `$(...)$`),
  // which regex_dfa's `$` (the NUL) never matches, and glibc's `^` in the copies of a
  // bounded group (`(^a*){0,3}`), which it mishandles.
  EXPECT_LE(unmatched, 25);
  for (size_t i = 0; i < diffs.size() && i < 400; ++i) ADD_FAILURE() << diffs[i];
  EXPECT_EQ(diffs.size(), 0u);
}

}  // namespace
}  // namespace btap::codegen
