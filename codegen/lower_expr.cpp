// Lowering expressions: arithmetic with stap's division rules, strings, assignments,
// target variables, and reading statistics (aggregates, histograms; `<<<` is
// lower_stats.cpp's) (see lowering.h).
#include "codegen/lowering.h"

#include "frontend/ast_walk.h"
#include "semantic/machine/header_types.h"
#include "semantic/target_vars.h"

namespace btap::codegen::lowering {

Value Lowering::Expr(ast::Expr* e) {
  Value v = ExprInner(e);
  if (!v) return e->type == Type::String ? Literal("") : b_.getInt64(0);
  return v;
}

Value Lowering::ExprInner(ast::Expr* e) {
  switch (e->kind) {
    case Kind::NumberLit:
      return b_.getInt64(static_cast<ast::NumberLit*>(e)->value);
    case Kind::StringLit:
      return Literal(static_cast<ast::StringLit*>(e)->value);
    case Kind::Symbol:
      return ReadSymbol(static_cast<ast::Symbol*>(e));
    case Kind::ArrayIndex: {
      if (auto* h = ast::As<ast::HistOp>(static_cast<ast::ArrayIndex*>(e)->base))
        return HistBucket(h, static_cast<ast::ArrayIndex*>(e));
      Place p;
      if (!PlaceOf(e, &p)) {
        Unsupported(e->range, "this array access");
        return nullptr;
      }
      return Load(p);
    }
    case Kind::ArrayIn: {
      // `i in @hist_log(x)`: bucket i is not empty.
      auto* index = static_cast<ast::ArrayIn*>(e)->index;
      if (std::any_of(index->indexes.begin(), index->indexes.end(),
                      [](ast::Expr* i) { return !i; }))
        return SliceMember(index);  // [k, *] in a
      if (auto* a = ast::As<ast::ArrayIndex>(index))
        if (auto* h = ast::As<ast::HistOp>(a->base)) {
          Value count = HistBucket(h, a);
          return count ? Bool(b_.CreateICmpNE(count, b_.getInt64(0))) : nullptr;
        }
      // A statistics element exists once a value went into it on some CPU.
      const GlobalInfo* stats = nullptr;
      Value key = nullptr;
      if (StatsPlace(index, &stats, &key))
        return Bool(b_.CreateIsNotNull(Helper(kMapLookup, ptr_, {stats->map, key})));
      Place p;
      if (!PlaceOf(static_cast<ast::ArrayIn*>(e)->index, &p)) {
        Unsupported(e->range, "this membership test");
        return nullptr;
      }
      return Bool(b_.CreateIsNotNull(Helper(kMapLookup, ptr_, {p.array->map, p.key})));
    }
    case Kind::Call:
      return Call(static_cast<ast::Call*>(e));
    case Kind::Unary: {
      auto* u = static_cast<ast::Unary*>(e);
      Value v = Expr(u->operand);
      switch (u->op) {
        case Tok::Minus:
          return b_.CreateNeg(v);
        case Tok::Bang:
          return Bool(b_.CreateICmpEQ(v, b_.getInt64(0)));
        case Tok::Tilde:
          return b_.CreateNot(v);
        default:
          return v;
      }
    }
    case Kind::Binary: {
      auto* x = static_cast<ast::Binary*>(e);
      Value l = Expr(x->lhs);
      Value r = Expr(x->rhs);
      return Arith(x->op, l, r, x);
    }
    case Kind::Logical: {
      auto* x = static_cast<ast::Logical*>(e);
      bool is_and = x->op == Tok::AndAnd;
      // `@defined($x) && $x` where @defined decides (here, when the right side does not
      // compile here): the right side is never compiled.
      if (std::optional<bool> known = FoldedCondition(x->lhs, x->rhs, nullptr);
          known && *known != is_and)
        return b_.getInt64(*known ? 1 : 0);
      Value l = Truth(Expr(x->lhs));
      auto* from = b_.GetInsertBlock();
      auto* rhs = llvm::BasicBlock::Create(context_, "rhs", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "logic", frame_->fn);
      if (is_and)
        b_.CreateCondBr(l, rhs, done);
      else
        b_.CreateCondBr(l, done, rhs);
      b_.SetInsertPoint(rhs);
      int guard = MentionsLoadTimeDefined(x->lhs) ? 1 : 0;
      core_guards_ += guard;
      Value r = Truth(Expr(x->rhs));
      core_guards_ -= guard;
      auto* rhs_end = b_.GetInsertBlock();
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      auto* phi = b_.CreatePHI(b_.getInt1Ty(), 2);
      phi->addIncoming(b_.getInt1(!is_and), from);
      phi->addIncoming(r, rhs_end);
      return Bool(phi);
    }
    case Kind::Comparison: {
      auto* x = static_cast<ast::Comparison*>(e);
      Value l = Expr(x->lhs);
      Value r = Expr(x->rhs);
      if (l->getType() != i64_) {
        l = Library("btap_strcmp", i64_, {l, r, b_.getInt64(limit_)});
        r = b_.getInt64(0);
      }
      switch (x->op) {
        case Tok::Less:
          return Bool(b_.CreateICmpSLT(l, r));
        case Tok::Greater:
          return Bool(b_.CreateICmpSGT(l, r));
        case Tok::LessEq:
          return Bool(b_.CreateICmpSLE(l, r));
        case Tok::GreaterEq:
          return Bool(b_.CreateICmpSGE(l, r));
        case Tok::EqEq:
          return Bool(b_.CreateICmpEQ(l, r));
        default:
          return Bool(b_.CreateICmpNE(l, r));
      }
    }
    case Kind::Concat: {
      auto* c = static_cast<ast::Concat*>(e);
      Value l = Expr(c->lhs);
      Value r = Expr(c->rhs);
      return Concat(l, r);
    }
    case Kind::Ternary: {
      auto* t = static_cast<ast::Ternary*>(e);
      // `@defined(x) ? x : y` (@choose_defined) known at compile time: as `if` above.
      if (std::optional<bool> known = FoldedCondition(t->cond, t->then, t->otherwise))
        return Expr(*known ? t->then : t->otherwise);
      Value cond = Truth(Expr(t->cond));
      auto* then = llvm::BasicBlock::Create(context_, "then", frame_->fn);
      auto* otherwise = llvm::BasicBlock::Create(context_, "else", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "endif", frame_->fn);
      b_.CreateCondBr(cond, then, otherwise);
      int guard = MentionsLoadTimeDefined(t->cond) ? 1 : 0;
      core_guards_ += guard;
      b_.SetInsertPoint(then);
      Value a = Expr(t->then);
      auto* then_end = b_.GetInsertBlock();
      b_.CreateBr(done);
      b_.SetInsertPoint(otherwise);
      Value c = Expr(t->otherwise);
      core_guards_ -= guard;
      auto* else_end = b_.GetInsertBlock();
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      auto* phi = b_.CreatePHI(a->getType(), 2);
      phi->addIncoming(a, then_end);
      phi->addIncoming(c, else_end);
      return phi;
    }
    case Kind::Assign:
      return Assign(static_cast<ast::Assign*>(e));
    case Kind::PreCrement:
    case Kind::PostCrement: {
      bool pre = e->kind == Kind::PreCrement;
      Tok op = pre ? static_cast<ast::PreCrement*>(e)->op : static_cast<ast::PostCrement*>(e)->op;
      ast::Expr* operand = pre ? static_cast<ast::PreCrement*>(e)->operand
                               : static_cast<ast::PostCrement*>(e)->operand;
      Place p;
      if (!PlaceOf(operand, &p)) {
        Unsupported(e->range, "this increment");
        return nullptr;
      }
      auto [old, now] =
          Update(p, op == Tok::PlusPlus ? Tok::Plus : Tok::Minus, b_.getInt64(1), operand);
      return pre ? now : old;
    }
    case Kind::TargetSymbol:
      return TargetVar(static_cast<ast::TargetSymbol*>(e));
    case Kind::Cast:
      // "kernel", and stap's own "kernel<linux/sched.h>" and "kernel:..." spellings.
      if (auto* c = static_cast<ast::Cast*>(e);
          !c->lowered && (c->module.empty() || c->module.starts_with("kernel"))) {
        if (!frame_->user_side) return KernelCast(c);
        // In btap's user space (begin, end, error): addresses and sizes only, from the
        // compiling kernel's layout (&@cast(0, "T")->member, @cast_sizeof).
        constant_layout_ = true;
        Value v = KernelCast(c);
        constant_layout_ = false;
        return v;
      }
      [[fallthrough]];
    case Kind::AtVar:
    case Kind::Autocast:
      if (auto* t = static_cast<ast::TargetBase*>(e); t->lowered) return Expr(t->lowered);
      if (auto* a = ast::As<ast::Autocast>(e); a && !frame_->user_side) {
        if (Value v = ChosenTarget(a)) return v;
        if (failed_) return nullptr;
        if (Value v = AutocastLocal(a)) return v;
        if (failed_) return nullptr;
      }
      if (auto* v = ast::As<ast::AtVar>(e); v && frame_->probe && !frame_->user_side)
        if (const sema::TargetArg* arg = KernelAtVar(v)) return KernelDwarfGlobal(v, *arg);
      // Pass 2 reads header types in probe bodies and conditions (target_walk.cpp).
      if (auto* c = ast::As<ast::Cast>(e); c && sema::IsUserHeaderModule(c->module)) {
        Unsupported(e->range,
                    "`@cast` to a type from headers (`" + std::string(c->module) + "`) here",
                    ": cast in the probe's body and pass the value to the function");
        return nullptr;
      }
      Unsupported(e->range, "this target expression", " outside user-space probes");
      return nullptr;
    case Kind::Register:
      return UserRegister(static_cast<ast::Register*>(e));
    case Kind::Deref:
      return UserDeref(static_cast<ast::Deref*>(e));
    case Kind::Defined: {
      auto* d = static_cast<ast::Defined*>(e);
      // A member chain the compiling kernel has: does the loading kernel have it too?
      if (d->known == 1)
        if (const sema::TargetArg* arg = KernelChainArg(d->operand))
          return KernelChainExists(static_cast<ast::TargetSymbol*>(d->operand), *arg);
      if (d->known >= 0) return b_.getInt64(d->known);
      Unsupported(e->range, "this `@defined`");
      return nullptr;
    }
    case Kind::Probewrite:
      return b_.getInt64(static_cast<ast::Probewrite*>(e)->written ? 1 : 0);
    case Kind::StatOp:
      return StatOp(static_cast<ast::StatOp*>(e));
    case Kind::Entry:
      return EntryValue(static_cast<ast::Entry*>(e));
    case Kind::HistOp:
      Unsupported(e->range, "a histogram here", "; print it with print() or println()");
      return nullptr;
    case Kind::EmbeddedExpr:
      return EmbeddedValue(static_cast<ast::EmbeddedExpr*>(e));
    case Kind::RegexMatch:
      return RegexSearch(static_cast<ast::RegexMatch*>(e));
    default:
      Unsupported(e->range, "this expression");
      return nullptr;
  }
}

// A condition decided at compile time by `@defined` results alone (through `!`, `&&` and
// `||`), so that the branch not taken, which may name what this kernel lacks, is not
// compiled.
std::optional<bool> Lowering::KnownCondition(ast::Expr* e, bool load_time_unknown) {
  if (auto* d = ast::As<ast::Defined>(e)) {
    if (load_time_unknown && d->known == 1 && KernelChainArg(d->operand)) return std::nullopt;
    if (d->known >= 0) return d->known != 0;
    return std::nullopt;
  }
  if (auto* u = ast::As<ast::Unary>(e); u && u->op == Tok::Bang) {
    std::optional<bool> inner = KnownCondition(u->operand, load_time_unknown);
    if (inner) return !*inner;
    return std::nullopt;
  }
  if (auto* x = ast::As<ast::Logical>(e)) {
    bool is_and = x->op == Tok::AndAnd;
    std::optional<bool> l = KnownCondition(x->lhs, load_time_unknown),
                        r = KnownCondition(x->rhs, load_time_unknown);
    if (l && *l != is_and) return !is_and;  // false && ..., true || ...
    if (l && r) return *r;
    return std::nullopt;
  }
  return std::nullopt;
}

// Whether `cond` has an `@defined` of a kernel member chain the compiling kernel has, and
// both branches compile here (every kernel member chain in them exists in this kernel's
// BTF): then the condition is left to the loading kernel, whose verifier drops the branch
// not taken (with any relocation in it that kernel cannot satisfy).
std::optional<bool> Lowering::FoldedCondition(ast::Expr* cond, ast::Node* then,
                                              ast::Node* otherwise) {
  // Decided whatever the loading kernel has (a false operand of `&&`, say): fold.
  if (std::optional<bool> certain = KnownCondition(cond, true)) return certain;
  std::optional<bool> known = KnownCondition(cond);
  if (known && LoadTimeCondition(cond, then, otherwise)) return std::nullopt;
  return known;
}

bool Lowering::LoadTimeCondition(ast::Expr* cond, ast::Node* then, ast::Node* otherwise) {
  if (!MentionsLoadTimeDefined(cond)) return false;
  const struct btf* vmlinux = program_.kernel.btf ? program_.kernel.btf() : nullptr;
  bool compiles = true;
  std::function<void(ast::Node*)> check = [&](ast::Node* n) {
    if (!n || !compiles || ast::Is<ast::Defined>(n)) return;
    // `@cast(...)->m` is checked by codegen only: a branch with one is decided here.
    if (auto* c = ast::As<ast::Cast>(n); c && !c->components.empty()) compiles = false;
    if (auto* t = ast::As<ast::TargetSymbol>(n); t && !KnownKernelTarget(t)) compiles = false;
    if (auto* t = ast::As<ast::TargetSymbol>(n))
      if (const sema::TargetArg* a = KernelChainArg(t)) {
        const struct btf* btf = a->btf ? a->btf : vmlinux;
        std::span<const ast::TargetComponent> chain = t->components;
        if (!chain.empty() && chain.back().kind == ast::TargetComponent::Kind::PrettyPrint)
          chain = chain.first(chain.size() - 1);
        if (!btf || !sema::KernelChainType(btf, a->btf_type, chain)) compiles = false;
      }
    ast::ForEachChild(n, check);
  };
  check(then);
  check(otherwise);
  return compiles;
}

bool Lowering::MentionsLoadTimeDefined(ast::Expr* cond) {
  bool load_time = false;
  ast::WalkTree(cond, [&](ast::Node* n) {
    if (auto* d = ast::As<ast::Defined>(n); d && d->known == 1 && KernelChainArg(d->operand))
      load_time = true;
  });
  return load_time;
}

Value Lowering::Concat(Value l, Value r) {
  Value slot = StringSlot();
  Library("btap_concat", i64_, {slot, l, r, b_.getInt64(slot_), b_.getInt64(limit_)});
  return slot;
}

// Signed division and modulo by stap's rules: truncation toward zero, and an error for
// a zero divisor. BPF v3 divides unsigned only, so signs are applied around it.
Value Lowering::Divide(bool modulo, Value l, Value r, ast::Node* at, ast::Expr* lhs,
                       ast::Expr* rhs) {
  std::string op = modulo ? "%" : "/";
  SourceRange where = at->range;
  if (lhs && rhs && lhs->range.valid() && rhs->range.valid() &&
      lhs->range.end <= rhs->range.begin) {
    std::string_view t = sm_.file(lhs->range.file).text();
    std::string_view between = t.substr(lhs->range.end, rhs->range.begin - lhs->range.end);
    size_t at_op = between.find(modulo ? '%' : '/');
    if (at_op != std::string_view::npos)
      where = {lhs->range.file, static_cast<uint32_t>(lhs->range.end + at_op),
               static_cast<uint32_t>(lhs->range.end + at_op + 1)};
  }
  Check(Truth(r), "division by 0" + Near("operator", op, where));
  Value ln = b_.CreateICmpSLT(l, b_.getInt64(0));
  Value rn = b_.CreateICmpSLT(r, b_.getInt64(0));
  Value la = b_.CreateSelect(ln, b_.CreateNeg(l), l);
  Value ra = b_.CreateSelect(rn, b_.CreateNeg(r), r);
  if (modulo) {
    Value m = b_.CreateURem(la, ra);
    return b_.CreateSelect(ln, b_.CreateNeg(m), m);
  }
  Value q = b_.CreateUDiv(la, ra);
  return b_.CreateSelect(b_.CreateXor(ln, rn), b_.CreateNeg(q), q);
}

Value Lowering::Arith(Tok op, Value l, Value r, ast::Node* at, ast::Expr* lhs, ast::Expr* rhs) {
  if (auto* bin = ast::As<ast::Binary>(at)) {
    lhs = bin->lhs;
    rhs = bin->rhs;
  }
  Value shift = b_.CreateAnd(r, b_.getInt64(63));
  switch (op) {
    case Tok::Plus:
      return b_.CreateAdd(l, r);
    case Tok::Minus:
      return b_.CreateSub(l, r);
    case Tok::Star:
      return b_.CreateMul(l, r);
    case Tok::Slash:
      return Divide(false, l, r, at, lhs, rhs);
    case Tok::Percent:
      return Divide(true, l, r, at, lhs, rhs);
    case Tok::Shl:
      return b_.CreateShl(l, shift);
    case Tok::Shr:
      return b_.CreateAShr(l, shift);
    case Tok::UShr:
      return b_.CreateLShr(l, shift);
    case Tok::Amp:
      return b_.CreateAnd(l, r);
    case Tok::Pipe:
      return b_.CreateOr(l, r);
    default:
      return b_.CreateXor(l, r);
  }
}

Tok Lowering::BinaryOf(Tok assign) {
  switch (assign) {
    case Tok::AddAssign:
      return Tok::Plus;
    case Tok::SubAssign:
      return Tok::Minus;
    case Tok::MulAssign:
      return Tok::Star;
    case Tok::DivAssign:
      return Tok::Slash;
    case Tok::ModAssign:
      return Tok::Percent;
    case Tok::ShlAssign:
      return Tok::Shl;
    case Tok::ShrAssign:
      return Tok::Shr;
    case Tok::AndAssign:
      return Tok::Amp;
    case Tok::XorAssign:
      return Tok::Caret;
    case Tok::OrAssign:
      return Tok::Pipe;
    default:
      return Tok::Assign;
  }
}

// A read-modify-write of a long: atomic for globals and array elements when the
// operation allows it (so counters from many CPUs add up). Returns {old, new}.
std::pair<Value, Value> Lowering::Update(const Place& p, Tok op, Value operand, ast::Expr* at) {
  bool additive = op == Tok::Plus || op == Tok::Minus;
  Value delta = op == Tok::Minus ? b_.CreateNeg(operand) : operand;
  if (!p.element) {
    if (p.atomic && additive) {
      Value old = b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, p.address, delta,
                                     llvm::MaybeAlign(8), llvm::AtomicOrdering::Monotonic);
      return {old, b_.CreateAdd(old, delta)};
    }
    Value old = b_.CreateLoad(i64_, p.address);
    Value now = Arith(op, old, operand, at, at, nullptr);
    b_.CreateStore(now, p.address);
    return {old, now};
  }
  Value found = Helper(kMapLookup, ptr_, {p.array->map, p.key});
  auto* hit = llvm::BasicBlock::Create(context_, "found", frame_->fn);
  auto* miss = llvm::BasicBlock::Create(context_, "missing", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "updated", frame_->fn);
  b_.CreateCondBr(b_.CreateIsNotNull(found), hit, miss);
  b_.SetInsertPoint(hit);
  Value old_hit, new_hit;
  if (additive) {
    old_hit = b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, found, delta, llvm::MaybeAlign(8),
                                 llvm::AtomicOrdering::Monotonic);
    new_hit = b_.CreateAdd(old_hit, delta);
  } else {
    old_hit = b_.CreateLoad(i64_, found);
    new_hit = Arith(op, old_hit, operand, at, at, nullptr);
    b_.CreateStore(new_hit, found);
  }
  auto* hit_end = b_.GetInsertBlock();
  b_.CreateBr(done);
  b_.SetInsertPoint(miss);
  Value new_miss = Arith(op, b_.getInt64(0), operand, at, at, nullptr);
  Place copy = p;
  Store(copy, new_miss);
  auto* miss_end = b_.GetInsertBlock();
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  auto* old = b_.CreatePHI(i64_, 2);
  old->addIncoming(old_hit, hit_end);
  old->addIncoming(b_.getInt64(0), miss_end);
  auto* now = b_.CreatePHI(i64_, 2);
  now->addIncoming(new_hit, hit_end);
  now->addIncoming(new_miss, miss_end);
  return {old, now};
}

