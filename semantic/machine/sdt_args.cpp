// The operands of SDT notes (sys/sdt.h on x86-64, AT&T syntax): `-4@%edi`, `8@-8(%rbp)`,
// `4@$5`, `8@sym(%rip)`, `8@(%rax,%rbx,8)` parsed into SdtArg (see elf_image.h).
#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/elf_image.h"

namespace btap::sema {
namespace {

struct RegisterName {
  std::string name;
  int reg, bytes;
  bool high_byte;
};

const std::vector<RegisterName>& RegisterNames() {
  static const std::vector<RegisterName> names = [] {
    std::vector<RegisterName> out;
    // In DWARF order: rax rdx rcx rbx rsi rdi rbp rsp.
    const char* legacy[8][4] = {{"rax", "eax", "ax", "al"},  {"rdx", "edx", "dx", "dl"},
                                {"rcx", "ecx", "cx", "cl"},  {"rbx", "ebx", "bx", "bl"},
                                {"rsi", "esi", "si", "sil"}, {"rdi", "edi", "di", "dil"},
                                {"rbp", "ebp", "bp", "bpl"}, {"rsp", "esp", "sp", "spl"}};
    const int widths[4] = {8, 4, 2, 1};
    for (int r = 0; r < 8; ++r)
      for (int w = 0; w < 4; ++w) out.push_back({legacy[r][w], r, widths[w], false});
    for (int r = 0; r < 4; ++r) out.push_back({std::string(1, "adcb"[r]) + "h", r, 1, true});
    for (int r = 8; r < 16; ++r) {
      std::string base = "r" + std::to_string(r);
      for (auto [suffix, bytes] : {std::pair{"", 8}, {"d", 4}, {"w", 2}, {"b", 1}, {"l", 1}})
        out.push_back({base + suffix, r, bytes, false});
    }
    out.push_back({"rip", 16, 8, false});
    out.push_back({"eip", 16, 4, false});
    for (int x = 0; x < 16; ++x) out.push_back({"xmm" + std::to_string(x), 17 + x, 16, false});
    return out;
  }();
  return names;
}

const RegisterName* FindRegister(std::string_view name) {
  for (const RegisterName& r : RegisterNames())
    if (r.name == name) return &r;
  return nullptr;
}

// An integer as GNU as reads it: decimal, 0x hexadecimal or 0 octal, optionally signed;
// 64-bit values wrap as the assembler's do.
bool ParseInt(std::string_view s, int64_t* out) {
  bool negative = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
    base = 16, s.remove_prefix(2);
  else if (s.size() > 1 && s[0] == '0')
    base = 8, s.remove_prefix(1);
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v, base);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return false;
  *out = static_cast<int64_t>(negative ? 0 - v : v);
  return true;
}

bool IsSymbol(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '$' ||
           c == '@';
  });
}

// `-8`, `0x10`, `counter`, `buf+8`, `buf-4`; "" or why not.
std::string ParseDisplacement(std::string_view disp, SdtArg* a) {
  if (disp.empty() || ParseInt(disp, &a->value)) return "";
  size_t sign = disp.find_last_of("+-");
  std::string_view symbol = disp.substr(0, sign);
  if (sign != std::string_view::npos && sign > 0 && !ParseInt(disp.substr(sign), &a->value))
    return "bad displacement `" + std::string(disp) + "`";
  if (!IsSymbol(symbol)) return "bad displacement `" + std::string(disp) + "`";
  a->symbol = symbol;
  return "";
}

// A base or index register of a memory operand: a full 64-bit one.
std::string ParseAddressRegister(std::string_view text, bool index, int* reg) {
  const RegisterName* r =
      text.size() > 1 && text[0] == '%' ? FindRegister(text.substr(1)) : nullptr;
  if (!r) return "unknown register `" + std::string(text) + "`";
  if (r->bytes != 8 || (index && (r->reg == 7 || r->reg == 16)))
    return "`" + std::string(text) + "` cannot be used in an address";
  *reg = r->reg;
  return "";
}

std::string ParseMemory(std::string_view op, SdtArg* a) {
  a->kind = SdtArg::Kind::Memory;
  size_t paren = op.find('(');
  if (paren == std::string_view::npos) return ParseDisplacement(op, a);
  if (op.back() != ')') return "unbalanced parenthesis";
  std::vector<std::string> parts =
      SplitFields(op.substr(paren + 1, op.size() - paren - 2), ',', true);
  if (parts.size() > 3 || (parts[0].empty() && parts.size() == 1)) return "bad address";
  std::string why;
  if (!parts[0].empty()) why = ParseAddressRegister(parts[0], false, &a->reg);
  if (why.empty() && parts.size() > 1) why = ParseAddressRegister(parts[1], true, &a->index_reg);
  if (why.empty() && parts.size() > 2) {
    int64_t scale = 0;
    if (!ParseInt(parts[2], &scale) || (scale != 1 && scale != 2 && scale != 4 && scale != 8))
      return "scale `" + parts[2] + "` is not 1, 2, 4 or 8";
    a->scale = static_cast<int>(scale);
  }
  if (!why.empty()) return why;
  return ParseDisplacement(op.substr(0, paren), a);
}

std::string ParseOperand(std::string_view op, SdtArg* a) {
  if (op.empty()) return "missing operand";
  if (op[0] == '$') {
    a->kind = SdtArg::Kind::Constant;
    if (ParseInt(op.substr(1), &a->value)) return "";
    return "constant `" + std::string(op) + "` is not a number";
  }
  if (op.find(':') != std::string_view::npos) return "segment registers are not supported";
  if (op[0] != '%') return ParseMemory(op, a);
  const RegisterName* r = FindRegister(op.substr(1));
  if (!r) return "unknown register `" + std::string(op) + "`";
  a->kind = SdtArg::Kind::Register;
  a->reg = r->reg;
  a->reg_bytes = r->bytes;
  a->high_byte = r->high_byte;
  return "";
}

// `[-]N[f]@operand`; notes older than sizes carry the bare operand.
std::string ParseArg(std::string_view arg, SdtArg* a) {
  size_t at = arg.find('@');
  if (at == std::string_view::npos) {
    std::string why = ParseOperand(arg, a);
    if (why.empty() && a->kind == SdtArg::Kind::Register) a->size = std::min(a->reg_bytes, 8);
    return why;
  }
  std::string_view size = arg.substr(0, at);
  a->is_signed = !size.empty() && size[0] == '-';
  if (a->is_signed) size.remove_prefix(1);
  a->is_float = !size.empty() && size.back() == 'f';
  if (a->is_float) size.remove_suffix(1);
  if (size != "1" && size != "2" && size != "4" && size != "8")
    return "size `" + std::string(arg.substr(0, at)) + "` is not 1, 2, 4 or 8";
  a->size = size[0] - '0';
  return ParseOperand(arg.substr(at + 1), a);
}

}  // namespace

bool ParseSdtArgs(std::string_view text, std::vector<SdtArg>* out, std::string* error) {
  out->clear();
  for (size_t start = 0;;) {
    start = text.find_first_not_of(" \t\n", start);
    if (start == std::string_view::npos) return true;
    size_t end = std::min(text.find_first_of(" \t\n", start), text.size());
    std::string_view arg = text.substr(start, end - start);
    SdtArg a;
    std::string why = ParseArg(arg, &a);
    if (!why.empty()) {
      if (error)
        *error = ("bad SDT argument " + std::to_string(out->size() + 1) + " `" + std::string(arg) +
                  "`: " + why);
      return false;
    }
    out->push_back(std::move(a));
    start = end;
  }
}

}  // namespace btap::sema
