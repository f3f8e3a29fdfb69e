// printf's memory directives (see lowering.h): `%m` writes the bytes at an address as
// they are, `%M` as two lowercase hex digits each. The precision is the byte count (1
// when there is none or it is not positive, as in stap's runtime; at most MAXSTRINGLEN
// here, where stap's bound is its print buffer), the width the field's; `#` reads user
// memory instead of the kernel's. The handler reads the bytes into the record, length first, as
// user_argv_raw's are, and the directive becomes the runtime's `%{mem}s` or
// `%{memhex}s`, which prints them. sprintf in a kernel probe writes them into its string
// (SprintMemory). A begin, end, error or timer probe with them runs in the kernel, as one
// that reads kernel memory otherwise does (Lowering::NeedsKernel).
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

bool ReadsMemory(const ast::Call* c) {
  if (!IsPrintFamily(c) || c->args.empty() || (c->name != "printf" && c->name != "sprintf"))
    return false;
  auto* format = ast::As<ast::StringLit>(c->args[0]);
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!format || !ParseFormat(format->value, directives, &error, &offset, /*internal=*/true))
    return false;
  for (const FormatDirective& d : directives)
    if (!d.literal && d.group == FormatDirective::Group::None &&
        (d.conversion == 'm' || d.conversion == 'M'))
      return true;
  return false;
}

// The count of bytes a `%m`/`%M` takes: the directive's precision, or `precision` for a `*`
// one (nullptr otherwise), 1 when it is not positive, at most `max`.
Value Lowering::MemoryCount(const FormatDirective& d, Value precision, uint32_t max) {
  Value len = b_.getInt64(d.precision > 0 ? std::min<uint32_t>(d.precision, max) : 1);
  if (!precision) return len;
  len = b_.CreateSelect(b_.CreateICmpSLE(precision, b_.getInt64(0)), b_.getInt64(1), precision);
  return b_.CreateSelect(b_.CreateICmpUGT(len, b_.getInt64(max)), b_.getInt64(max), len);
}

// The bytes a `%m`/`%M` reads at `address` into `bytes` (2 * slot_ bytes): MemoryCount's,
// at most `max`. Returns the count; a fault is a located error (`near`).
Value Lowering::ReadMemoryField(const FormatDirective& d, Value address, Value precision,
                                uint32_t max, Value bytes, const std::string& near) {
  Value len = MemoryCount(d, precision, max);
  // A bound the verifier sees, whatever shape the selects take.
  if (precision) len = b_.CreateAnd(len, b_.getInt64(2 * slot_ - 1));
  Value size = b_.CreateTrunc(len, b_.getInt32Ty());
  Value pointer = b_.CreateIntToPtr(address, ptr_);
  bool user = d.flag == '#';
  Value rc = user ? ReadUser(bytes, size, pointer)
                  : Helper(kProbeReadKernel, i64_, {bytes, size, pointer});
  CheckFormat(b_.CreateICmpSGE(rc, b_.getInt64(0)),
              std::string(user ? "user" : "kernel") +
                  " memory read fault at %p [man error::fault]" + EscapePercent(near),
              {address});
  return len;
}

