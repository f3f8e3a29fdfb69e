// Regular expressions to automata (see regex_dfa.h): a parser of POSIX extended syntax
// building a Thompson NFA over bytes, then the subset construction, with the search's
// restart (the start state's closure, where `^` fails) joined to every state after the
// first.
#include "codegen/regex_dfa.h"

#include <algorithm>
#include <bitset>
#include <cctype>
#include <map>
#include <set>

namespace btap::codegen {
namespace {

using ByteSet = std::bitset<256>;

// The pattern's tree.
struct Node {
  enum Kind { Bytes, StartOnly, Concat, Alt, Repeat };
  explicit Node(Kind k = Concat) : kind(k) {}
  Kind kind;
  ByteSet bytes;
  std::vector<Node> kids;
  int min = 0, max = -1;  // Repeat: -1 is no bound
};

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  bool Parse(Node* out, std::string* error) {
    bool ok = Alternation(out);
    if (ok && at_ < p_.size()) ok = Fail("an unmatched `)`");
    if (!ok) *error = error_;
    return ok;
  }

 private:
  bool Fail(const std::string& why) {
    if (error_.empty()) error_ = why;
    return false;
  }

  bool Alternation(Node* out) {
    Node alt(Node::Alt);
    alt.kids.emplace_back();
    if (!Concatenation(&alt.kids.back())) return false;
    while (at_ < p_.size() && p_[at_] == '|') {
      ++at_;
      alt.kids.emplace_back();
      if (!Concatenation(&alt.kids.back())) return false;
    }
    *out = alt.kids.size() == 1 ? std::move(alt.kids[0]) : std::move(alt);
    return true;
  }

  bool Concatenation(Node* out) {
    *out = Node(Node::Concat);
    while (at_ < p_.size() && p_[at_] != '|' && p_[at_] != ')') {
      Node piece;
      if (!Atom(&piece)) return false;
      while (at_ < p_.size()) {
        int min = 0, max = -1;
        char c = p_[at_];
        if (c == '*') {
          ++at_;
        } else if (c == '+') {
          min = 1;
          ++at_;
        } else if (c == '?') {
          max = 1;
          ++at_;
        } else if (c != '{' || !Bounds(&min, &max)) {
          break;
        }
        if (max >= 0 && max < min) return Fail("a repetition whose maximum is below its minimum");
        if (min > 255 || max > 255) return Fail("a repetition of more than 255");
        Node repeat(Node::Repeat);
        repeat.min = min;
        repeat.max = max;
        repeat.kids.push_back(std::move(piece));
        piece = std::move(repeat);
      }
      out->kids.push_back(std::move(piece));
    }
    return true;
  }

  // `{m}`, `{m,}`, `{m,n}`, `{,n}` at at_; false (at_ unchanged) when it is not a bound.
  bool Bounds(int* min, int* max) {
    size_t i = at_ + 1;
    auto number = [&](int* v) {
      size_t begin = i;
      *v = 0;
      while (i < p_.size() && std::isdigit(static_cast<unsigned char>(p_[i])))
        *v = std::min(*v * 10 + (p_[i++] - '0'), 100000);  // past 255 is refused anyway
      return i > begin;
    };
    // `{,n}` is `{0,n}`, as glibc reads it.
    if (!number(min) && (i >= p_.size() || p_[i] != ',')) return false;
    *max = *min;
    if (i < p_.size() && p_[i] == ',') {
      ++i;
      if (!number(max)) *max = -1;
    }
    if (i >= p_.size() || p_[i] != '}') return false;
    at_ = i + 1;
    return true;
  }

