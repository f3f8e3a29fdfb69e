// printf formatting by SystemTap's rules (see format.h). Numbers follow the kernel
// runtime's number(): sign, then prefix, then zero padding, within the field width.
#include "runtime/format.h"

#include <cstdio>

#include "runtime/symbols.h"

namespace btap::runtime {
namespace {

void Pad(std::string& out, size_t n, char c) { out.append(n, c); }

// Places `body` in a field of `width`, left-justified with '-'.
void Field(std::string_view body, int width, bool left, std::string& out) {
  size_t w = width > 0 ? static_cast<size_t>(width) : 0;
  if (!left && body.size() < w) Pad(out, w - body.size(), ' ');
  out.append(body);
  if (left && body.size() < w) Pad(out, w - body.size(), ' ');
}

std::string Digits(uint64_t v, int base, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string s;
  do {
    s.insert(s.begin(), digits[v % base]);
    v /= base;
  } while (v);
  return s;
}

void Number(const FormatDirective& d, int64_t value, int width, int precision, std::string& out) {
  char conv = d.conversion;
  bool special = d.flag == '#' || conv == 'p';
  int base = conv == 'o' ? 8 : (conv == 'x' || conv == 'X' || conv == 'p') ? 16 : 10;
  bool is_signed = conv == 'd' || conv == 'i';
  std::string sign;
  uint64_t magnitude = static_cast<uint64_t>(value);
  if (is_signed) {
    if (value < 0) {
      sign = "-";
      magnitude = 0 - magnitude;
    } else if (d.flag == '+') {
      sign = "+";
    } else if (d.flag == ' ') {
      sign = " ";
    }
  }
  std::string prefix;
  if (special && base == 16) prefix = conv == 'X' ? "0X" : "0x";
  if (special && base == 8) prefix = "0";
  std::string digits = Digits(magnitude, base, conv == 'X');
  if (precision > 0 && digits.size() < static_cast<size_t>(precision))
    digits.insert(0, precision - digits.size(), '0');
  size_t used = sign.size() + prefix.size() + digits.size();
  if (d.flag == '0' && width > 0 && used < static_cast<size_t>(width)) {
    digits.insert(0, width - used, '0');
  }
  Field(sign + prefix + digits, width, d.flag == '-', out);
}

void Binary(int64_t value, int width, std::string& out) {
  size_t size = width == 1 || width == 2 || width == 4 ? static_cast<size_t>(width) : 8;
  uint64_t v = static_cast<uint64_t>(value);
  for (size_t i = 0; i < size; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

// What btap_user_argv_raw() wrote (the unreadable address, 8 bytes, then the strings it
// copied, NUL after NUL) as the kernel's __get_argv() makes it: ["a", "b"], and the
// address unquoted at the end when there is one.
std::string ArgList(std::string_view raw) {
  uint64_t fault = 0;
  for (size_t i = 0; i < 8 && i < raw.size(); ++i)
    fault |= uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
  std::string_view strings = raw.size() > 8 ? raw.substr(8) : std::string_view();
  std::string out = "[";
  if (!strings.empty()) {
    out += '"';
    // The last string's NUL is no separator.
    for (char c : strings.substr(0, strings.size() - 1)) {
      if (c)
        AppendEscaped(std::string_view(&c, 1), out);
      else
        out += "\", \"";
    }
    out += '"';
  }
  if (fault) {
    if (!strings.empty()) out += ", ";
    char hex[24];
    std::snprintf(hex, sizeof hex, "0x%llx", static_cast<unsigned long long>(fault));
    out += hex;
  }
  return out + "]";
}

void AppendEscaped(std::string_view s, std::string& out) {
  for (unsigned char c : s) {
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\v':
        out += "\\v";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\a':
        out += "\\a";
        break;
      case '\b':
        out += "\\b";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\'':
        out += "\\'";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

void Format(std::span<const FormatDirective> directives, std::span<const FormatArg> args,
            std::string& whole, size_t string_limit) {
  size_t next = 0;
  // The text of the groups being formatted, innermost last.
  std::vector<std::string> groups;
  std::string* target = &whole;  // where text goes: `whole` or the innermost group
  int task = 0;                  // the process whose user addresses are symbolized
  auto take_long = [&]() -> int64_t {
    if (next >= args.size()) return 0;
    const FormatArg& a = args[next++];
    return a.is_string ? 0 : a.number;
  };
  auto take_string = [&]() -> std::string_view {
    if (next >= args.size()) return {};
    const FormatArg& a = args[next++];
    return a.is_string ? a.string : std::string_view();
  };
  for (const FormatDirective& d : directives) {
    if (d.literal) {
      target->append(d.text);
      continue;
    }
    if (d.group == FormatDirective::Group::Open) {
      target = &groups.emplace_back();
      continue;
    }
    if (d.rendering == FormatDirective::Rendering::Task) {
      task = static_cast<int>(take_long());
      continue;
    }
    int width = d.width == -2 ? static_cast<int>(take_long()) : d.width;
    int precision = d.precision == -2 ? static_cast<int>(take_long()) : d.precision;
    bool left = d.flag == '-';
    if (width < -1) {  // a negative `*` width means left-justified, as in C
      left = true;
      width = -width;
    }
    std::string group;
    if (d.group == FormatDirective::Group::Close && !groups.empty()) {
      group = std::move(groups.back());
      groups.pop_back();
      target = groups.empty() ? &whole : &groups.back();
      // The string the kernel would have made ends at its first NUL (%c of 0, %b, a
      // format's \000), and at MAXSTRINGLEN - 1 bytes.
      if (size_t nul = group.find('\0'); nul != std::string::npos) group.resize(nul);
      if (string_limit && group.size() >= string_limit) group.resize(string_limit - 1);
    }
    switch (d.conversion) {
      case 's': {
        std::string_view s = d.group == FormatDirective::Group::Close ? group : take_string();
        std::string made;  // the text the directive makes of the string
        if (d.symbolic != Symbolic::None) {
          made = Symbolize(d.symbolic, s, task);
          s = made;
        } else if (d.rendering == FormatDirective::Rendering::AsIs &&
                   s.find('\2') != std::string_view::npos) {
          made = ExpandSymbolTags(s, string_limit);
          s = made;
        } else if (d.rendering != FormatDirective::Rendering::AsIs) {
          if (d.rendering == FormatDirective::Rendering::ArgList) {
            made = ArgList(s);
          } else if (!s.empty() && s[0] == '\x01') {
            made = "\"";
            AppendEscaped(s.substr(1), made);
            made += '"';
          } else {
            made = s;
          }
          if (string_limit && made.size() >= string_limit) made.resize(string_limit - 1);
          s = made;
        }
        if (precision >= 0 && s.size() > static_cast<size_t>(precision)) s = s.substr(0, precision);
        if (d.flag == '#') {
          std::string escaped;
          AppendEscaped(s, escaped);
          Field(escaped, width, left, *target);
        } else {
          Field(s, width, left, *target);
        }
        break;
      }
      case 'c': {
        char c = static_cast<char>(take_long());
        std::string body;
        if (d.flag == '#')
          AppendEscaped(std::string_view(&c, 1), body);
        else
          body.push_back(c);
        Field(body, width, left, *target);
        break;
      }
      case 'b':
        Binary(take_long(), width, *target);
        break;
      default: {
        FormatDirective copy = d;
        if (left) copy.flag = '-';
        Number(copy, take_long(), width, precision, *target);
      }
    }
  }
}

std::string FormatString(std::string_view format, std::span<const FormatArg> args) {
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  std::string out;
  if (!ParseFormat(format, directives, &error, &offset, /*internal=*/true)) return out;
  Format(directives, args, out);
  return out;
}

}  // namespace btap::runtime
