// stapbpf's assembly bodies (`function f:long () %{ /* bpf */ … %}`): each statement is an
// instruction `opcode, dst, src, off, imm` or a pseudo-op (`label`, `alloc`, `call`), with
// `$$` the result and `$name` a parameter or temporary. They are lowered to IR instruction
// by instruction (registers and `$` names as stack cells), so the verifier checks them as
// it checks everything else.
#include "codegen/lowering.h"

namespace btap::codegen::lowering {
namespace {

// The text without comments, split into statements and their comma-separated operands
// (string literals kept whole).
std::vector<std::vector<std::string>> Statements(std::string_view code) {
  std::vector<std::vector<std::string>> out(1, std::vector<std::string>(1));
  for (size_t i = 0; i < code.size(); ++i) {
    char c = code[i];
    if (c == '/' && i + 1 < code.size() && code[i + 1] == '*') {
      size_t end = code.find("*/", i + 2);
      i = end == std::string_view::npos ? code.size() : end + 1;
    } else if (c == '/' && i + 1 < code.size() && code[i + 1] == '/') {
      size_t end = code.find('\n', i);
      i = end == std::string_view::npos ? code.size() : end;
    } else if (c == '"') {
      size_t end = i + 1;
      while (end < code.size() && code[end] != '"') end += code[end] == '\\' ? 2 : 1;
      out.back().back() += std::string(code.substr(i, end + 1 - i));
      i = end;
    } else if (c == ';') {
      out.emplace_back(1);
    } else if (c == ',') {
      out.back().emplace_back();
    } else if (!std::isspace(static_cast<unsigned char>(c))) {
      out.back().back() += c;
    }
  }
  std::vector<std::vector<std::string>> statements;
  for (auto& s : out)
    if (s.size() > 1 || !s[0].empty()) statements.push_back(std::move(s));
  return statements;
}

std::optional<int64_t> Number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  long long v = std::strtoll(s.c_str(), &end, 0);
  if (*end) return std::nullopt;
  return v;
}

// The helpers stapbpf's `call` names that exist in the kernel.
int64_t HelperNumber(const std::string& name) {
  static const std::map<std::string, int64_t> kHelpers = {{"map_lookup_elem", 1},
                                                          {"map_update_elem", 2},
                                                          {"map_delete_elem", 3},
                                                          {"probe_read", 4},
                                                          {"ktime_get_ns", 5},
                                                          {"get_smp_processor_id", 8},
                                                          {"get_current_pid_tgid", 14},
                                                          {"get_current_uid_gid", 15},
                                                          {"get_current_comm", 16},
                                                          {"get_current_task", 35},
                                                          {"probe_read_str", 45},
                                                          {"probe_read_user", 112},
                                                          {"probe_read_kernel", 113},
                                                          {"probe_read_user_str", 114},
                                                          {"probe_read_kernel_str", 115},
                                                          {"jiffies64", 118}};
  std::string bare = name.rfind("bpf_", 0) == 0 ? name.substr(4) : name;
  auto it = kHelpers.find(bare);
  return it == kHelpers.end() ? -1 : it->second;
}

// stapbpf's own helpers (negative numbers, run by its user-space interpreter) that btap
// has in both kernel and user space: 0 for the others.
int64_t StapbpfHelperNumber(const std::string& name) {
  std::string bare = name.rfind("bpf_", 0) == 0 ? name.substr(4) : name;
  if (bare == "gettimeofday_ns") return -4;
  if (bare == "get_target") return -5;
  return 0;
}

}  // namespace

// The value of stapbpf helper `id` (its tapsets' `/* userspace */` functions call these:
// the wall clock, and the -x/-c target); null for one btap does not have.
Value Lowering::StapbpfHelper(int64_t id) {
  switch (id) {
    case -4:
      return WallClockNs();
    case -5:
      return b_.CreateLoad(i64_, target_);  // as target()
    default:
      return nullptr;
  }
}