Value Lowering::Assign(ast::Assign* a) {
  if (a->op == Tok::StatAccum) {
    Accumulate(a);
    return nullptr;
  }
  if (KnownLiteral(a->lhs)) return Expr(a->rhs);  // a local that holds one literal: no slot
  if (IsVerdict(a->lhs)) return AssignVerdict(a);
  if (IsProcfsValue(a->lhs)) return ProcfsAssign(a);
  Place p;
  if (!PlaceOf(a->lhs, &p)) {
    Unsupported(a->range, "this assignment");
    return nullptr;
  }
  Value r = Expr(a->rhs);
  if (a->op == Tok::Assign) {
    Store(p, r);
    return p.is_string && !p.element ? p.address : r;
  }
  if (a->op == Tok::ConcatAssign) {
    Value now = Concat(Load(p), r);
    Store(p, now);
    return now;
  }
  return Update(p, BinaryOf(a->op), r, a).second;
}

// `(@choose_defined($new, $old))->member`: the target variable @defined leaves, with the
// member chain after it, as if it had been written `$old->member`; null otherwise.
Value Lowering::ChosenTarget(ast::Autocast* a) {
  auto* choice = ast::As<ast::Ternary>(a->operand);
  std::optional<bool> known = choice ? KnownCondition(choice->cond, true) : std::nullopt;
  auto* live =
      known ? ast::As<ast::TargetSymbol>(*known ? choice->then : choice->otherwise) : nullptr;
  if (!live || live->addressof || live->lowered) return nullptr;
  ast::TargetSymbol joined = *live;
  std::vector<ast::TargetComponent> chain(live->components.begin(), live->components.end());
  chain.insert(chain.end(), a->components.begin(), a->components.end());
  joined.components = chain;
  joined.components_capacity = 0;
  joined.addressof = a->addressof;
  joined.range = a->range;
  return TargetVar(&joined);
}