  bool Atom(Node* out) {
    char c = p_[at_++];
    *out = Node(Node::Bytes);
    switch (c) {
      case '(':
        if (!Alternation(out)) return false;
        if (at_ >= p_.size() || p_[at_] != ')') return Fail("an unmatched `(`");
        ++at_;
        return true;
      case '^':
        out->kind = Node::StartOnly;
        return true;
      case '$':
        out->bytes.set(0);  // the terminating NUL: the end of the string
        return true;
      case '.':
        out->bytes.set();
        out->bytes.reset(0);
        return true;
      case '[':
        return Bracket(&out->bytes);
      case '\\':
        if (at_ >= p_.size()) return Fail("a trailing backslash");
        return Escape(p_[at_++], &out->bytes);
      case '*':
      case '+':
      case '?':
        return Fail("a repetition of nothing");
      default:
        out->bytes.set(static_cast<unsigned char>(c));
        return true;
    }
  }

  bool Escape(char c, ByteSet* set) {
    auto cls = [&](int (*is)(int), bool word, bool negate) {
      for (int b = 1; b < 256; ++b)
        if ((b < 128 && (is(b) != 0 || (word && b == '_'))) != negate) set->set(b);
    };
    switch (c) {
      case 'w':
      case 'W':
        cls(isalnum, true, c == 'W');
        return true;
      case 's':
      case 'S':
        cls(isspace, false, c == 'S');
        return true;
      case 'b':
      case 'B':
      case '<':
      case '>':
      case '`':
      case '\'':
        return Fail(std::string("the assertion `\\") + c + "`");
      default:
        if (std::isdigit(static_cast<unsigned char>(c)) && c != '0')
          return Fail(std::string("the back reference `\\") + c + "`");
        set->set(static_cast<unsigned char>(c));
        return true;
    }
  }

  // After `[`: a bracket expression up to its `]`.
  bool Bracket(ByteSet* set) {
    bool negate = at_ < p_.size() && p_[at_] == '^';
    if (negate) ++at_;
    for (bool first = true;; first = false) {
      if (at_ >= p_.size()) return Fail("an unmatched `[`");
      char c = p_[at_];
      if (c == ']' && !first) {
        ++at_;
        break;
      }
      if (c == '[' && at_ + 1 < p_.size() && p_[at_ + 1] == ':') {
        size_t end = p_.find(":]", at_ + 2);
        if (end == std::string_view::npos) return Fail("an unmatched `[:`");
        std::string name(p_.substr(at_ + 2, end - at_ - 2));
        if (!Class(name, set)) return Fail("the character class `[:" + name + ":]`");
        at_ = end + 2;
        continue;
      }
      if (c == '[' && at_ + 1 < p_.size() && (p_[at_ + 1] == '.' || p_[at_ + 1] == '='))
        return Fail("collating elements and equivalence classes");
      auto low = static_cast<unsigned char>(c);
      ++at_;
      if (at_ + 1 < p_.size() && p_[at_] == '-' && p_[at_ + 1] != ']') {
        auto high = static_cast<unsigned char>(p_[at_ + 1]);
        at_ += 2;
        if (high < low) return Fail("a range whose end is below its start");
        for (int b = low; b <= high; ++b) set->set(b);
      } else {
        set->set(low);
      }
    }
    if (negate) set->flip();
    set->reset(0);
    return true;
  }

  static bool Class(const std::string& name, ByteSet* set) {
    static const std::map<std::string, int (*)(int)> kClasses = {
        {"alpha", isalpha}, {"digit", isdigit}, {"alnum", isalnum}, {"upper", isupper},
        {"lower", islower}, {"space", isspace}, {"punct", ispunct}, {"xdigit", isxdigit},
        {"print", isprint}, {"graph", isgraph}, {"cntrl", iscntrl}, {"blank", isblank}};
    auto it = kClasses.find(name);
    if (it == kClasses.end()) return false;
    for (int b = 1; b < 128; ++b)  // the C locale's classes: ASCII
      if (it->second(b)) set->set(b);
    return true;
  }

  std::string_view p_;
  size_t at_ = 0;
  std::string error_;
};

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
  if (!Parser(pattern).Parse(&tree, error)) return false;
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