Value Lowering::AsmCall(ast::Call* c) {
  const sema::Function* f = c->callee;
  std::vector<Value> args;
  for (ast::Expr* a : c->args) args.push_back(Expr(a));
  std::map<std::string, llvm::AllocaInst*> cells;  // "$name", "$$" and "r0".."r9"
  auto cell = [&](const std::string& name) {
    llvm::AllocaInst*& at = cells[name];
    if (!at) {
      at = Alloca(i64_);
      llvm::IRBuilder<> init(at->getNextNode());
      init.CreateStore(init.getInt64(0), at);
    }
    return at;
  };
  for (size_t i = 0; i < f->params.size() && i < args.size(); ++i) {
    if (!args[i]) continue;
    Value v = args[i]->getType() == i64_ ? args[i] : b_.CreatePtrToInt(args[i], i64_);
    b_.CreateStore(v, cell("$" + std::string(f->params[i]->name)));
  }
  std::map<std::string, llvm::BasicBlock*> labels;
  auto label = [&](const std::string& name) {
    llvm::BasicBlock*& bb = labels[name];
    if (!bb) bb = llvm::BasicBlock::Create(context_, "asm_" + name, frame_->fn);
    return bb;
  };
  // The width a load or store opcode names: DW, W, H or B.
  auto size_type = [&](int64_t code) -> llvm::Type* {
    int size = code & 0x18;
    return size == 0x18   ? static_cast<llvm::Type*>(i64_)
           : size == 0x00 ? b_.getInt32Ty()
           : size == 0x08 ? b_.getInt16Ty()
                          : b_.getInt8Ty();
  };
  std::set<std::string> defined;  // labels given by `label`, of those jumped to
  bool ok = true;
  auto fail = [&](const std::string& what) {
    if (ok) Unsupported(c->range, "`" + std::string(f->name) + "`'s BPF assembly", ": " + what);
    ok = false;
  };
  // An operand as a value: a register or `$` cell, a number, a constant, a string.
  auto value = [&](const std::string& s) -> Value {
    if (s.empty() || s == "-") return b_.getInt64(0);
    if (s[0] == '$') return b_.CreateLoad(i64_, cell(s));
    if (s == "BPF_MAXSTRINGLEN") return b_.getInt64(limit_);
    if (s[0] == '"') return b_.CreatePtrToInt(Literal(s.substr(1, s.size() - 2)), i64_);
    if (std::optional<int64_t> n = Number(s)) return b_.getInt64(*n);
    fail("unknown operand `" + s + "`");
    return b_.getInt64(0);
  };
  // A register operand of a raw instruction: `$` cells, or r0..r9 by number.
  auto reg = [&](const std::string& s) -> llvm::AllocaInst* {
    if (!s.empty() && s[0] == '$') return cell(s);
    std::optional<int64_t> n = Number(s.empty() || s == "-" ? "0" : s);
    if (!n || *n < 0 || *n > 9) {
      fail("register `" + s + "` (r10 and the stack are the compiler's)");
      return cell("r0");
    }
    return cell("r" + std::to_string(*n));
  };
  auto memory = [&](llvm::AllocaInst* base, const std::string& off) {
    return b_.CreateIntToPtr(b_.CreateAdd(b_.CreateLoad(i64_, base), value(off)), ptr_);
  };
  for (const std::vector<std::string>& st : Statements(f->decl->embedded)) {
    if (!ok) break;
    const std::string& op = st[0];
    auto operand = [&](size_t i) { return i < st.size() ? st[i] : std::string("-"); };
    if (op == "label") {
      if (!defined.insert(operand(1)).second) {
        fail("label `" + operand(1) + "` is defined twice");
        break;
      }
      llvm::BasicBlock* bb = label(operand(1));
      b_.CreateBr(bb);
      b_.SetInsertPoint(bb);
      continue;
    }
    if (op == "alloc") {
      std::optional<int64_t> n =
          Number(operand(2) == "BPF_MAXSTRINGLEN" ? std::to_string(limit_) : operand(2));
      if (!n || *n <= 0 || *n > slot_) {
        fail("`alloc` of `" + operand(2) + "` bytes (at most a string slot)");
        break;
      }
      b_.CreateStore(b_.CreatePtrToInt(StringSlot(), i64_), cell(operand(1)));
      continue;
    }
    if (op == "call") {
      int64_t id = HelperNumber(operand(2));
      if (Value v = id < 0 ? StapbpfHelper(StapbpfHelperNumber(operand(2))) : nullptr) {
        if (operand(1) != "-") b_.CreateStore(v, cell(operand(1)));
        continue;
      }
      if (id < 0) {
        fail("helper `" + operand(2) + "` (stapbpf's own helpers are not BPF's)");
        break;
      }
      std::vector<Value> call_args;
      for (size_t i = 3; i < st.size(); ++i) call_args.push_back(value(st[i]));
      Value r = Helper(id, i64_, call_args);
      if (operand(1) != "-") b_.CreateStore(r, cell(operand(1)));
      continue;
    }
    std::optional<int64_t> code = Number(op);
    if (!code || st.size() != 5) {
      fail("`" + op + "` is no instruction (opcode, dst, src, off, imm)");
      break;
    }
    int cls = *code & 7, bits = *code & 0xf0;
    bool x = *code & 8;
    const std::string &dst = st[1], &src = st[2], &off = st[3], &imm = st[4];
    if (cls == 7 || cls == 4) {  // ALU64 / ALU32
      llvm::AllocaInst* d = reg(dst);
      // A string literal as the source of a move is its address (stapbpf allows it).
      bool literal = !src.empty() && src[0] == '"';
      Value l = b_.CreateLoad(i64_, d);
      Value r = literal ? value(src) : x ? b_.CreateLoad(i64_, reg(src)) : value(imm);
      Value v = nullptr;
      // The 32-bit class works on the low words: shifts by at most 31 of the low word.
      Value shift_mask = b_.getInt64(cls == 4 ? 31 : 63);
      if (cls == 4 && (bits == 0x60 || bits == 0x70)) l = b_.CreateAnd(l, b_.getInt64(0xffffffff));
      switch (bits) {
        case 0x00:
          v = b_.CreateAdd(l, r);
          break;
        case 0x10:
          v = b_.CreateSub(l, r);
          break;
        case 0x20:
          v = b_.CreateMul(l, r);
          break;
        case 0x40:
          v = b_.CreateOr(l, r);
          break;
        case 0x50:
          v = b_.CreateAnd(l, r);
          break;
        case 0x60:
          v = b_.CreateShl(l, b_.CreateAnd(r, shift_mask));
          break;
        case 0x70:
          v = b_.CreateLShr(l, b_.CreateAnd(r, shift_mask));
          break;
        case 0x80:
          v = b_.CreateNeg(l);
          break;
        case 0xa0:
          v = b_.CreateXor(l, r);
          break;
        case 0xb0:
          v = r;
          break;
        case 0xc0:  // the 32-bit one shifts the low word's sign in
          v = cls == 4 ? b_.CreateAShr(b_.CreateShl(l, 32),
                                       b_.CreateAdd(b_.CreateAnd(r, 31), b_.getInt64(32)))
                       : b_.CreateAShr(l, b_.CreateAnd(r, 63));
          break;
        default:
          fail("ALU opcode " + op + " (division is the script's, with its checks)");
      }
      if (!v) break;
      if (cls == 4) v = b_.CreateZExt(b_.CreateTrunc(v, b_.getInt32Ty()), i64_);
      b_.CreateStore(v, d);
    } else if (cls == 5 && bits == 0x80) {  // call by number
      std::optional<int64_t> id = Number(imm);
      if (Value v = id && *id < 0 ? StapbpfHelper(*id) : nullptr) {
        b_.CreateStore(v, cell("r0"));
        continue;
      }
      if (!id || *id <= 0) {
        fail("call of helper `" + imm +
             "` (stapbpf's own helpers other than -4 and -5 are not BPF's)");
        break;
      }
      std::vector<Value> regs;
      for (int i = 1; i <= 5; ++i)
        regs.push_back(b_.CreateLoad(i64_, cell("r" + std::to_string(i))));
      b_.CreateStore(Helper(*id, i64_, regs), cell("r0"));
    } else if (cls == 5 && bits != 0x90) {  // jumps to labels
      llvm::BasicBlock* target = label(off);
      if (bits == 0x00) {
        b_.CreateBr(target);
        Dead();
        continue;
      }
      Value l = b_.CreateLoad(i64_, reg(dst)), r = x ? b_.CreateLoad(i64_, reg(src)) : value(imm);
      Value cond = nullptr;
      switch (bits) {
        case 0x10:
          cond = b_.CreateICmpEQ(l, r);
          break;
        case 0x20:
          cond = b_.CreateICmpUGT(l, r);
          break;
        case 0x30:
          cond = b_.CreateICmpUGE(l, r);
          break;
        case 0x40:
          cond = b_.CreateICmpNE(b_.CreateAnd(l, r), b_.getInt64(0));
          break;
        case 0x50:
          cond = b_.CreateICmpNE(l, r);
          break;
        case 0x60:
          cond = b_.CreateICmpSGT(l, r);
          break;
        case 0x70:
          cond = b_.CreateICmpSGE(l, r);
          break;
        case 0xa0:
          cond = b_.CreateICmpULT(l, r);
          break;
        case 0xb0:
          cond = b_.CreateICmpULE(l, r);
          break;
        case 0xc0:
          cond = b_.CreateICmpSLT(l, r);
          break;
        case 0xd0:
          cond = b_.CreateICmpSLE(l, r);
          break;
        default:
          fail("jump opcode " + op);
      }
      if (!cond) break;
      auto* next = llvm::BasicBlock::Create(context_, "asm_next", frame_->fn);
      b_.CreateCondBr(cond, target, next);
      b_.SetInsertPoint(next);
    } else if (cls == 2 || cls == 3) {  // ST (immediate) / STX (register) to memory
      llvm::Type* type = size_type(*code);
      Value v = cls == 2 ? value(imm) : b_.CreateLoad(i64_, reg(src));
      b_.CreateStore(b_.CreateTrunc(v, type), memory(reg(dst), off));
    } else if (cls == 1 && (*code & 0xe0) == 0x60) {  // LDX from memory
      llvm::Type* type = size_type(*code);
      Value v = b_.CreateLoad(type, memory(reg(src), off));
      b_.CreateStore(b_.CreateZExtOrTrunc(v, i64_), reg(dst));
    } else {
      fail("opcode " + op);
    }
  }
  for (const auto& [name, block] : labels)
    if (!defined.count(name)) fail("a jump to `" + name + "`, which no `label` defines");
  if (!ok) return nullptr;
  Value result = b_.CreateLoad(i64_, cell("$$"));
  if (f->ret != Type::String) return result;
  Value slot = StringSlot();
  CopyString(slot, b_.CreateIntToPtr(result, ptr_));
  return slot;
}

}  // namespace btap::codegen::lowering