Value Lowering::TargetVar(ast::TargetSymbol* t) {
  if (t->lowered) return Expr(t->lowered);
  if (IsProcfsValue(t)) return ProcfsRead();
  const sema::Probe* probe = frame_->probe;
  if (probe && sema::IsKernelFunction(probe->spec.family) && frame_->ctx) return KernelTarget(t);
  if (probe && probe->spec.family == sema::Family::Netfilter && frame_->ctx) return NetfilterVar(t);
  bool btf_tracepoint = probe && sema::HasSlotArgs(probe->spec);
  if ((!t->components.empty() || t->addressof) && !btf_tracepoint) {
    Unsupported(t->range, "member access, indexing and `&` on target variables",
                "; they need kernel type information (CO-RE) that this probe's arguments lack");
    return nullptr;
  }
  std::string_view name = t->name.substr(t->name[0] == '$' ? 1 : 0);
  if (!frame_->ctx) {
    Unsupported(t->range, "a target variable inside a kernel-side `foreach`",
                "; copy it to a local before the loop");
    return nullptr;
  }
  for (const sema::TargetArg& arg : probe->spec.args) {
    if (arg.name != name) continue;
    if (probe->spec.raw_syscall && arg.is_dynamic) {
      // A user string the event copies (Linux after 6.18): not in the raw form's registers.
      Unsupported(t->range, "`" + std::string(t->name) + "` of a syscalls:* point",
                  "; it runs on raw_syscalls, where the record's string copies do not exist: "
                  "read the argument's string with user_string()");
      return nullptr;
    }
    if (probe->spec.family == sema::Family::Syscall || probe->spec.raw_syscall)
      return SyscallVar(arg);
    if (probe->spec.family != sema::Family::Tracepoint && probe->spec.family != sema::Family::Lsm)
      break;
    if (sema::HasSlotArgs(probe->spec)) {
      Value v = Extend(RawArg(arg.index), arg.size, arg.is_signed);
      if (t->components.empty() && !t->addressof) return v;
      // Members of kernel structs the raw tracepoint passes: CO-RE accesses.
      const struct btf* btf = program_.kernel.btf ? program_.kernel.btf() : nullptr;
      if (btf && arg.btf_type) return KernelChain(t, t->name, v, arg.btf_type, false);
      break;
    }
    Value field = b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->ctx, arg.offset);
    if (arg.is_array) return b_.CreatePtrToInt(field, i64_);
    if (arg.is_dynamic) {
      Value loc = b_.CreateLoad(b_.getInt32Ty(), field);
      Value off = b_.CreateAnd(b_.CreateZExt(loc, i64_), b_.getInt64(0xffff));
      return b_.CreatePtrToInt(b_.CreateGEP(b_.getInt8Ty(), frame_->ctx, off), i64_);
    }
    uint32_t size = arg.size == 1 || arg.size == 2 || arg.size == 4 ? arg.size : 8;
    Value v = b_.CreateLoad(b_.getIntNTy(size * 8), field);
    return size == 8 ? v : arg.is_signed ? b_.CreateSExt(v, i64_) : b_.CreateZExt(v, i64_);
  }
  Unsupported(t->range, "target variable `" + std::string(t->name) + "` in this probe");
  return nullptr;
}

