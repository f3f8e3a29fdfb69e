// Lowering the decoders (see lowering.h): __btap_flag_names() and __btap_value_name(),
// with which the syscall tapset writes flags and values as names. The table, a literal of
// the tapset, becomes a .rodata table (bpflib/decode.h) made once per module, and each
// call one call of bpflib's routine, which walks it (a bpf_loop in kernel probes).
#include <cstddef>
#include <cstdlib>
#include <sstream>

#include "codegen/bpflib/decode.h"
#include "codegen/lowering.h"

namespace btap::codegen::lowering {
namespace {

// "NUMBER NAME ..." as entries; false with `why` when it is not that.
bool ParseTable(std::string_view text, std::vector<std::pair<uint64_t, std::string>>* out,
                std::string* why) {
  std::istringstream in{std::string(text)};
  std::string number, name;
  while (in >> number) {
    if (!(in >> name)) {
      *why = "`" + number + "` has no name";
      return false;
    }
    const char* begin = number.c_str();
    bool negative = *begin == '-';
    char* end = nullptr;
    uint64_t v = std::strtoull(begin + negative, &end, 0);
    if (end == begin + negative || *end) {
      *why = "`" + number + "` is not a number";
      return false;
    }
    if (name.size() > DECODE_NAME) {
      *why = "`" + name + "` is longer than " + std::to_string(DECODE_NAME) + " bytes";
      return false;
    }
    out->emplace_back(negative ? 0 - v : v, name);
  }
  if (out->size() > DECODE_MAX) {
    *why = "it has more than " + std::to_string(DECODE_MAX) + " entries";
    return false;
  }
  return true;
}

void Put64(std::vector<uint8_t>& bytes, size_t at, uint64_t v) {
  for (int i = 0; i < 8; i++) bytes[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

// The text of a literal, or of literals joined by `.` (a long table over several lines).
bool LiteralText(ast::Expr* e, std::string* out) {
  if (auto* lit = ast::As<ast::StringLit>(e)) {
    out->append(lit->value);
    return true;
  }
  auto* join = ast::As<ast::Concat>(e);
  return join && LiteralText(join->lhs, out) && LiteralText(join->rhs, out);
}

// A literal number argument, or nullptr.
const ast::NumberLit* LiteralNumber(ast::Call* c, size_t i) {
  return i < c->args.size() ? ast::As<ast::NumberLit>(c->args[i]) : nullptr;
}

}  // namespace

// The table of `spec` for `known` and `mode`, made once per module.
llvm::GlobalVariable* Lowering::DecodeTable(ast::Call* c, SourceRange at, const std::string& spec,
                                            uint64_t known, uint64_t mode) {
  std::string key = std::to_string(known) + " " + std::to_string(mode) + " " + spec;
  auto it = decode_tables_.find(key);
  if (it != decode_tables_.end()) return it->second;
  std::vector<std::pair<uint64_t, std::string>> entries;
  std::string why;
  if (!ParseTable(spec, &entries, &why)) {
    Unsupported(at, "this table of names for `" + std::string(c->name) + "`", ": " + why);
    return nullptr;
  }
  uint64_t room = 1;
  while (room < entries.size()) room *= 2;
  std::vector<uint8_t> bytes(sizeof(decode_head) + room * sizeof(decode_entry), 0);
  Put64(bytes, offsetof(decode_head, count), entries.size());
  Put64(bytes, offsetof(decode_head, room), room);
  Put64(bytes, offsetof(decode_head, known), known);
  Put64(bytes, offsetof(decode_head, mode), mode);
  for (size_t i = 0; i < entries.size(); i++) {
    size_t at = sizeof(decode_head) + i * sizeof(decode_entry);
    Put64(bytes, at + offsetof(decode_entry, value), entries[i].first);
    bytes[at + offsetof(decode_entry, len)] = static_cast<uint8_t>(entries[i].second.size());
    std::copy(entries[i].second.begin(), entries[i].second.end(),
              bytes.begin() + static_cast<std::ptrdiff_t>(at + offsetof(decode_entry, name)));
  }
  auto* init = llvm::ConstantDataArray::get(module_.getContext(), llvm::ArrayRef<uint8_t>(bytes));
  auto* g = new llvm::GlobalVariable(module_, init->getType(), true,
                                     llvm::GlobalValue::InternalLinkage, init, "decode");
  g->setSection(".rodata");
  g->setAlignment(llvm::Align(8));
  decode_tables_.emplace(key, g);
  return g;
}

// __btap_flag_names(flags, known, zero, "TABLE") and __btap_value_name(value, hex, "TABLE").
Value Lowering::DecodeCall(Intrinsic which, ast::Call* c) {
  bool flags = which == Intrinsic::flag_names;
  size_t spec_at = flags ? 3 : 2;
  std::string spec;
  bool literal = spec_at < c->args.size() && LiteralText(c->args[spec_at], &spec);
  const ast::NumberLit* known = flags ? LiteralNumber(c, 1) : nullptr;
  const ast::NumberLit* option = LiteralNumber(c, flags ? 2 : 1);
  if (!literal || !option || (flags && !known)) {
    Unsupported(c->range, "`" + std::string(c->name) + "` whose table or options are not literals");
    return nullptr;
  }
  uint64_t mode =
      flags ? (option->value ? DECODE_ZERO : 0) : DECODE_EQUAL | (option->value ? DECODE_HEX : 0);
  llvm::GlobalVariable* table = DecodeTable(c, c->args[spec_at]->range, spec,
                                            flags ? static_cast<uint64_t>(known->value) : 0, mode);
  if (!table) return nullptr;
  Value value = Arg(c, 0);
  Value cell = ScratchAt(TempBytes(DECODE_CELLS * 8));
  return StringFrom(frame_->user_side ? "btap_decode" : "btap_decode_loop", {value, table, cell});
}

}  // namespace btap::codegen::lowering
