// printf format parsing (see printf_format.h).
#include "common/printf_format.h"

#include <cstring>

namespace btap {

bool ParseFormat(std::string_view f, std::vector<FormatDirective>& out, std::string* error,
                 size_t* error_offset) {
  size_t i = 0;
  while (i < f.size()) {
    size_t start = i;
    if (f[i] != '%') {
      while (i < f.size() && f[i] != '%') ++i;
      out.push_back({f.substr(start, i - start), true});
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      out.push_back({f.substr(i, 1), true});
      i += 2;
      continue;
    }
    FormatDirective d;
    ++i;
    if (i < f.size() && std::strchr("0+- #", f[i]) && f[i]) d.flag = f[i++];
    auto number = [&](int& slot) {
      if (i < f.size() && f[i] == '*') {
        slot = -2;
        ++i;
        return;
      }
      if (i >= f.size() || f[i] < '0' || f[i] > '9') return;
      slot = 0;
      while (i < f.size() && f[i] >= '0' && f[i] <= '9' && slot < 100000)
        slot = slot * 10 + (f[i++] - '0');
    };
    number(d.width);
    if (i < f.size() && f[i] == '.') {
      ++i;
      d.precision = 0;
      number(d.precision);
    }
    while (i < f.size() && f[i] == 'l') ++i;
    if (i >= f.size()) {
      *error = "incomplete conversion at the end of the format";
      *error_offset = start;
      return false;
    }
    char c = f[i++];
    if (!std::strchr("diuoxXcspbmM", c)) {
      *error = std::string("invalid conversion `%") + c + "`" +
               (std::strchr("fFeEgGaA", c) ? " (no floating point in SystemTap)" : "");
      *error_offset = start;
      return false;
    }
    d.conversion = c;
    d.arg = c == 's' ? FormatDirective::Arg::String : FormatDirective::Arg::Long;
    d.text = f.substr(start, i - start);
    out.push_back(d);
  }
  return true;
}

}  // namespace btap