// raw_syscalls:sys_enter(regs, id) and sys_exit(regs, ret): arguments are the user
// registers the kernel saved, read from its pt_regs.
// (A syscalls:* event's `__syscall_nr` is an int: `size` 4.)
Value Lowering::SyscallVar(const sema::TargetArg& arg) {
  using Source = sema::TargetArg::Source;
  const sema::ProbeSpec& spec = frame_->probe->spec;
  // (Through RawArg: loads of ctx + 8 in several places may leave that address in a
  // register, which the verifier refuses to load through.)
  if (arg.source == Source::Return) return RawArg(1);
  if (arg.source == Source::SyscallNr && !spec.is_return && spec.raw_syscall != 2)
    return Extend(RawArg(1), arg.size, arg.is_signed);
  Value regs = b_.CreateIntToPtr(RawArg(0), ptr_);
  Value tmp = Alloca(i64_);
  b_.CreateStore(b_.getInt64(0), tmp);
  // A body that runs for compat calls too (CompatBodyNumbers): their arguments are in
  // ebx, ecx, edx, esi, edi, ebp, 32 bits wide (ints and longs sign-extended, pointers and
  // unsigned values zero-extended), where x86-64's are in rdi, rsi, rdx, r10, r8, r9.
  constexpr std::pair<uint32_t, uint32_t> kCompatRegs[] = {{112, 40}, {104, 88}, {96, 96},
                                                           {56, 104}, {72, 112}, {64, 32}};
  const auto* compat_reg = std::find_if(std::begin(kCompatRegs), std::end(kCompatRegs),
                                        [&](const auto& r) { return r.first == arg.offset; });
  Value compat =
      arg.source == Source::Register && frame_->compat_args && compat_reg != std::end(kCompatRegs)
          ? CompatArgs()
          : nullptr;
  Value offset = b_.getInt64(arg.offset);
  if (compat) offset = b_.CreateSelect(compat, b_.getInt64(compat_reg->second), offset);
  Helper(kProbeReadKernel, i64_, {tmp, b_.getInt32(8), b_.CreateGEP(b_.getInt8Ty(), regs, offset)});
  Value v = b_.CreateLoad(i64_, tmp);
  if (!compat) return Extend(v, arg.size, arg.is_signed);
  return b_.CreateSelect(compat, Extend(v, std::min(arg.size ? arg.size : 8u, 4u), arg.is_signed),
                         Extend(v, arg.size, arg.is_signed));
}

