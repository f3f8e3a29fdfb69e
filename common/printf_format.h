// SystemTap printf format strings: `%[flag][width][.precision][l]conv`, shared by pass 2
// (argument checks) and the runtime (formatting).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace btap {

struct FormatDirective {
  enum class Arg : uint8_t { None, Long, String };
  std::string_view text;  // the literal text before this directive, or the whole directive
  bool literal = false;   // plain text (including `%%` as a single '%')
  char flag = 0;          // one of 0 + - space #
  int width = -1;         // -1 absent, -2 `*`
  int precision = -1;     // -1 absent, -2 `*`
  char conversion = 0;    // d i u o x X c s p b m M
  Arg arg = Arg::None;    // what the conversion consumes
};

// Splits `format` into literal runs and directives; on a malformed directive returns
// false with a message and the byte offset of the bad directive.
bool ParseFormat(std::string_view format, std::vector<FormatDirective>& out, std::string* error,
                 size_t* error_offset);

}  // namespace btap
