// printf format parsing (see printf_format.h).
#include "common/printf_format.h"

#include "common/decode_names.h"

#include <cstring>
#include <iterator>

namespace btap {
namespace {

// In Symbolic's order; the user modes are these names with a `u` in front.
constexpr std::string_view kSymbolicNames[] = {"",
                                               "symname",
                                               "symdata",
                                               "caller",
                                               "syms",
                                               "backtrace",
                                               "sbacktrace",
                                               "backtrace_brief",
                                               "backtrace_fileline",
                                               "symfile",
                                               "symline",
                                               "symfileline",
                                               "modname"};
constexpr size_t kKernelModes = std::size(kSymbolicNames);

}  // namespace

std::string SymbolicName(Symbolic s) {
  if (!UserSymbolic(s)) return std::string(kSymbolicNames[static_cast<size_t>(s)]);
  return "u" + std::string(kSymbolicNames[static_cast<size_t>(KernelShape(s))]);
}

bool ParseFormat(std::string_view f, std::vector<FormatDirective>& out, std::string* error,
                 size_t* error_offset, bool internal) {
  size_t i = 0;
  size_t open_groups = 0;
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
    if (internal && f.substr(i).starts_with("{(}")) {
      if (d.flag || d.width != -1 || d.precision != -1) {
        *error = "a group's start takes no flag, width or precision";
        *error_offset = start;
        return false;
      }
      i += 3;
      ++open_groups;
      d.group = FormatDirective::Group::Open;
      d.text = f.substr(start, i - start);
      out.push_back(d);
      continue;
    }
    if (internal && f.substr(i).starts_with("{)}")) {
      if (!open_groups || !f.substr(i).starts_with("{)}s") || d.width == -2 || d.precision == -2) {
        *error = "a group ends, after its start, with `{)}s` and a fixed width and precision";
        *error_offset = start;
        return false;
      }
      i += 4;
      --open_groups;
      d.group = FormatDirective::Group::Close;
      d.conversion = 's';
      d.text = f.substr(start, i - start);
      out.push_back(d);
      continue;
    }
    if (internal && i < f.size() && f[i] == '{') {
      size_t close = f.find('}', i);
      std::string_view name = close == std::string_view::npos ? "" : f.substr(i + 1, close - i - 1);
      for (size_t k = 1; k < kKernelModes; ++k) {
        if (name.empty()) break;
        if (name == kSymbolicNames[k]) d.symbolic = static_cast<Symbolic>(k);
        if (name.substr(1) == kSymbolicNames[k] && name[0] == 'u')
          d.symbolic = static_cast<Symbolic>(k - 1 + static_cast<size_t>(Symbolic::UName));
      }
      if (name == "quoted") d.rendering = FormatDirective::Rendering::Quoted;
      if (name == "argv") d.rendering = FormatDirective::Rendering::ArgList;
      if (name == "task") d.rendering = FormatDirective::Rendering::Task;
      if (name == "mem") d.rendering = FormatDirective::Rendering::Memory;
      if (name == "memhex") d.rendering = FormatDirective::Rendering::MemoryHex;
      if (name == "hist") d.rendering = FormatDirective::Rendering::Histogram;
      if (name.starts_with("decode:")) {
        d.rendering = FormatDirective::Rendering::Decode;
        d.decode = name.substr(7);
        d.decode_table = SharedDecodeTable(d.decode);
        if (!d.decode_table) {
          *error = "invalid table of names";
          *error_offset = start;
          return false;
        }
      }
      char want = d.rendering == FormatDirective::Rendering::Task ||
                          d.rendering == FormatDirective::Rendering::Decode
                      ? 'd'
                      : 's';
      if ((d.symbolic == Symbolic::None && d.rendering == FormatDirective::Rendering::AsIs) ||
          close + 1 >= f.size() || f[close + 1] != want) {
        *error = "invalid symbolic conversion";
        *error_offset = start;
        return false;
      }
      i = close + 1;
    }
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
  if (open_groups) {
    *error = "a group is not ended";
    *error_offset = f.size();
    return false;
  }
  return true;
}

}  // namespace btap