bool Lowering::UserProbe(const sema::Probe* p) const {
  return p && sema::IsUserSpace(p->spec.family);
}

// pt_regs offsets of rax rdx rcx rbx rsi rdi rbp rsp r8..r15 rip.
static constexpr int kOffsets[] = {80, 96, 88, 40, 104, 112, 32, 152, 72,
                                   64, 56, 48, 24, 16,  8,   0,  128};

int Lowering::DwarfRegisterOffset(int regno) { return kOffsets[regno]; }

// A register of the probed user task, by DWARF number (x86-64), from the pt_regs that
// uprobes pass; or the probed object's load bias: the run-time address of the probe (the
// instruction pointer at a uprobe, the function's address at a uretprobe) less its
// link-time address.
Value Lowering::UserRegister(ast::Register* r) {
  if (!r->user && r->load_bias)
    return r->module_section.empty() ? KernelSlide() : ModuleSectionBase(r->module_section);
  if (!r->user && r->entry_function) return EntryRegister(r);
  // A kprobe's context is the kernel's pt_regs, of the same layout: the registers that
  // DWARF locates kernel variables in (kernel_dwarf_vars.cpp).
  bool kernel = !r->user && frame_->ctx && frame_->probe &&
                sema::IsKernelFunction(frame_->probe->spec.family);
  if (!kernel && (!r->user || !frame_->ctx || !UserProbe(frame_->probe))) {
    Unsupported(r->range, r->user ? "user registers outside process probes" : "`@kregister`");
    return nullptr;
  }
  const sema::ProbeSpec& spec = frame_->probe->spec;
  auto reg = [&](int offset) { return PtRegsAt(offset); };
  if (r->load_bias) {
    if (frame_->at_entry)
      return b_.CreateSub(reg(128), b_.getInt64(static_cast<int64_t>(spec.call_address)));
    if (spec.is_return)
      return b_.CreateSub(Helper(kGetFuncIp, i64_, {frame_->ctx}),
                          b_.getInt64(static_cast<int64_t>(spec.address)));
    return b_.CreateSub(reg(128), b_.getInt64(static_cast<int64_t>(spec.address)));
  }
  if (r->regno < 0 || r->regno >= static_cast<int64_t>(std::size(kOffsets))) {
    Unsupported(r->range, "DWARF register " + std::to_string(r->regno));
    return nullptr;
  }
  return reg(kOffsets[r->regno]);
}

