// The runtime's printf: formats a parsed format string with its arguments by
// SystemTap's rules (64-bit longs, at most one flag, `*` widths, `%#x` of 0 is `0x0`,
// `%p` is `%#x`, `%#s`/`%#c` C-escape, `%b` writes raw bytes).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/printf_format.h"

namespace btap::runtime {

struct FormatArg {
  bool is_string = false;
  int64_t number = 0;
  std::string_view string;

  static FormatArg Long(int64_t v) { return {false, v, {}}; }
  static FormatArg String(std::string_view s) { return {true, 0, s}; }
};

// Appends the formatted text to `out`. Arguments were checked at compile time; a
// missing or mistyped one (a malformed record) formats as 0 or "". A group's text is cut
// to `string_limit` - 1 bytes, as a string value of the session is (0: not cut).
void Format(std::span<const FormatDirective> directives, std::span<const FormatArg> args,
            std::string& out, size_t string_limit = 0);

// Convenience for tests and user-side probes: parses and formats in one go.
std::string FormatString(std::string_view format, std::span<const FormatArg> args);

// C escapes as `%#c` writes them: byte by byte, the quote `'` and the backslash escaped,
// the double quote not. (`%#s` prints the string as `%s` does, as in stap's runtime.)
void AppendEscaped(std::string_view s, std::string& out);

// `in` (to its first NUL, at most `limit` - 1 bytes) escaped as string_quoted() (quoted)
// or text_str() escapes it, in at most `limit` - 1 bytes (0: 4096).
std::string TextStr(std::string_view in, bool quoted, size_t limit);

// The text of `%{argv}s` (see printf_format.h), before it is cut to the string length.
std::string ArgList(std::string_view raw);

}  // namespace btap::runtime
