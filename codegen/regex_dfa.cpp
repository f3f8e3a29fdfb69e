// Regular expressions to automata (see regex_dfa.h): the parsed pattern (regex_parse.h)
// built into a Thompson NFA over bytes, then the subset construction, with the search's
// restart (the start state's closure, where `^` fails) joined to every state after the
// first.
#include "codegen/regex_dfa.h"

#include <map>
#include <set>

#include "codegen/regex_parse.h"

namespace btap::codegen {
namespace {

using regex::ByteSet;
using regex::Node;

// The NFA, built backwards: each node's states lead to `next`.
struct NfaState {
  enum Kind { Bytes, Split, StartOnly, Accept } kind = Split;
  ByteSet bytes;
  int out = -1, alt = -1;
};

class Nfa {
 public:
  int Build(const Node& n, int next) {
    if (overflow) return next;
    switch (n.kind) {
      case Node::Bytes:
        return Add({NfaState::Bytes, n.bytes, next, -1});
      case Node::StartOnly:
        return Add({NfaState::StartOnly, {}, next, -1});
      case Node::EndOnly: {  // the terminating NUL: the end of the string
        ByteSet nul;
        nul.set(0);
        return Add({NfaState::Bytes, nul, next, -1});
      }
      case Node::Group:
        return Build(n.kids[0], next);
      case Node::Concat:
        for (auto it = n.kids.rbegin(); it != n.kids.rend(); ++it) next = Build(*it, next);
        return next;
      case Node::Alt: {
        int entry = Build(n.kids.back(), next);
        for (size_t i = n.kids.size() - 1; i-- > 0;) {
          int first = Build(n.kids[i], next);
          entry = Add({NfaState::Split, {}, first, entry});
        }
        return entry;
      }
      case Node::Repeat: {
        const Node& x = n.kids[0];
        int entry = next;
        if (n.max < 0) {  // x*: a split that runs x and comes back, or leaves
          int loop = Add({NfaState::Split, {}, -1, next});
          states[loop].out = Build(x, loop);
          entry = loop;
        } else {  // the optional copies: each may leave at once
          for (int i = n.min; i < n.max; ++i)
            entry = Add({NfaState::Split, {}, Build(x, entry), next});
        }
        for (int i = 0; i < n.min; ++i) entry = Build(x, entry);
        return entry;
      }
    }
    return next;
  }
  // Past kMaxStates the NFA stops growing (bounds nested in bounds multiply their
  // copies) and the pattern is refused.
  static constexpr size_t kMaxStates = 4096;
  int Add(NfaState s) {
    if (states.size() >= kMaxStates) {
      overflow = true;
      return s.out;
    }
    states.push_back(s);
    return static_cast<int>(states.size()) - 1;
  }
  std::vector<NfaState> states;
  bool overflow = false;
};

// The states reachable from `from` without input; `^` passes only at the start.
void Closure(const Nfa& nfa, std::set<int>* set, int from, bool at_start) {
  std::vector<int> work{from};
  while (!work.empty()) {
    int s = work.back();
    work.pop_back();
    if (s < 0 || !set->insert(s).second) continue;
    const NfaState& st = nfa.states[s];
    if (st.kind == NfaState::Split) {
      work.push_back(st.out);
      work.push_back(st.alt);
    } else if (st.kind == NfaState::StartOnly && at_start) {
      work.push_back(st.out);
    }
  }
}

}  // namespace

bool CompileRegex(std::string_view pattern, RegexDfa* out, std::string* error) {
  Node tree;
  if (!regex::Parse(pattern, &tree, nullptr, error)) return false;
  Nfa nfa;
  int accept = nfa.Add({NfaState::Accept, {}, -1, -1});
  int start = nfa.Build(tree, accept);
  if (nfa.overflow) {
    *error = "its repetitions need more than " + std::to_string(Nfa::kMaxStates) + " states";
    return false;
  }
  // Bytes that every byte set treats alike move the automaton alike: one class each.
  std::map<std::vector<bool>, int> class_ids;
  std::vector<int> class_of(256), first_byte;
  for (int byte = 0; byte < 256; ++byte) {
    std::vector<bool> signature;
    for (const NfaState& st : nfa.states)
      if (st.kind == NfaState::Bytes) signature.push_back(st.bytes.test(byte));
    auto [it, added] = class_ids.emplace(signature, static_cast<int>(first_byte.size()));
    if (added) first_byte.push_back(byte);
    class_of[byte] = it->second;
  }
  std::set<int> initial, restart;
  Closure(nfa, &initial, start, true);
  Closure(nfa, &restart, start, false);
  std::map<std::set<int>, uint32_t> ids{{initial, 0}};
  std::vector<std::set<int>> sets{initial};
  out->next.clear();
  out->accept.assign(256, 0);
  for (uint32_t id = 0; id < sets.size(); ++id) {
    std::set<int> current = sets[id];  // sets grows below
    out->accept[id] = current.count(accept) ? 1 : 0;
    out->next.resize((id + 1) * 256);
    std::vector<uint8_t> by_class(first_byte.size());
    for (size_t c = 0; c < first_byte.size(); ++c) {
      int byte = first_byte[c];
      std::set<int> moved = restart;  // a match may start at the next byte too
      for (int s : current) {
        const NfaState& st = nfa.states[s];
        if (st.kind == NfaState::Bytes && st.bytes.test(byte)) Closure(nfa, &moved, st.out, false);
      }
      // Once a match was seen the answer is known: the accepting state stays so.
      if (current.count(accept)) moved = current;
      auto [it, added] = ids.emplace(moved, static_cast<uint32_t>(sets.size()));
      if (added) {
        if (sets.size() >= RegexDfa::kMaxStates) {
          *error =
              "it needs more than " + std::to_string(RegexDfa::kMaxStates) + " automaton states";
          return false;
        }
        sets.push_back(moved);
      }
      by_class[c] = static_cast<uint8_t>(it->second);
    }
    for (int byte = 0; byte < 256; ++byte) out->next[id * 256 + byte] = by_class[class_of[byte]];
  }
  out->states = static_cast<uint32_t>(sets.size());
  return true;
}

}  // namespace btap::codegen