// `size` bytes at `pointer` through a probe-read helper, zero-extended; `rc` gets the
// helper's result. One cell serves every read of the handler: each is loaded right after
// its helper call, and 8 bytes per read would soon pass the 512-byte stack.
Value Lowering::ReadCell(HelperId helper, Value pointer, uint32_t size, Value* rc) {
  if (!frame_->read_cell) frame_->read_cell = Alloca(i64_);
  Value cell = frame_->read_cell;
  b_.CreateStore(b_.getInt64(0), cell);
  Value result = helper == kProbeReadUser
                     ? ReadUser(cell, b_.getInt32(size), pointer)
                     : Helper(helper, i64_, {cell, b_.getInt32(size), pointer});
  if (rc) *rc = result;
  return b_.CreateLoad(i64_, cell);
}

// Argument `index` of a raw tracepoint, loaded once per handler in its entry block: loads
// of the same slot in several places let LLVM keep `ctx + 8 * index` in a register, and
// the verifier refuses a load through a modified ctx pointer.
Value Lowering::RawArg(uint32_t index) {
  Value& cached = frame_->raw_args[index];
  if (!cached) {
    llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
    b_.SetInsertPoint(frame_->alloca_point->getNextNode());
    if (frame_->probe && frame_->probe->spec.family == sema::Family::Lsm) {
      // An LSM program's context is typed: a pointer loaded from it is a kernel pointer
      // the verifier allows no arithmetic on. bpf_get_func_arg (inlined) gives a number.
      Value cell = Alloca(i64_);
      b_.CreateStore(b_.getInt64(0), cell);
      Helper(kGetFuncArg, i64_, {frame_->ctx, b_.getInt32(index), cell});
      cached = b_.CreateLoad(i64_, cell);
    } else {
      cached = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, frame_->ctx, index));
    }
    b_.restoreIP(here);
  }
  return cached;
}

