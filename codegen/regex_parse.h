// Regular expressions (POSIX extended syntax, as stap's `=~` takes them) parsed to a
// tree: what regex_dfa (the truth of a match) and regex_submatch (where the pattern's
// parenthesized groups matched) build their automata from.
#pragma once

#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace btap::codegen::regex {

using ByteSet = std::bitset<256>;

struct Node {
  enum Kind { Bytes, StartOnly, EndOnly, Concat, Alt, Repeat, Group };
  explicit Node(Kind k = Concat) : kind(k) {}
  Kind kind;
  ByteSet bytes;           // Bytes: the bytes it matches (never NUL)
  std::vector<Node> kids;  // Concat, Alt: in order; Repeat, Group: one
  int min = 0, max = -1;   // Repeat: -1 is no bound
  int group = 0;           // Group: its number, counted from 1 by its `(`
};

// Parses `pattern` into `out`; `groups` (optional) gets the number of parenthesized
// groups. False, with `error` saying why, for what btap's automata cannot hold (back
// references, word boundaries, collating elements) and for bad syntax, which pass 2
// (regcomp) has refused already.
bool Parse(std::string_view pattern, Node* out, int* groups, std::string* error);

}  // namespace btap::codegen::regex
