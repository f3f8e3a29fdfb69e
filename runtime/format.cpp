// printf formatting by SystemTap's rules (see format.h). Numbers follow the kernel
// runtime's number(): sign, then prefix, then zero padding, within the field width.
#include "runtime/format.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "common/decode_names.h"
#include "common/stats.h"
#include "runtime/symbols.h"

namespace btap::runtime {
namespace {

// The widest field and the longest precision (stap's STP_BUFFER_SIZE).
constexpr int kMaxField = 8192;

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

// The UTF-8 character at the start of `s`: its bytes (1 when it is none of 2 to 4
// bytes, not overlong, not a surrogate, at most U+10FFFF) and its code point.
size_t Utf8At(std::string_view s, uint32_t* cp) {
  auto b = static_cast<unsigned char>(s[0]);
  size_t n = (b & 0xe0) == 0xc0 && s.size() >= 2   ? 2
             : (b & 0xf0) == 0xe0 && s.size() >= 3 ? 3
             : (b & 0xf8) == 0xf0 && s.size() >= 4 ? 4
                                                   : 1;
  uint32_t c = n == 2 ? b & 0x1f : n == 3 ? b & 0x0f : b & 0x07;
  for (size_t k = 1; k < n; ++k) {
    auto more = static_cast<unsigned char>(s[k]);
    if ((more & 0xc0) != 0x80) n = 1;
    c = (c << 6) | (more & 0x3f);
  }
  if (n > 1 && ((c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff || c < 0x80 || (n == 3 && c < 0x800) ||
                (n == 4 && c < 0x10000)))
    n = 1;
  *cp = n == 1 ? b : c;
  return n;
}

// The first character of `s` (`*n` bytes of it) as string_quoted() writes it.
std::string CharText(std::string_view s, size_t* n) {
  uint32_t cp = 0;
  *n = Utf8At(s, &cp);
  auto b = static_cast<unsigned char>(s[0]);
  char buf[16];
  if (*n > 1) {
    std::snprintf(buf, sizeof buf, cp <= 0xffff ? "\\u%04X" : "\\U%08X", cp);
    return buf;
  }
  if (b >= 0x20 && b < 0x7f && b != '"' && b != '\\') return std::string(1, static_cast<char>(b));
  char e = b == '\a'               ? 'a'
           : b == '\b'             ? 'b'
           : b == '\f'             ? 'f'
           : b == '\n'             ? 'n'
           : b == '\r'             ? 'r'
           : b == '\t'             ? 't'
           : b == '\v'             ? 'v'
           : b == '"' || b == '\\' ? static_cast<char>(b)
                                   : 0;
  if (e)
    std::snprintf(buf, sizeof buf, "\\%c", e);
  else
    std::snprintf(buf, sizeof buf, "\\%03o", b);
  return buf;
}

// `%{hist}s`'s bytes (printf_format.h) as the histogram's table; nothing when they do
// not hold one.
std::string HistogramText(std::string_view s) {
  if (s.size() < 4 + 32 || (s.size() - 4) % 8) return "";
  std::vector<int64_t> words((s.size() - 4) / 8);
  std::memcpy(words.data(), s.data() + 4, words.size() * 8);
  stats::Shape shape;
  shape.hist = static_cast<stats::Hist>(words[0]);
  shape.start = words[1];
  shape.stop = words[2];
  shape.interval = words[3];
  if (words[0] != static_cast<int64_t>(stats::Hist::Log) &&
      (words[0] != static_cast<int64_t>(stats::Hist::Linear) || shape.interval <= 0 ||
       shape.stop <= shape.start || (shape.stop - shape.start) / shape.interval > 2000))
    return "";
  if (words.size() != 4 + shape.Slots()) return "";
  return stats::RenderHistogram(std::span<const int64_t>(words).subspan(4), shape);
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
    // Each string escaped as user_string_quoted() escapes it; the last string's NUL is
    // no separator.
    out += '"';
    std::string_view rest = strings.substr(0, strings.size() - 1);
    while (!rest.empty()) {
      if (rest[0] == '\0') {
        out += "\", \"";
        rest.remove_prefix(1);
        continue;
      }
      size_t n = 1;
      out += CharText(rest, &n);
      rest.remove_prefix(n);
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
    char e = c == '\n'                ? 'n'
             : c == '\t'              ? 't'
             : c == '\r'              ? 'r'
             : c == '\v'              ? 'v'
             : c == '\f'              ? 'f'
             : c == '\a'              ? 'a'
             : c == '\b'              ? 'b'
             : c == '\'' || c == '\\' ? static_cast<char>(c)
                                      : 0;
    if (e) {
      out += '\\';
      out += e;
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\%03o", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

// As bpflib's btap_text (codegen/bpflib/strings.c) makes it, which says the rules.
std::string TextStr(std::string_view in, bool quoted, size_t limit) {
  size_t whole = limit > 1 ? limit - 1 : 4095;
  if (in.size() > whole) in = in.substr(0, whole);
  if (size_t nul = in.find('\0'); nul != std::string_view::npos) in = in.substr(0, nul);
  std::string out = quoted ? "\"" : "";
  long left = quoted ? static_cast<long>(std::max<size_t>(whole, 5)) - 2 : static_cast<long>(whole);
  long esc = -1, esc_len = 0;
  bool cut = false;
  size_t i = 0;
  while (i < in.size()) {
    if (left <= 0) {
      cut = true;
      break;
    }
    size_t n = 1;
    std::string text = CharText(in.substr(i), &n);
    long num = static_cast<long>(text.size());
    if (num > 1 && esc < 0 && left - 3 < num) {
      esc = static_cast<long>(out.size());
      esc_len = num;
    }
    i += n;
    if (left < num) {
      cut = i < whole;  // bytes of the string's buffer remain, as stap counts them
      break;
    }
    out += text;
    left -= num;
  }
  if (quoted && cut) {
    long at = static_cast<long>(out.size()) - 3 + left;
    if (esc >= 0 && esc < at && at < esc + esc_len) at = esc;
    at = std::clamp<long>(at, 0, static_cast<long>(out.size()));
    out.resize(static_cast<size_t>(at));
    out += "\"...";
  } else if (quoted) {
    out += '"';
  }
  return out;
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
    // A `*` width or precision is an int, as stap's runtime reads it.
    int width = d.width == -2 ? static_cast<int>(take_long()) : d.width;
    int precision = d.precision == -2 ? static_cast<int>(take_long()) : d.precision;
    if (d.precision == -2 && precision < 0) precision = 0;  // stap's runtime: not none, as C
    bool left = d.flag == '-';
    if (width < -1) {  // a negative `*` width means left-justified, as in C
      left = true;
      width = static_cast<int>(0u - static_cast<unsigned>(width));  // INT_MIN stays negative
    }
    // stap's runtime clamps a field to its print buffer (STP_BUFFER_SIZE), and a string
    // value is cut well before that: a width of 2^31 - 1 is no 2 GB string here.
    width = std::min(width, kMaxField);
    precision = std::min(precision, kMaxField);
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
    if (d.rendering == FormatDirective::Rendering::Decode) {
      // The string the kernel's decoder made, printed by `%s`.
      const DecodeTable& table = *d.decode_table;  // (ParseFormat made it)
      std::string made =
          DecodeNames(static_cast<uint64_t>(take_long()), table.entries, table.known, table.mode);
      if (string_limit && made.size() >= string_limit) made.resize(string_limit - 1);
      std::string_view s = made;
      if (precision >= 0 && s.size() > static_cast<size_t>(precision)) s = s.substr(0, precision);
      Field(s, width, left, *target);
      continue;
    }
    switch (d.conversion) {
      case 's': {
        std::string_view s = d.group == FormatDirective::Group::Close ? group : take_string();
        std::string made;  // the text the directive makes of the string
        if (d.rendering == FormatDirective::Rendering::Histogram) {
          target->append(HistogramText(s));
          break;
        }
        if (d.rendering == FormatDirective::Rendering::Memory ||
            d.rendering == FormatDirective::Rendering::MemoryHex) {
          // The bytes `%m`/`%M` read: the precision counted them already.
          if (d.rendering == FormatDirective::Rendering::MemoryHex) {
            for (unsigned char b : s) made += Digits(b, 16, false).insert(0, b < 16 ? "0" : "");
            s = made;
          }
          Field(s, width, left, *target);
          if (d.flag == '0') target->push_back('\0');  // stap's runtime writes a NUL after
          break;
        }
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
            made = TextStr(s.substr(1), true, string_limit);
          } else {
            made = s;
          }
          if (string_limit && made.size() >= string_limit) made.resize(string_limit - 1);
          s = made;
        }
        if (precision >= 0 && s.size() > static_cast<size_t>(precision)) s = s.substr(0, precision);
        Field(s, width, left, *target);  // `%#s` too: stap's runtime ignores the flag there
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
