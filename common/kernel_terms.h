// Preprocessor conditions on the kernel (`kernel_v`, `kernel_vr`, `CONFIG_`): the one
// decision procedure, used when a script is compiled (frontend/preprocessor.cpp) and again
// when its object loads (runtime/session.cpp), since an object may run on another kernel.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace btap {

struct KernelTerm {
  enum class Operand : uint8_t { String, Number, Option };
  std::string name;     // "kernel_v", "kernel_vr" or "CONFIG_X"
  std::string op;       // "==", "!=", "<", ">", "<=", ">="
  std::string operand;  // a version or glob, a number, or another CONFIG_ option
  Operand kind = Operand::String;
  bool result = false;  // the compiling kernel's answer
  std::string where;    // "file:line:col" of the condition

  bool operator==(const KernelTerm&) const = default;
  // As the script wrote it: kernel_v >= "6.2".
  std::string Text() const;
};

using ConfigLookup = std::function<std::string(std::string_view)>;

// Which part of a comparison is wrong.
enum class TermPart : uint8_t { Left, Op, Right };

// Decides `t` for the kernel `release` (uname -r) configured as `config` says; false with
// `why` (and the `part` at fault) when the comparison makes no sense.
bool DecideKernelTerm(const KernelTerm& t, std::string_view release, const ConfigLookup& config,
                      bool* result, std::string* why, TermPart* part = nullptr);

// Compares versions like GNU strverscmp.
int CompareVersions(std::string_view a, std::string_view b);
// A whole decimal, 0x or 0 number (strtoll's bases), else false.
bool ParseInt64(std::string_view s, int64_t* out);
// fnmatch(3) without escapes: the preprocessor's `==`/`!=` patterns.
bool GlobMatches(std::string_view pattern, std::string_view text);

}  // namespace btap
