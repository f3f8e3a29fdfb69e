// Lowering the decoders (see lowering.h): __btap_flag_names() and __btap_value_name(),
// with which the syscall tapset writes flags and values as names. The table, a literal of
// the tapset, becomes a .rodata table (bpflib/decode.h) made once per module, and each
// call one call of bpflib's routine, which walks it (a bpf_loop in kernel probes).
// __btap_struct_time() and __btap_sockaddr(), the tapset's struct timespec and timeval and
// socket addresses, likewise: the structs are read here, one routine of bpflib formats
// them.
#include <cstddef>

#include "codegen/bpflib/decode.h"
#include "codegen/bpflib/sockaddr.h"
#include "codegen/bpflib/time_struct.h"
#include "codegen/lowering.h"
#include "common/decode_names.h"

namespace btap::codegen::lowering {
namespace {

static_assert(kDecodeEqual == DECODE_EQUAL && kDecodeZero == DECODE_ZERO &&
              kDecodeHex == DECODE_HEX && kDecodeDec == DECODE_DEC &&
              kDecodeNameMax == DECODE_NAME && kDecodeEntriesMax == DECODE_MAX);

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
  std::vector<DecodeEntry> entries;
  std::string why;
  if (!ParseDecodeTable(spec, (mode & DECODE_EQUAL) != 0, &entries, &why)) {
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
    const DecodeEntry& e = entries[i];
    Put64(bytes, at + offsetof(decode_entry, value), e.value);
    Put64(bytes, at + offsetof(decode_entry, mask), e.mask);
    bytes[at + offsetof(decode_entry, len)] = static_cast<uint8_t>(e.name.size());
    std::copy(e.name.begin(), e.name.end(),
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

// __btap_flag_names(flags, known, zero, "TABLE") and __btap_value_name(value, number,
// "TABLE"), where `number` says how a value without a name is shown: 0 not, 1 in
// hexadecimal, 2 in decimal.
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
  if (!flags && (option->value < 0 || option->value > 2)) {
    Unsupported(c->args[1]->range,
                "`" + std::string(c->name) + "` whose second argument is not 0, 1 or 2");
    return nullptr;
  }
  uint64_t mode = DecodeMode(flags, option->value);
  llvm::GlobalVariable* table = DecodeTable(c, c->args[spec_at]->range, spec,
                                            flags ? static_cast<uint64_t>(known->value) : 0, mode);
  if (!table) return nullptr;
  Value value = Arg(c, 0);
  Value cell = ScratchAt(TempBytes(DECODE_CELLS * 8));
  return StringFrom(frame_->user_side ? "btap_decode" : "btap_decode_loop", {value, table, cell});
}

// __btap_struct_time(uaddr, n, digits): n (1 or 2) structs of two longs at uaddr, each
// "[SEC.FRAC]" with FRAC of `digits` (a literal: 9, a timespec, with its UTIME_* values,
// or 6, a timeval) digits; the address in hexadecimal when they cannot be read.
Value Lowering::StructTimeCall(ast::Call* c) {
  const ast::NumberLit* digits = LiteralNumber(c, 2);
  if (!digits || (digits->value != 6 && digits->value != 9)) {
    Unsupported(c->range, "`" + std::string(c->name) + "` whose digits are not a literal 6 or 9");
    return nullptr;
  }
  Value address = Arg(c, 0), two = b_.CreateICmpEQ(Arg(c, 1), b_.getInt64(2));
  Value cell = ScratchAt(TempBytes(TIME_CELLS * 8));
  auto at = [&](uint32_t i) { return b_.CreateConstGEP1_64(b_.getInt8Ty(), cell, i * 8); };
  // One read of both structs: it faults where one of the reads of their fields would.
  Value bytes = b_.CreateSelect(two, b_.getInt32(32), b_.getInt32(16));
  Value rc = ReadUser(at(TIME_SEC0), bytes, b_.CreateIntToPtr(address, ptr_));
  Value count = b_.CreateSelect(two, b_.getInt64(2), b_.getInt64(1));
  b_.CreateStore(b_.CreateSelect(b_.CreateICmpSLT(rc, b_.getInt64(0)), b_.getInt64(0), count),
                 at(TIME_COUNT));
  b_.CreateStore(address, at(TIME_ADDR));
  return StringFrom(frame_->user_side ? "btap_struct_time" : "btap_struct_time_loop",
                    {cell, b_.getInt64(static_cast<uint64_t>(digits->value))});
}

// __btap_sockaddr(uaddr, len): the socket address of `len` bytes (0-128) at uaddr, but
// for AF_UNIX's, as stap shows it; "{...}" when it cannot be read.
Value Lowering::SockaddrCall(ast::Call* c) {
  Value address = Arg(c, 0), len = Clamp(Arg(c, 1), 0, 128);
  Value cell = ScratchAt(TempBytes(SOCKADDR_CELLS * 8));
  auto at = [&](uint32_t i) { return b_.CreateConstGEP1_64(b_.getInt8Ty(), cell, i * 8); };
  // One read of every byte: a range of at most 128 bytes whose first and last bytes can
  // be read (the reads of the tapset's script) can be read whole.
  Value rc = ReadUser(at(SOCKADDR_BYTES), b_.CreateTrunc(len, b_.getInt32Ty()),
                      b_.CreateIntToPtr(address, ptr_));
  b_.CreateStore(b_.CreateSelect(b_.CreateICmpSLT(rc, b_.getInt64(0)), b_.getInt64(-1), len),
                 at(SOCKADDR_LEN));
  return StringFrom(frame_->user_side ? "btap_sockaddr" : "btap_sockaddr_loop", {cell});
}

}  // namespace btap::codegen::lowering