bool Lowering::PrintMemory(ast::Call* c, bool to_string, std::string* format,
                           std::vector<Value>& args) {
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!ParseFormat(*format, directives, &error, &offset, /*internal=*/true)) return true;
  std::vector<std::pair<size_t, std::string>> edits;  // the conversion's offset, its new text
  size_t next = 0;
  for (const FormatDirective& d : directives) {
    if (d.literal || d.group == FormatDirective::Group::Open) continue;
    if (d.group == FormatDirective::Group::Close) continue;
    size_t precision_arg = d.precision == -2 ? next + (d.width == -2 ? 1 : 0) : args.size();
    if (d.width == -2) ++next;
    if (d.precision == -2) ++next;
    size_t i = next++;
    if (d.conversion != 'm' && d.conversion != 'M') continue;
    // (Probes with them run in the kernel, but for procfs and input probes, which have a
    // located error of their own.)
    if (frame_->user_side) {
      Unsupported(c->range, "`%m` or `%M` in a probe run in user space",
                  "; user space cannot read kernel memory");
      return false;
    }
    if (to_string) return true;  // FormatInKernel writes them
    if (i >= args.size() || args[i]->getType() != i64_) return true;
    Value buf = ScratchAt(TempBytes(2 * slot_ + 8));
    Value bytes = b_.CreateConstGEP1_64(b_.getInt8Ty(), buf, 4);
    Value precision = precision_arg < args.size() ? args[precision_arg] : nullptr;
    Value len = ReadMemoryField(d, args[i], precision, limit_, bytes,
                                Near("identifier", c->name, c->range));
    b_.CreateStore(b_.CreateTrunc(len, b_.getInt32Ty()), buf);
    raw_values_.insert(buf);
    args[i] = buf;
    size_t at = static_cast<size_t>(d.text.data() - format->data()) + d.text.size() - 1;
    edits.push_back({at, d.conversion == 'm' ? "{mem}s" : "{memhex}s"});
  }
  // From the end, so that the earlier offsets stay valid (a `#` stays: the runtime's
  // directive ignores it).
  for (auto it = edits.rbegin(); it != edits.rend(); ++it)
    format->replace(it->first, 1, it->second);
  return true;
}

// sprintf's `%m`/`%M` in a kernel probe, as stap's runtime writes them into its string of
// MAXSTRINGLEN bytes: the field's padding counts the bytes the directive takes (twice
// that for `%M`), whatever they hold; then `%m`'s bytes (a NUL among them ends the string
// there, later text and padding included) or `%M`'s hex digits, as many as fit (an odd
// count when the string fills at a byte's second digit). Reads as printf's (at most what
// the string can hold); a fault is the same located error.
Value Lowering::SprintMemory(SourceRange at, const FormatDirective& d, Value slot, Value pos,
                             Value address, Value width, Value precision) {
  bool hex = d.conversion == 'M';
  Value star = d.precision == -2 ? precision : nullptr;
  Value bytes = ScratchAt(TempBytes(2 * slot_ + 8));
  Value len = ReadMemoryField(d, address, star, hex ? (limit_ + 1) / 2 : limit_ - 1, bytes,
                              NearCall("sprintf", at));
  Value text = bytes;
  if (hex) {
    text = StringFrom("btap_memhex_loop", {bytes, len, ScratchAt(TempBytes(8))});
  } else {
    b_.CreateStore(b_.getInt8(0), b_.CreateGEP(b_.getInt8Ty(), bytes, len));
  }
  // stap's precision is at most MAXSTRINGLEN bytes, which the padding counts.
  Value count = MemoryCount(d, star, limit_);
  if (hex) count = b_.CreateShl(count, 1);
  Value size = b_.getInt64(slot_), limit = b_.getInt64(limit_);
  bool left = d.flag == '-';
  // A negative `*` width left-justifies, as in C (negated as an int: -INT_MIN stays
  // negative, no padding, as in stap's runtime).
  Value negative = b_.CreateICmpSLT(width, b_.getInt64(-1));
  Value negated = b_.CreateSExt(b_.CreateTrunc(b_.CreateNeg(width), b_.getInt32Ty()), i64_);
  Value pad = b_.CreateSub(b_.CreateSelect(negative, negated, width), count);
  auto spaces = [&](Value at, Value n) {
    return Library("btap_put_str", i64_,
                   {slot, at, Literal(""), n, b_.getInt64(-1), b_.getInt64(0), size, limit});
  };
  Value none = b_.getInt64(0);
  Value before = left ? none : b_.CreateSelect(negative, none, pad);
  Value after = left ? pad : b_.CreateSelect(negative, pad, none);
  pos = spaces(pos, before);
  Value start = pos;
  pos = Library("btap_put_str", i64_, {slot, pos, text, none, b_.getInt64(-1), none, size, limit});
  if (!hex) {
    // Fewer bytes written than read: a NUL ended them, and the string ends there (nothing
    // more fits once the position is at the limit; the NUL stays).
    Value ended = b_.CreateICmpSLT(b_.CreateSub(pos, start), len);
    pos = b_.CreateSelect(ended, b_.getInt64(limit_ - 1), pos);
  }
  return spaces(pos, after);
}

}  // namespace btap::codegen::lowering
