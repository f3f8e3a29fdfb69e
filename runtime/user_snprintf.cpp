// bpf_snprintf for the interpreter (see user_snprintf.h).
#include "runtime/user_snprintf.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace btap::runtime {
namespace {

// A NUL-terminated string the program may read, at most `max` bytes.
bool ReadString(const Interpreter& memory, uint64_t address, size_t max, std::string* out) {
  for (size_t i = 0; i < max; ++i) {
    if (!memory.Accessible(address + i, 1, false)) return false;
    char c = *reinterpret_cast<const char*>(address + i);
    if (!c) return true;
    out->push_back(c);
  }
  return true;
}

}  // namespace

uint64_t UserSnprintf(const Interpreter& memory, const uint64_t args[5], std::string* error) {
  uint64_t dst = args[0], size = args[1], fmt_at = args[2], data = args[3], len = args[4];
  std::string fmt;
  if (!ReadString(memory, fmt_at, 4096, &fmt)) {
    *error = "snprintf: format out of bounds";
    return 0;
  }
  if (len % 8 || (len && !memory.Accessible(data, len, false)) ||
      (size && !memory.Accessible(dst, size, true))) {
    *error = "snprintf: buffer out of bounds";
    return 0;
  }
  std::string out;
  size_t next = 0, count = len / 8;
  for (size_t i = 0; i < fmt.size(); ++i) {
    if (fmt[i] != '%') {
      out += fmt[i];
      continue;
    }
    size_t start = i++;
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i])) ++i;
    while (i < fmt.size() && (std::isdigit(static_cast<unsigned char>(fmt[i])) || fmt[i] == '.'))
      ++i;
    std::string spec = fmt.substr(start, i - start);
    int longs = 0;  // as the kernel: without `l` a number is 32 bits wide
    for (; i < fmt.size() && (fmt[i] == 'l' || fmt[i] == 'h'); ++i) longs += fmt[i] == 'l';
    char conv = i < fmt.size() ? fmt[i] : 0;
    if (conv == '%') {
      out += '%';
      continue;
    }
    if (!std::strchr("diuxXocsp", conv) || conv == 0) {
      *error = "snprintf: unsupported directive in `" + fmt + "`";
      return static_cast<uint64_t>(-EINVAL);
    }
    if (next >= count) {
      *error = "snprintf: too few arguments for `" + fmt + "`";
      return static_cast<uint64_t>(-EINVAL);
    }
    uint64_t v;
    std::memcpy(&v, reinterpret_cast<const void*>(data + 8 * next++), 8);
    // Each conversion is formatted at its full width (the kernel's too is cut only by `size`).
    auto format = [&](const std::string& f, auto value) {
      int n = std::snprintf(nullptr, 0, f.c_str(), value);
      if (n <= 0) return;
      std::string piece(static_cast<size_t>(n) + 1, '\0');
      std::snprintf(piece.data(), piece.size(), f.c_str(), value);
      piece.resize(static_cast<size_t>(n));
      out += piece;
    };
    if (conv == 's') {
      std::string s;
      ReadString(memory, v, 4096, &s);  // the kernel prints what it could read
      format(spec + "s", s.c_str());
    } else if (conv == 'p') {
      format("0x%llx", static_cast<unsigned long long>(v));
    } else if (conv == 'c') {
      format(spec + "c", static_cast<int>(v & 0xff));
    } else if (longs == 0 && std::strchr("di", conv)) {
      format(spec + conv, static_cast<int>(static_cast<uint32_t>(v)));
    } else if (longs == 0) {
      format(spec + conv, static_cast<unsigned>(static_cast<uint32_t>(v)));
    } else {
      format(spec + "ll" + conv, static_cast<long long>(v));
    }
  }
  if (size) {
    size_t n = std::min<size_t>(out.size(), size - 1);
    std::memcpy(reinterpret_cast<void*>(dst), out.data(), n);
    reinterpret_cast<char*>(dst)[n] = 0;
  }
  return out.size() + 1;
}

}  // namespace btap::runtime
