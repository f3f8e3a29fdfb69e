// Where the parenthesized groups of a regular expression matched (stap's matched(),
// matched_str(), ngroups()), as glibc's regexec reports them: tables made when the
// script is compiled, walked over the string by bpflib's btap_regex_groups after an
// `=~` found a match (bpflib/regex_walk.h says how). Made only for the probes that ask
// for the groups; the truth of `=~` stays regex_dfa's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btap::codegen {

struct RegexGroups {
  static constexpr int kMaxGroups = 63;        // and group 0, the whole match
  static constexpr uint32_t kMaxNodes = 255;   // node numbers are bytes, 255 is none
  static constexpr uint32_t kMaxStates = 255;  // of each automaton
  int groups = 0;                              // the pattern's `(`s
  std::vector<uint8_t> tables;                 // a power of two of bytes
};

// Makes the tables of `pattern`; false, with `error` saying why, for what they cannot
// hold (besides what regex_dfa refuses: more than kMaxGroups groups, kMaxNodes nodes or
// kMaxStates states).
bool CompileRegexGroups(std::string_view pattern, RegexGroups* out, std::string* error);

}  // namespace btap::codegen
