// Pass 2b: target variables of user-space probes. Reads the process probes' bodies and
// their programs' DWARF; writes each `$var`, `$x->f[i]`, `@cast`, `@var`, `$$parms` and
// `$` pretty-printing as plain expressions over the probed task's registers (@uregister),
// user memory (@uderef) and string calls (TargetBase::lowered), and settles `@defined`.
#include <dwarf.h>

#include "semantic/elab.h"
#include "semantic/machine/user_binary.h"
#include "semantic/suggest.h"
#include "semantic/target_vars.h"

namespace btap::sema {
namespace {

using ast::Tok;

}  // namespace

TargetLowering::TargetLowering(Elab& e, Probe& p, UserBinary& bin, bool headers_only)
    : e_(e), p_(p), bin_(bin), dwarf_(bin.dwarf()), headers_only_(headers_only) {
  if (p.spec.die && dwarf_) f_ = bin.FunctionByDie(p.spec.die);
  pc_ = p.spec.address;
  call_pc_ = p.spec.is_return ? p.spec.call_address : pc_;
}

// ---- Building expressions ----

Arena& TargetLowering::arena() { return e_.arena; }

ast::Expr* TargetLowering::Num(int64_t v) {
  auto* n = Node<ast::NumberLit>();
  n->value = v;
  return n;
}

ast::Expr* TargetLowering::Str(std::string_view s) {
  auto* n = Node<ast::StringLit>();
  n->value = e_.arena.Copy(s);
  return n;
}

ast::Expr* TargetLowering::Bin(Tok op, ast::Expr* a, ast::Expr* b) {
  auto* lit_b = ast::As<ast::NumberLit>(b);
  if (lit_b && lit_b->value == 0 &&
      (op == Tok::Plus || op == Tok::Minus || op == Tok::Shl || op == Tok::Shr || op == Tok::UShr))
    return a;
  if (auto* lit_a = ast::As<ast::NumberLit>(a); lit_a && lit_b && op == Tok::Plus)
    return Num(lit_a->value + lit_b->value);
  auto* n = Node<ast::Binary>();
  n->op = op;
  n->lhs = a;
  n->rhs = b;
  n->depth = std::max(a->depth, b->depth) + 1;
  return n;
}

ast::Expr* TargetLowering::Reg(int dwarf) {
  auto* r = Node<ast::Register>();
  r->user = true;
  r->regno = dwarf;
  return r;
}

// The object's load bias. Return probes take it from their call's entry (an @entry
// value): at a uretprobe only bpf_get_func_ip knows the function's address, and kernels
// before 6.6 return 0 from it there.
ast::Expr* TargetLowering::Bias() {
  if (!bin_.elf()->is_dyn()) return Num(0);
  auto* r = Node<ast::Register>();
  r->user = true;
  r->load_bias = true;
  return p_.spec.is_return ? Entry(r) : r;
}

ast::Expr* TargetLowering::Load(ast::Expr* address, int size, bool is_signed) {
  auto* d = Node<ast::Deref>();
  d->user = true;
  d->size = size;
  d->is_signed = is_signed;
  d->address = address;
  d->depth = address->depth + 1;
  return d;
}

ast::Expr* TargetLowering::CallFn(std::string_view name, std::vector<ast::Expr*> args) {
  auto* c = Node<ast::Call>();
  c->name = name;
  c->name_range = range_;
  uint32_t depth = 0;
  for (ast::Expr* a : args) depth = std::max(depth, a->depth);
  c->args = e_.arena.Copy(args);
  c->depth = depth + 1;
  return c;
}

// A value narrowed to `size` bytes and widened back as C would.
ast::Expr* TargetLowering::Extend(ast::Expr* v, int bits, bool is_signed) {
  if (bits >= 64) return v;
  if (is_signed) return Bin(Tok::Shr, Bin(Tok::Shl, v, Num(64 - bits)), Num(64 - bits));
  return Bin(Tok::Amp, v, Num(static_cast<int64_t>((uint64_t{1} << bits) - 1)));
}

ast::Expr* TargetLowering::FromLoc(const LocExpr& l) {
  using Op = LocExpr::Op;
  auto kid = [&](size_t i) { return FromLoc(l.kids[i]); };
  switch (l.op) {
    case Op::Const:
      return Num(l.value);
    case Op::Reg:
      return Reg(static_cast<int>(l.value));
    case Op::LoadBias:
      return Bias();
    case Op::Deref:
      return Load(kid(0), l.size, false);
    case Op::Neg:
    case Op::Not: {
      auto* u = Node<ast::Unary>();
      u->op = l.op == Op::Neg ? Tok::Minus : Tok::Tilde;
      u->operand = kid(0);
      u->depth = u->operand->depth + 1;
      return u;
    }
    default:
      break;
  }
  static const std::pair<Op, Tok> kOps[] = {
      {Op::Add, Tok::Plus},    {Op::Sub, Tok::Minus}, {Op::Mul, Tok::Star}, {Op::Div, Tok::Slash},
      {Op::Mod, Tok::Percent}, {Op::And, Tok::Amp},   {Op::Or, Tok::Pipe},  {Op::Xor, Tok::Caret},
      {Op::Shl, Tok::Shl},     {Op::Shr, Tok::UShr},  {Op::Shra, Tok::Shr}};
  for (auto [op, tok] : kOps)
    if (op == l.op) return Bin(tok, kid(0), kid(1));
  return Num(0);
}

// ---- Values with C types ----

bool TargetLowering::FromLocation(const Location& loc, TValue* v, std::string* why) {
  switch (loc.kind) {
    case Location::Kind::Unavailable:
      *why = loc.why;
      return false;
    case Location::Kind::Memory:
      v->in_memory = true;
      v->expr = FromLoc(loc.expr);
      return true;
    case Location::Kind::Register:
    case Location::Kind::Value:
      v->in_memory = false;
      v->expr = FromLoc(loc.expr);
      return true;
    case Location::Kind::Pieces: {
      // Scalars split over registers (or memory): put the bytes back together.
      ast::Expr* value = nullptr;
      int shift = 0;
      for (const Location::Piece& piece : loc.pieces) {
        TValue part;
        if (piece.where.kind == Location::Kind::Unavailable) {
          *why = "part of it is optimized out";
          return false;
        }
        if (shift + piece.size > 8 || !FromLocation(piece.where, &part, why)) {
          if (why->empty()) *why = "it is split into pieces wider than 8 bytes";
          return false;
        }
        ast::Expr* bits = part.in_memory ? Load(part.expr, piece.size, false)
                                         : Extend(part.expr, piece.size * 8, false);
        bits = Bin(Tok::Shl, bits, Num(shift * 8));
        value = value ? Bin(Tok::Pipe, value, bits) : bits;
        shift += piece.size;
      }
      v->in_memory = false;
      v->expr = value ? value : Num(0);
      return true;
    }
  }
  return false;
}

bool TargetLowering::FromVariable(const DebugVariable& var, uint64_t at, TValue* v,
                                  std::string* why) {
  Dwarf_Die die = var.die;
  v->typed = TypeOf(&die, &v->type);
  DebugFunction none;
  Location loc = dwarf_->Locate(f_ ? *f_ : none, &die, at);
  return FromLocation(loc, v, why);
}

// The scalar value of `v` (integers, enums, pointers, bitfields) as a long.
ast::Expr* TargetLowering::Scalar(const TValue& v, std::string* why) {
  Dwarf_Die t;
  if (!v.typed || !PeelType(const_cast<Dwarf_Die*>(&v.type), &t)) {
    *why = "it has type void";
    return nullptr;
  }
  int tag = dwarf_tag(&t);
  int64_t size = TypeSize(&t);
  bool is_signed = false;
  if (tag == DW_TAG_base_type) {
    Dwarf_Attribute a;
    Dwarf_Word enc = 0;
    dwarf_formudata(dwarf_attr(&t, DW_AT_encoding, &a), &enc);
    if (enc == DW_ATE_float || enc == DW_ATE_complex_float) {
      *why = "it is a floating-point value (" + TypeName(&t) + "), which scripts cannot hold";
      return nullptr;
    }
    is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
  } else if (tag == DW_TAG_enumeration_type) {
    Dwarf_Die under;
    is_signed = true;
    if (TypeOf(&t, &under) && PeelType(&under, &under)) {
      Dwarf_Attribute a;
      Dwarf_Word enc = 0;
      dwarf_formudata(dwarf_attr(&under, DW_AT_encoding, &a), &enc);
      is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
    }
  } else if (tag != DW_TAG_pointer_type && tag != DW_TAG_reference_type &&
             tag != DW_TAG_rvalue_reference_type) {
    *why =
        "it is " + Article(TypeName(&t)) + "; use `->field`, `[index]` or a `$` suffix to print it";
    return nullptr;
  }
  if (size <= 0 || size > 8) size = 8;
  if (v.bit_size) {
    int storage = (v.bit_offset + v.bit_size + 7) / 8;
    int read = storage <= 1 ? 1 : storage <= 2 ? 2 : storage <= 4 ? 4 : 8;
    ast::Expr* raw = v.in_memory ? Load(v.expr, read, false) : v.expr;
    // Move the field to the top bits, then back down with its sign.
    raw = Bin(Tok::Shl, raw, Num(64 - v.bit_offset - v.bit_size));
    return Bin(is_signed ? Tok::Shr : Tok::UShr, raw, Num(64 - v.bit_size));
  }
  if (v.in_memory) return Load(v.expr, static_cast<int>(size), is_signed);
  return Extend(v.expr, static_cast<int>(size) * 8, is_signed);
}

std::string TargetLowering::Article(const std::string& type) {
  return (type.substr(0, 6) == "struct" ? "a " : type.substr(0, 5) == "union" ? "a " : "") + type;
}

// A char array: its text.
bool TargetLowering::IsCharArray(const TValue& v, int64_t* length) {
  Dwarf_Die t, elem;
  if (!v.typed || !PeelType(const_cast<Dwarf_Die*>(&v.type), &t) ||
      dwarf_tag(&t) != DW_TAG_array_type || !TypeOf(&t, &elem) || !PeelType(&elem, &elem))
    return false;
  Dwarf_Attribute a;
  Dwarf_Word enc = 0;
  if (dwarf_tag(&elem) != DW_TAG_base_type || TypeSize(&elem) != 1) return false;
  dwarf_formudata(dwarf_attr(&elem, DW_AT_encoding, &a), &enc);
  if (enc != DW_ATE_signed_char && enc != DW_ATE_unsigned_char) return false;
  *length = TypeSize(&t);
  return true;
}

// A scalar's value; an array's address (as stap: `user_string($x->name)` reads a char
// array).
ast::Expr* TargetLowering::Final(const TValue& v, std::string* why) {
  Dwarf_Die t;
  if (v.typed && PeelType(const_cast<Dwarf_Die*>(&v.type), &t) &&
      dwarf_tag(&t) == DW_TAG_array_type) {
    if (!v.in_memory) {
      *why = "the array is not in memory";
      return nullptr;
    }
    return v.expr;
  }
  return Scalar(v, why);
}

// A struct or union member, looking into anonymous members.
bool FindMember(Dwarf_Die* record, std::string_view name, Dwarf_Die* member, int64_t* offset) {
  return !ForEachChildDie(record, [&](Dwarf_Die* c) {
    if (dwarf_tag(c) != DW_TAG_member) return true;
    Dwarf_Attribute a;
    Dwarf_Word at = 0;
    if (dwarf_attr(c, DW_AT_data_member_location, &a) && dwarf_formudata(&a, &at) != 0) {
      // DWARF 2/3: an expression, in practice DW_OP_plus_uconst N.
      Dwarf_Op* ops = nullptr;
      size_t n = 0;
      if (dwarf_getlocation(&a, &ops, &n) != 0 || n != 1 || ops[0].atom != DW_OP_plus_uconst)
        return true;
      at = ops[0].number;
    }
    const char* n = dwarf_diename(c);
    if (n && name == n) {
      *member = *c;
      *offset += static_cast<int64_t>(at);
      return false;
    }
    Dwarf_Die inner;
    if (!n && TypeOf(c, &inner) && PeelType(&inner, &inner)) {
      int64_t deeper = *offset + static_cast<int64_t>(at);
      if (FindMember(&inner, name, member, &deeper)) {
        *offset = deeper;
        return false;
      }
    }
    return true;
  });
}

std::vector<std::string> MemberNames(Dwarf_Die* record) {
  std::vector<std::string> out;
  ForEachChildDie(record, [&](Dwarf_Die* c) {
    if (dwarf_tag(c) == DW_TAG_member)
      if (const char* n = dwarf_diename(c)) out.push_back(n);
  });
  return out;
}

// `v` behind one pointer, if it is one: the pointee in memory.
bool TargetLowering::Dereference(TValue* v, std::string* why) {
  Dwarf_Die t;
  if (!v->typed || !PeelType(&v->type, &t)) return true;
  int tag = dwarf_tag(&t);
  if (tag != DW_TAG_pointer_type && tag != DW_TAG_reference_type) return true;
  ast::Expr* pointer = Scalar(*v, why);
  if (!pointer) return false;
  Dwarf_Die pointee;
  if (!TypeOf(&t, &pointee)) {
    *why = "it is a void pointer; use @cast to give it a type";
    return false;
  }
  v->type = pointee;
  v->in_memory = true;
  v->expr = pointer;
  v->bit_size = v->bit_offset = 0;
  return true;
}

bool TargetLowering::Member(TValue* v, std::string_view name, std::string* why) {
  if (!Dereference(v, why)) return false;
  Dwarf_Die t;
  if (!v->typed || !PeelType(&v->type, &t)) {
    *why = "it has no type";
    return false;
  }
  int tag = dwarf_tag(&t);
  if (tag != DW_TAG_structure_type && tag != DW_TAG_union_type && tag != DW_TAG_class_type) {
    *why = "it is " + Article(TypeName(&t)) + ", not a struct or union";
    return false;
  }
  Dwarf_Die member;
  int64_t offset = 0;
  if (!FindMember(&t, name, &member, &offset)) {
    std::vector<std::string> names = MemberNames(&t);
    std::string have;
    for (size_t i = 0; i < names.size() && i < 12; ++i) have += (i ? " " : "") + names[i];
    std::vector<std::string_view> views(names.begin(), names.end());
    std::vector<std::string> similar = Similar(name, views);
    *why = TypeName(&t) + " has no member `" + std::string(name) + "`" +
           (similar.empty() ? "; it has: " + have : DidYouMean(similar));
    return false;
  }
  v->typed = TypeOf(&member, &v->type);
  Dwarf_Attribute a;
  Dwarf_Word bits = 0, bit_at = 0;
  int bit_offset = 0;
  if (dwarf_formudata(dwarf_attr(&member, DW_AT_bit_size, &a), &bits) == 0 && bits) {
    if (dwarf_formudata(dwarf_attr(&member, DW_AT_data_bit_offset, &a), &bit_at) == 0) {
      offset += static_cast<int64_t>(bit_at / 8);
      bit_offset = static_cast<int>(bit_at % 8);
    } else if (dwarf_formudata(dwarf_attr(&member, DW_AT_bit_offset, &a), &bit_at) == 0) {
      // DWARF 2/3: counted from the storage unit's most significant bit.
      int64_t unit = TypeSize(&v->type) * 8;
      int64_t low = unit - static_cast<int64_t>(bit_at) - static_cast<int64_t>(bits);
      offset += low / 8;
      bit_offset = static_cast<int>(low % 8);
    }
  }
  if (v->in_memory) {
    v->expr = Bin(Tok::Plus, v->expr, Num(offset));
  } else {
    int64_t size = v->typed ? TypeSize(&v->type) : 8;
    if (offset + (bits ? 0 : std::max<int64_t>(size, 1)) > 8) {
      *why = "the record is in registers and `" + std::string(name) +
             "` lies past its first 8 bytes, which btap does not read";
      return false;
    }
    v->expr = Bin(Tok::UShr, v->expr, Num(offset * 8));
  }
  v->bit_size = static_cast<int>(bits);
  v->bit_offset = bit_offset;
  return true;
}

bool TargetLowering::Index(TValue* v, ast::Expr* index, std::string* why, bool cast_base) {
  Dwarf_Die t, elem;
  if (!v->typed || !PeelType(&v->type, &t)) {
    *why = "it has no type";
    return false;
  }
  int tag = dwarf_tag(&t);
  ast::Expr* base = nullptr;
  if (cast_base && v->in_memory && tag != DW_TAG_pointer_type && tag != DW_TAG_array_type) {
    // `@cast(p, "T")[i]` is the i-th T from p, as stap reads it (`&@cast(0, "T")[1]` is
    // @cast_sizeof's size of T).
    int64_t size = TypeSize(&t);
    if (size <= 0) {
      *why = "its type has no size";
      return false;
    }
    v->type = t;
    v->expr = Bin(Tok::Plus, v->expr, Bin(Tok::Star, index, Num(size)));
    v->bit_size = v->bit_offset = 0;
    return true;
  }
  if (tag == DW_TAG_pointer_type) {
    base = Scalar(*v, why);
    if (!base) return false;
  } else if (tag == DW_TAG_array_type) {
    if (!v->in_memory) {
      *why = "the array is not in memory";
      return false;
    }
    base = v->expr;
  } else {
    *why = "it is " + Article(TypeName(&t)) + ", not an array or pointer";
    return false;
  }
  if (!TypeOf(&t, &elem)) {
    *why = "it points to void; use @cast to give it a type";
    return false;
  }
  int64_t size = TypeSize(&elem);
  if (size <= 0) {
    *why = "its elements have no size";
    return false;
  }
  v->type = elem;
  v->in_memory = true;
  v->expr = Bin(Tok::Plus, base, Bin(Tok::Star, index, Num(size)));
  v->bit_size = v->bit_offset = 0;
  return true;
}

}  // namespace btap::sema