// One saved register from the probe's pt_regs. Read through a helper: LLVM may keep a
// ctx pointer with an offset in a register, and the verifier refuses loads through it.
// The read is marked with the register's offset, so that a kernel function's handler can
// become an fentry program, where arguments come from bpf_get_func_arg (lower_fentry.cpp).
Value Lowering::PtRegsAt(int offset) {
  Value call;
  Value value = ReadCell(kProbeReadKernel,
                         b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->ctx, offset), 8, &call);
  llvm::cast<llvm::CallInst>(call)->setMetadata(
      kPtRegsRead, llvm::MDNode::get(context_, llvm::ConstantAsMetadata::get(b_.getInt32(offset))));
  return value;
}

// @uderef(size, address): user memory of the probed task; a fault is stap's run-time error.
Value Lowering::UserDeref(ast::Deref* d) {
  // Kernel reads: DWARF's locations in kernel function probes, and @var anywhere in the
  // kernel (kernel_dwarf_vars.cpp).
  bool kernel =
      !d->user && frame_->ctx && frame_->probe && !sema::IsUserSpace(frame_->probe->spec.family);
  if ((!d->user && !kernel) || !frame_->ctx || frame_->user_side) {
    Unsupported(d->range, d->user ? "reading user memory here" : "`@kderef`");
    return nullptr;
  }
  if (d->size != 1 && d->size != 2 && d->size != 4 && d->size != 8) {
    Unsupported(d->range, "a read of " + std::to_string(d->size) + " bytes");
    return nullptr;
  }
  Value address = Expr(d->address);
  if (!address) return nullptr;
  Value rc;
  Value read = ReadCell(kernel ? kProbeReadKernel : kProbeReadUser,
                        b_.CreateIntToPtr(address, ptr_), static_cast<uint32_t>(d->size), &rc);
  // A kernel variable's reads were built in pass 2, without a place: the `$var` read is it.
  SourceRange range = d->range.valid() ? d->range : target_range_;
  std::string_view text = range.valid() ? sm_.file(range.file).text() : std::string_view();
  std::string_view token = range.valid() ? text.substr(range.begin, range.end - range.begin)
                                         : std::string_view(kernel ? "@kderef" : "@uderef");
  size_t name = token.find_first_not_of('$');
  token = token.substr(0, token.find_first_of("-[.$", name == std::string_view::npos ? 0 : name));
  CheckFormat(
      b_.CreateICmpSGE(rc, b_.getInt64(0)),
      "read fault [man error::fault] at %p" + EscapePercent(Near("identifier", token, range)),
      {address});
  return Extend(read, static_cast<uint32_t>(d->size), d->is_signed);
}

Value Lowering::EntryValue(ast::Entry* e) {
  if (frame_->at_entry) return Expr(e->operand);  // nested: already at the entry
  const auto* offsets = frame_->entry_offsets;
  if (!offsets || !offsets->count(e)) {
    Unsupported(e->range, "`@entry` here", "; it works in return probes");
    return nullptr;
  }
  Value at = b_.CreateConstGEP1_64(b_.getInt8Ty(), frame_->entry_values, offsets->at(e));
  return e->operand->type == Type::String ? at : b_.CreateLoad(i64_, at);
}

Value Lowering::Extend(Value v, uint32_t size, bool is_signed) {
  if (size >= 8 || size == 0) return v;
  llvm::Type* narrow = b_.getIntNTy(size * 8);
  Value t = b_.CreateTrunc(v, narrow);
  return is_signed ? b_.CreateSExt(t, i64_) : b_.CreateZExt(t, i64_);
}

// The merged value of a statistics variable or element (user side: the interpreter
// merges the CPUs' copies), or null when it has none.
Value Lowering::MergedStats(ast::Expr* operand, SourceRange at, Value bucket) {
  const GlobalInfo* g = nullptr;
  Value key = nullptr;
  if (!StatsPlace(operand, &g, &key)) {
    Unsupported(at, "this aggregate");
    return nullptr;
  }
  // The interpreter's lookup merges the CPUs' copies itself.
  if (frame_->user_side) return Helper(kMapLookup, ptr_, {g->map, key});
  Value merged = ScratchAt(TempBytes(8 * (stats::kBuckets + 1)));
  Value count = Library("btap_stats_merge", i64_,
                        {g->map, key, merged, b_.CreateLoad(i64_, cpus_),
                         bucket ? bucket : b_.getInt64(-1), b_.getInt64(g->shape.Buckets())});
  return b_.CreateSelect(b_.CreateICmpSGT(count, b_.getInt64(0)), merged,
                         llvm::ConstantPointerNull::get(ptr_));
}

