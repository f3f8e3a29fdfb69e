// Deciding kernel conditions (see kernel_terms.h).
#include "common/kernel_terms.h"

#include <fnmatch.h>
#include <string.h>

#include <cerrno>
#include <cstdlib>

namespace btap {
namespace {

template <typename T>
bool Compare(const T& a, std::string_view op, const T& b) {
  if (op == "==") return a == b;
  if (op == "!=") return a != b;
  if (op == "<") return a < b;
  if (op == ">") return a > b;
  if (op == "<=") return a <= b;
  return op == ">=" && a >= b;
}

}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  std::string str(s);
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(str.c_str(), &end, 0);
  if (errno || *end != '\0') return false;
  *out = v;
  return true;
}

bool GlobMatches(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), FNM_NOESCAPE) == 0;
}

std::string KernelTerm::Text() const {
  return name + " " + op + " " + (kind == Operand::String ? "\"" + operand + "\"" : operand);
}

int CompareVersions(std::string_view a, std::string_view b) {
  int r = ::strverscmp(std::string(a).c_str(), std::string(b).c_str());
  return r < 0 ? -1 : (r > 0 ? 1 : 0);
}

bool DecideKernelTerm(const KernelTerm& t, std::string_view release, const ConfigLookup& config,
                      bool* result, std::string* why, TermPart* part) {
  auto wrong = [&](TermPart at, std::string message) {
    *why = std::move(message);
    if (part) *part = at;
    return false;
  };
  bool equality = t.op == "==" || t.op == "!=";
  auto glob = [&](std::string_view value) {
    return GlobMatches(t.operand, value) == (t.op == "==");
  };
  if (t.name == "kernel_v" || t.name == "kernel_vr") {
    if (t.kind != KernelTerm::Operand::String)
      return wrong(TermPart::Right, "expected a version string after `" + t.name + "`");
    std::string_view target = t.name == "kernel_v" ? release.substr(0, release.find('-')) : release;
    if (t.operand.find_first_of("*?[") != std::string::npos) {
      if (!equality) return wrong(TermPart::Op, "wildcards are only allowed with `==` and `!=`");
      *result = glob(target);
      return true;
    }
    *result = Compare(CompareVersions(target, t.operand), t.op, 0);
    return true;
  }
  std::string value = config ? config(t.name) : std::string();
  switch (t.kind) {
    case KernelTerm::Operand::String:
      if (!equality)
        return wrong(TermPart::Op,
                     "a `CONFIG_` option can only be compared to a string with `==` or `!=`");
      *result = glob(value);
      return true;
    case KernelTerm::Operand::Number: {
      int64_t lhs = 0, rhs = 0;
      if (!ParseInt64(value, &lhs))
        return wrong(TermPart::Left, "`" + t.name + "` is not a number");
      if (!ParseInt64(t.operand, &rhs))
        return wrong(TermPart::Right, "invalid number `" + t.operand + "`");
      *result = Compare(lhs, t.op, rhs);
      return true;
    }
    case KernelTerm::Operand::Option: {
      std::string other = config ? config(t.operand) : std::string();
      int64_t a = 0, b = 0;
      *result = ParseInt64(value, &a) && ParseInt64(other, &b) ? Compare(a, t.op, b)
                                                               : Compare(value, t.op, other);
      return true;
    }
  }
  return false;
}

}  // namespace btap
