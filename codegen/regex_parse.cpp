// Parsing POSIX extended regular expressions (see regex_parse.h): recursive descent over
// alternation, concatenation and repetition, byte sets for brackets and classes.
#include "codegen/regex_parse.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace btap::codegen::regex {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view p) : p_(p) {}

  bool Parse(Node* out, int* groups, std::string* error) {
    bool ok = Alternation(out);
    if (ok && at_ < p_.size()) ok = Fail("an unmatched `)`");
    if (!ok) *error = error_;
    if (groups) *groups = groups_;
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
      case '(': {
        *out = Node(Node::Group);
        out->group = ++groups_;
        out->kids.emplace_back();
        if (!Alternation(&out->kids[0])) return false;
        if (at_ >= p_.size() || p_[at_] != ')') return Fail("an unmatched `(`");
        ++at_;
        return true;
      }
      case '^':
        out->kind = Node::StartOnly;
        return true;
      case '$':
        out->kind = Node::EndOnly;
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
  int groups_ = 0;
  std::string error_;
};

}  // namespace

bool Parse(std::string_view pattern, Node* out, int* groups, std::string* error) {
  return Parser(pattern).Parse(out, groups, error);
}

}  // namespace btap::codegen::regex
