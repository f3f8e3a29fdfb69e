// Regular expressions (POSIX extended, as stap's `=~` takes them) compiled to a
// deterministic automaton when the script is compiled: a table that a probe walks one
// byte at a time (bpflib's btap_regex_search), in the kernel and in btap's interpreter
// alike. The walk searches: a match may start anywhere in the string, `^` holds at its
// start only and `$` at its end (the terminating NUL is the automaton's last input).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btap::codegen {

struct RegexDfa {
  static constexpr uint32_t kMaxStates = 255;  // a state is one byte of the table
  uint32_t states = 0;
  std::vector<uint8_t> next;    // state * 256 + byte -> state; state 0 is the start
  std::vector<uint8_t> accept;  // 256 flags, by state: a match has been seen
};

// Compiles `pattern`; false, with `error` saying why, for what the automaton cannot hold
// (back references, word boundaries, more than kMaxStates states). The pattern's syntax
// was checked by pass 2 already (regcomp).
bool CompileRegex(std::string_view pattern, RegexDfa* out, std::string* error);

}  // namespace btap::codegen