Value Lowering::StatOp(ast::StatOp* s) {
  Value value = MergedStats(s->operand, s->range);
  if (!value) return nullptr;
  auto* have = llvm::BasicBlock::Create(context_, "stats", frame_->fn);
  auto* none = llvm::BasicBlock::Create(context_, "nostats", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "aggregate", frame_->fn);
  b_.CreateCondBr(b_.CreateIsNotNull(value), have, none);
  b_.SetInsertPoint(have);
  Value count = b_.CreateLoad(i64_, Slot(value, stats::kCount));
  Value result = nullptr;
  bool needs_data = s->op != ast::AtWord::Count && s->op != ast::AtWord::Sum;
  std::string empty =
      "empty aggregate" +
      Near("operator", "@" + std::string(frontend::AtWordSpelling(s->op)), s->range);
  if (needs_data) Check(b_.CreateICmpSGT(count, b_.getInt64(0)), empty);
  switch (s->op) {
    case ast::AtWord::Count:
      result = count;
      break;
    case ast::AtWord::Sum:
      result = b_.CreateLoad(i64_, Slot(value, stats::kSum));
      break;
    case ast::AtWord::Min:
      result = b_.CreateLoad(i64_, Slot(value, stats::kMin));
      break;
    case ast::AtWord::Max:
      result = b_.CreateLoad(i64_, Slot(value, stats::kMax));
      break;
    case ast::AtWord::Avg:
      result =
          Divide(false, b_.CreateLoad(i64_, Slot(value, stats::kSum)), count, s, nullptr, nullptr);
      break;
    default: {
      // (n * sum(x^2) - sum(x)^2) / (n * (n - 1)), 0 for a single sample.
      Value sum = b_.CreateLoad(i64_, Slot(value, stats::kSum));
      Value squares = b_.CreateLoad(i64_, Slot(value, stats::kSumSquares));
      Value top = b_.CreateSub(b_.CreateMul(count, squares), b_.CreateMul(sum, sum));
      Value bottom = b_.CreateMul(count, b_.CreateSub(count, b_.getInt64(1)));
      Value one = b_.CreateICmpSLE(count, b_.getInt64(1));
      bottom = b_.CreateSelect(one, b_.getInt64(1), bottom);
      result =
          b_.CreateSelect(one, b_.getInt64(0), Divide(false, top, bottom, s, nullptr, nullptr));
      break;
    }
  }
  auto* have_end = b_.GetInsertBlock();
  b_.CreateBr(done);
  b_.SetInsertPoint(none);
  if (needs_data) Fail(EscapePercent(empty));
  auto* none_end = b_.GetInsertBlock();
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  auto* phi = b_.CreatePHI(i64_, 2);
  phi->addIncoming(result, have_end);
  phi->addIncoming(b_.getInt64(0), none_end);
  return phi;
}

// @hist_log(x)[i]: the count in bucket i, numbered as the table's rows are kept (log:
// 128 buckets with 0 at 64; linear: the underflow bucket, then one per interval, then
// the overflow bucket); stap's error outside them. No samples: every bucket is 0.
Value Lowering::HistBucket(ast::HistOp* h, ast::ArrayIndex* a) {
  if (a->indexes.size() != 1 || !a->indexes[0]) {
    Unsupported(a->range, "this histogram index");
    return nullptr;
  }
  const stats::Shape& shape = globals_[AggregateVar(h->operand)].shape;
  Value index = Expr(a->indexes[0]);
  if (!index) return nullptr;
  Check(b_.CreateICmpULT(index, b_.getInt64(shape.Buckets())),
        "histogram index out of range" + Near("operator", "[", a->range));
  Value value = MergedStats(h->operand, h->range, index);
  if (!value) return nullptr;
  // The kernel's merge leaves just the asked-for bucket, in the first bucket slot.
  Value slot_index = frame_->user_side ? index : b_.getInt64(0);
  auto* have = llvm::BasicBlock::Create(context_, "hist", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "bucket", frame_->fn);
  auto* from = b_.GetInsertBlock();
  b_.CreateCondBr(b_.CreateIsNotNull(value), have, done);
  b_.SetInsertPoint(have);
  Value slot = b_.CreateGEP(i64_, value, b_.CreateAdd(slot_index, b_.getInt64(stats::kBuckets)));
  Value count = b_.CreateLoad(i64_, slot);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  auto* phi = b_.CreatePHI(i64_, 2);
  phi->addIncoming(count, have);
  phi->addIncoming(b_.getInt64(0), from);
  return phi;
}

Value Lowering::PrintHistogram(ast::HistOp* h, Value dst, bool line) {
  if (!frame_->user_side) {
    // The runtime makes the table where it prints it (lower_print_histogram.cpp); a
    // string of it is made in the kernel (lower_histogram_text.cpp).
    if (dst) return HistogramText(h, dst, line);
    Value buf = KernelHistogram(h);
    if (buf) Record(record::Kind::Printf, FormatId(line ? "%{hist}s\n" : "%{hist}s"), {buf});
    return nullptr;
  }
  Value value = MergedStats(h->operand, h->range);
  if (!value) return nullptr;
  const sema::Variable* v = AggregateVar(h->operand);
  const stats::Shape& shape = globals_[v].shape;
  std::string empty =
      "empty aggregate" +
      Near("operator", "@" + std::string(frontend::AtWordSpelling(h->op)), h->range);
  Check(b_.CreateIsNotNull(value), empty);
  Check(b_.CreateICmpSGT(b_.CreateLoad(i64_, Slot(value, stats::kCount)), b_.getInt64(0)), empty);
  uint64_t packed = static_cast<uint64_t>(shape.hist) | (uint64_t{shape.Buckets()} << 8) |
                    (line ? uint64_t{1} << 31 : 0) | (dst ? uint64_t{limit_} << 32 : 0);
  Helper(user_helper::kPrintHistogram, i64_,
         {value, b_.getInt64(packed), b_.getInt64(shape.start), b_.getInt64(shape.interval),
          dst ? dst : llvm::ConstantPointerNull::get(ptr_)});
  return dst;
}

}  // namespace btap::codegen::lowering
