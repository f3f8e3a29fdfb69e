// Lowering statements: output records, run-time errors and `try`, variables and
// array elements, control flow and `foreach` (see lowering.h).
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

// Writes one record. Arguments are already evaluated (strings sit in slots).
void Lowering::Record(record::Kind kind, uint32_t format, const std::vector<Value>& args) {
  Value at = nullptr, size = nullptr;
  bool numbers =
      std::all_of(args.begin(), args.end(), [&](Value a) { return a->getType() == i64_; });
  if (!frame_->user_side && !frame_->locals_in_scratch && numbers && args.size() <= 6) {
    // A few numbers fit on the stack: a handler whose only record is its errors (an
    // array full) then needs no scratch space, and no lookup of it on every event. A
    // handler with a loop or foreach callback, and each callback, has its scratch anyway,
    // and its frame adds to the others' in the verifier's 512-byte chain: there these 56
    // bytes go to the record area (psig.stp's begin loop, 6.1: 576 bytes to 480).
    kernel_records_ = true;
    if (!frame_->stack_record) frame_->stack_record = Alloca(llvm::ArrayType::get(i64_, 7));
    at = frame_->stack_record;
    b_.CreateStore(b_.getInt32(static_cast<uint32_t>(kind)), at);
    b_.CreateStore(b_.getInt32(format), b_.CreateConstGEP1_64(b_.getInt8Ty(), at, 4));
    for (size_t i = 0; i < args.size(); ++i)
      b_.CreateStore(args[i], b_.CreateConstGEP1_64(b_.getInt8Ty(), at, 8 * (i + 1)));
    size = b_.getInt64(8 * (1 + args.size()));
  } else {
    size = BuildRecord(kind, format, args);
    at = ScratchAt(uint32_t{0});
  }
  Value rc = Helper(kRingbufOutput, i64_, {output_, at, size, b_.getInt64(0)});
  auto* lost = llvm::BasicBlock::Create(context_, "lost", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "written", frame_->fn);
  b_.CreateCondBr(b_.CreateICmpSLT(rc, b_.getInt64(0)), lost, done);
  b_.SetInsertPoint(lost);
  b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, lost_, b_.getInt64(1), llvm::MaybeAlign(8),
                     llvm::AtomicOrdering::Monotonic);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

// Builds a record in the record area; returns its size. (Records from kernel probes
// go through the ring buffer: note that one is needed.)
Value Lowering::BuildRecord(record::Kind kind, uint32_t format, const std::vector<Value>& args) {
  if (!frame_->user_side) kernel_records_ = true;
  Value rec = ScratchAt(uint32_t{0});
  b_.CreateStore(b_.getInt32(static_cast<uint32_t>(kind)), rec);
  b_.CreateStore(b_.getInt32(format), ScratchAt(uint32_t{4}));
  Value off = b_.getInt64(8);
  Value mask = b_.getInt64(record_size_ - 1);
  for (Value a : args) {
    Value at = ScratchAt(b_.CreateAnd(off, mask));
    if (a->getType() == i64_) {
      b_.CreateStore(a, at);
      off = b_.CreateAdd(off, b_.getInt64(8));
      continue;
    }
    if (auto fixed = fixed_values_.find(a); fixed != fixed_values_.end()) {
      // Length-prefixed bytes of a known length (a histogram), copied whole.
      Helper(kProbeReadKernel, i64_, {at, b_.getInt32(4 + fixed->second), a});
      off = b_.CreateAdd(off, b_.getInt64((4 + fixed->second + 7) & ~uint32_t{7}));
      continue;
    }
    if (raw_values_.count(a)) {  // length-prefixed bytes, copied whole (user_argv_raw)
      Value len = b_.CreateZExt(b_.CreateLoad(b_.getInt32Ty(), a), i64_);
      len = b_.CreateSelect(b_.CreateICmpUGT(len, b_.getInt64(8 + limit_)), b_.getInt64(8), len);
      Helper(kProbeReadKernel, i64_,
             {at, b_.CreateTrunc(b_.CreateAdd(len, b_.getInt64(4)), b_.getInt32Ty()), a});
      off = b_.CreateAdd(
          off, b_.CreateAnd(b_.CreateAdd(len, b_.getInt64(4 + 7)), b_.getInt64(~int64_t{7})));
      continue;
    }
    Value n = Helper(kProbeReadKernelStr, i64_,
                     {b_.CreateConstGEP1_64(b_.getInt8Ty(), at, 4), b_.getInt32(limit_), a});
    Value len = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(1)), b_.getInt64(0),
                                b_.CreateSub(n, b_.getInt64(1)));
    b_.CreateStore(b_.CreateTrunc(len, b_.getInt32Ty()), at);
    off = b_.CreateAdd(
        off, b_.CreateAnd(b_.CreateAdd(len, b_.getInt64(4 + 7)), b_.getInt64(~int64_t{7})));
  }
  return b_.CreateAnd(off, mask);
}

// Reports a run-time error (`format` is a printf format) and ends the handler.
void Lowering::Fail(const std::string& message, std::vector<Value> args) {
  if (!frame_->handlers.empty()) {
    // Inside `try`: the catch variable gets the message, the handler runs.
    const Handler& h = frame_->handlers.back();
    if (h.message) CatchMessage(h.message, message, args);
    b_.CreateBr(h.handler);
    Dead();
    return;
  }
  if (frame_->catch_message) {
    // A recursive function's call inside a caller's `try`: the message goes to the
    // caller, whose handler runs (lower_recursive.cpp).
    auto* caught = llvm::BasicBlock::Create(context_, "caught_by_caller", frame_->fn);
    auto* uncaught = llvm::BasicBlock::Create(context_, "uncaught", frame_->fn);
    b_.CreateCondBr(b_.CreateIsNotNull(frame_->catch_message), caught, uncaught);
    b_.SetInsertPoint(caught);
    CatchMessage(frame_->catch_message, message, args);
    b_.CreateRet(b_.getInt64(2));
    b_.SetInsertPoint(uncaught);
  }
  // The error counter decides, across CPUs and the user side alike: the error that
  // reaches MAXERRORS + 1 stops the session (no handler starts after it), and errors
  // raised by handlers still in flight then are neither reported nor counted again, so
  // a storm of errors can neither outlive the session nor flood its output.
  Value seen = b_.CreateAtomicRMW(llvm::AtomicRMWInst::Add, errors_, b_.getInt64(1),
                                  llvm::MaybeAlign(8), llvm::AtomicOrdering::Monotonic);
  if (frame_->user_side) {
    // begin/end/error probes and user-side timers run one at a time, and those that run
    // after the stop (error probes) report their own errors: only the state moves here.
    auto* stop = llvm::BasicBlock::Create(context_, "too_many_errors", frame_->fn);
    auto* report = llvm::BasicBlock::Create(context_, "report_error", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpUGE(seen, b_.getInt64(options_.max_errors)), stop, report);
    b_.SetInsertPoint(stop);
    SetState(session::State::Errors);
    b_.CreateBr(report);
    b_.SetInsertPoint(report);
    Record(record::Kind::Error, FormatId(message), args);
    b_.CreateBr(frame_->exit);
    Dead();
    return;
  }
  auto* stop = llvm::BasicBlock::Create(context_, "too_many_errors", frame_->fn);
  auto* report = llvm::BasicBlock::Create(context_, "report_error", frame_->fn);
  auto* silent = llvm::BasicBlock::Create(context_, "error_after_stop", frame_->fn);
  Value max = b_.getInt64(options_.max_errors);
  b_.CreateCondBr(b_.CreateICmpUGE(seen, max), stop, report);
  b_.SetInsertPoint(stop);
  if (args.empty()) {
    // The error that stops the session, a message without arguments (an array full,
    // division by 0): its record's header is left in global data for the runtime, which
    // reports it once the records written before it are read (session::kStopErrorWord).
    // With the default MAXERRORS of 0 no error path writes a record then, and the
    // handler needs no code for the ring buffer and its lost count.
    auto* last = llvm::BasicBlock::Create(context_, "stopping_error", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpUGT(seen, max), silent, last);
    b_.SetInsertPoint(last);
    // Its low half is the Errors state rather than the record's kind, which the runtime
    // supplies: the store then shares the state's register (issue 18, program size).
    uint64_t header =
        uint64_t{FormatId(message)} << 32 | static_cast<uint32_t>(session::State::Errors);
    b_.CreateStore(b_.getInt64(header), stop_error_);
    SetState(session::State::Errors);
    b_.CreateBr(frame_->exit);
  } else {
    SetState(session::State::Errors);
    b_.CreateCondBr(b_.CreateICmpUGT(seen, max), silent, report);
  }
  b_.SetInsertPoint(silent);
  b_.CreateBr(frame_->exit);
  b_.SetInsertPoint(report);
  Record(record::Kind::Error, FormatId(message), args);
  b_.CreateBr(frame_->exit);
  Dead();
}

void Lowering::CatchMessage(Value slot, const std::string& message,
                            const std::vector<Value>& args) {
  if (message == "%s" && args.size() == 1 && args[0]->getType() != i64_) {
    CopyString(slot, args[0]);
  } else if (args.empty()) {
    CopyString(slot, Literal(Unescape(message)));
  } else if (!frame_->user_side) {  // `read fault at %p`: the address written in
    if (Value text = FormatInKernel(SourceRange{}, message, args)) CopyString(slot, text);
  } else {
    Value size = BuildRecord(record::Kind::Printf, FormatId(message), args);
    Helper(user_helper::kSprintf, i64_, {slot, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
  }
}

// Moves the session state: no kernel handler starts after this. The first reason to stop
// is kept (the runtime decides by it which probes run at the end), except abort(), which
// overrides an exit() or a stop for errors.
void Lowering::SetState(session::State state) {
  Value value = b_.getInt64(static_cast<uint64_t>(state));
  if (state == session::State::Abort) {
    // A plain aligned store (the BPF backend has no atomic store; an unused exchange
    // becomes one).
    b_.CreateStore(value, exiting_);
    return;
  }
  b_.CreateAtomicCmpXchg(exiting_, b_.getInt64(0), value, llvm::MaybeAlign(8),
                         llvm::AtomicOrdering::Monotonic, llvm::AtomicOrdering::Monotonic);
}

// A message format's text, for a catch variable: %% becomes %, other directives stay.
std::string Lowering::Unescape(std::string_view format) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    out += format[i];
    if (format[i] == '%' && i + 1 < format.size() && format[i + 1] == '%') ++i;
  }
  return out;
}

// Fails with `message` unless `ok` holds.
void Lowering::Check(Value ok, const std::string& message) {
  CheckFormat(ok, EscapePercent(message), {});
}

// Fails with a formatted message (a printf format and its arguments) unless `ok` holds.
void Lowering::CheckFormat(Value ok, const std::string& format, std::vector<Value> args) {
  auto* bad = llvm::BasicBlock::Create(context_, "error", frame_->fn);
  auto* good = llvm::BasicBlock::Create(context_, "ok", frame_->fn);
  b_.CreateCondBr(ok, good, bad);
  b_.SetInsertPoint(bad);
  Fail(format, std::move(args));
  b_.SetInsertPoint(good);
}

Scope& Lowering::Top() { return *frame_->scopes.back(); }

void Lowering::DeclareLocal(Scope& scope, const sema::Variable* v) {
  if (scope.vars.count(v) || constant_locals_.count(v)) return;  // those are read as literals
  if (v->type == Type::String) {
    Value slot = StringSlot();
    b_.CreateStore(b_.getInt8(0), slot);
    scope.vars[v] = slot;
  } else if (v->type == Type::Stats || v->arity > 0) {
    Unsupported(v->decl, "local statistics or arrays");
  } else {
    Value a = LongStorage();
    b_.CreateStore(b_.getInt64(0), a);
    scope.vars[v] = a;
  }
}

Value Lowering::Local(const sema::Variable* v, SourceRange at) {
  Scope& s = Top();
  auto it = s.vars.find(v);
  if (it == s.vars.end()) {
    DeclareLocal(s, v);
    it = s.vars.find(v);
    if (it == s.vars.end()) {
      Unsupported(at, "this variable");
      return nullptr;
    }
  }
  return it->second;
}

Value Lowering::ReadSymbol(const ast::Symbol* s) {
  const sema::Variable* v = s->var;
  if (!v) return Zero(s->type);
  if (const ast::StringLit* lit = KnownLiteral(s)) return Literal(lit->value);
  if (v->kind == sema::VarKind::Global) {
    const GlobalInfo& g = globals_[v];
    if (!g.storage) {
      Unsupported(s->range, "this use of array `" + std::string(v->name) + "`");
      return Zero(s->type);
    }
    return v->type == Type::String ? static_cast<Value>(g.storage) : b_.CreateLoad(i64_, g.storage);
  }
  Value storage = Local(v, s->range);
  if (!storage) return Zero(s->type);
  return v->type == Type::String ? storage : b_.CreateLoad(i64_, storage);
}

Value Lowering::Zero(Type t) { return t == Type::String ? Literal("") : b_.getInt64(0); }

bool Lowering::PlaceOf(ast::Expr* e, Place* place) {
  if (auto* s = ast::As<ast::Symbol>(e)) {
    const sema::Variable* v = s->var;
    if (!v) return false;
    place->is_string = v->type == Type::String;
    if (v->kind == sema::VarKind::Global) {
      const GlobalInfo& g = globals_[v];
      if (!g.storage) return false;
      place->address = g.storage;
      place->atomic = true;
      return true;
    }
    place->address = Local(v, s->range);
    return place->address != nullptr;
  }
  if (auto* a = ast::As<ast::ArrayIndex>(e)) {
    auto* s = ast::As<ast::Symbol>(a->base);
    if (!s || !s->var || s->var->kind != sema::VarKind::Global) return false;
    auto it = globals_.find(s->var);
    if (it == globals_.end() || !it->second.map || it->second.stats) return false;
    place->is_string = s->var->type == Type::String;
    place->element = a;
    place->array = &it->second;
    place->key = Key(a, it->second);
    return place->key != nullptr;
  }
  return false;
}

// Builds the key of an element in scratch; string parts are zero-padded so that equal
// strings hash equally. With `into`, there, and a `*` part is left as it is.
Value Lowering::KeyOf(std::span<ast::Expr*> indexes, SourceRange at, const GlobalInfo& g,
                      Value into) {
  std::vector<Value> parts;
  std::vector<bool> comm;     // execname() into a field of its size: read straight into the key
  std::vector<bool> literal;  // a literal into a narrow field: its bytes stored there
  for (size_t k = 0; k < indexes.size(); ++k) {
    ast::Expr* i = indexes[k];
    if (!i && into) {
      comm.push_back(false);
      literal.push_back(false);
      parts.push_back(nullptr);
      continue;
    }
    if (!i) {
      Unsupported(at, "`*` in an array index");
      return nullptr;
    }
    comm.push_back(k < g.key_widths.size() && g.key_widths[k] == 16 && ast::As<ast::Call>(i) &&
                   BoundedWidth(i) == 16);
    literal.push_back(k < g.key_widths.size() && g.key_widths[k] <= 64 && KnownLiteral(i));
    parts.push_back(comm.back() || literal.back() ? nullptr : Expr(i));
  }
  // A small key (longs, narrow strings) goes on the stack, a few per handler: the map
  // helpers read it there, and a handler that needs no other scratch skips its lookup.
  bool narrow =
      std::all_of(g.key_widths.begin(), g.key_widths.end(), [&](uint32_t w) { return w < slot_; });
  Value base = into;
  if (!base && narrow && g.key_size <= 32 && frame_->stack_keys + g.key_size <= kStackKeys) {
    frame_->stack_keys += g.key_size;
    base = StackTemp(g.key_size);
  } else if (!base) {
    base = ScratchAt(TempBytes(g.key_size));
  }
  for (size_t k = 0; k < parts.size() && k < g.key_offsets.size(); ++k) {
    Value dst = b_.CreateConstGEP1_64(b_.getInt8Ty(), base, g.key_offsets[k]);
    uint32_t width = g.key_widths[k];
    if (comm[k]) {
      // Zeroed first: kernels before 6.4 copy the name without padding the rest.
      b_.CreateStore(b_.getInt64(0), dst);
      b_.CreateStore(b_.getInt64(0), b_.CreateConstGEP1_64(b_.getInt8Ty(), dst, 8));
      Helper(kCurrentComm, i64_, {dst, b_.getInt32(16)});
    } else if (literal[k]) {
      if (!StoreLiteralKey(dst, width, indexes[k])) {
        Value text = Expr(indexes[k]);  // longer than its field: cut as a copy would
        for (uint32_t z = 0; z < width; z += 8)
          b_.CreateStore(b_.getInt64(0), b_.CreateConstGEP1_64(b_.getInt8Ty(), dst, z));
        Helper(kProbeReadKernelStr, i64_, {dst, b_.getInt32(std::min(width, limit_)), text});
      }
    } else if (!parts[k]) {
      continue;
    } else if (parts[k]->getType() == i64_) {
      b_.CreateStore(parts[k], dst);
    } else {
      // The whole field is zeroed: the hash covers every byte.
      if (width <= 64) {
        for (uint32_t z = 0; z < width; z += 8)
          b_.CreateStore(b_.getInt64(0), b_.CreateConstGEP1_64(b_.getInt8Ty(), dst, z));
      } else {
        Helper(kProbeReadKernel, i64_, {dst, b_.getInt32(width), Literal("")});
      }
      Helper(kProbeReadKernelStr, i64_, {dst, b_.getInt32(std::min(width, limit_)), parts[k]});
    }
  }
  return base;
}

// A string key field as a loop variable: a narrow one (see ScanKeyWidths) is copied into a
// whole slot, which is what string code may read up to.
Value Lowering::KeyString(Value part, uint32_t width) {
  if (width >= slot_) return part;
  Value copy = StringSlot();
  Helper(kProbeReadKernelStr, i64_, {copy, b_.getInt32(width), part});
  return copy;
}

std::string Lowering::ArrayName(const ast::ArrayIndex* a) const {
  auto* s = ast::As<ast::Symbol>(a->base);
  return s ? std::string(s->name) : "?";
}

Value Lowering::Load(const Place& p) {
  if (!p.element) return p.is_string ? p.address : b_.CreateLoad(i64_, p.address);
  Value found = Helper(kMapLookup, ptr_, {p.array->map, p.key});
  auto* hit = llvm::BasicBlock::Create(context_, "found", frame_->fn);
  auto* miss = llvm::BasicBlock::Create(context_, "missing", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "read", frame_->fn);
  Value slot = p.is_string ? StringSlot() : nullptr;
  b_.CreateCondBr(b_.CreateIsNotNull(found), hit, miss);
  if (p.is_string) {
    b_.SetInsertPoint(hit);
    CopyString(slot, found);
    b_.CreateBr(done);
    b_.SetInsertPoint(miss);
    b_.CreateStore(b_.getInt8(0), slot);
    b_.CreateBr(done);
    b_.SetInsertPoint(done);
    return slot;
  }
  b_.SetInsertPoint(hit);
  Value v = b_.CreateLoad(i64_, found);
  auto* hit_end = b_.GetInsertBlock();
  b_.CreateBr(done);
  b_.SetInsertPoint(miss);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  auto* phi = b_.CreatePHI(i64_, 2);
  phi->addIncoming(v, hit_end);
  phi->addIncoming(b_.getInt64(0), miss);
  return phi;
}

void Lowering::Store(const Place& p, Value v) {
  if (!p.element) {
    if (p.is_string)
      CopyString(p.address, v);
    else
      b_.CreateStore(v, p.address);
    return;
  }
  Value value = v;
  if (!p.is_string) {
    value = StackTemp(8);
    b_.CreateStore(v, value);
  }
  Value rc = Helper(kMapUpdate, i64_, {p.array->map, p.key, value, b_.getInt64(kAny)});
  // Only the low 32 bits carry the result: before Linux 6.4 the map operation the verifier
  // calls in place of the helper returns int, and x86 leaves r0's upper half zero, so a
  // full map's -E2BIG reads as a large positive number in 64 bits.
  Check(b_.CreateICmpSGE(b_.CreateTrunc(rc, b_.getInt32Ty()), b_.getInt32(0)),
        "Array overflow, check MAXMAPENTRIES" +
            Near("identifier", ArrayName(p.element), p.element->range));
}

void Lowering::Stmt(ast::Stmt* s) {
  if (!s) return;
  TempMark mark = Temps();
  Locate(s->range);
  switch (s->kind) {
    case Kind::Block:
      for (ast::Stmt* x : static_cast<ast::Block*>(s)->statements) Stmt(x);
      break;
    case Kind::ExprStmt:
      Expr(static_cast<ast::ExprStmt*>(s)->expr);
      break;
    case Kind::If: {
      auto* i = static_cast<ast::If*>(s);
      // `if (@defined(x))` known at compile time: the other branch may name what this
      // kernel or program lacks, so it is not compiled at all.
      if (std::optional<bool> known = FoldedCondition(i->cond, i->then, i->otherwise)) {
        Stmt(*known ? i->then : i->otherwise);
        break;
      }
      Value cond = Truth(Expr(i->cond));
      auto* then = llvm::BasicBlock::Create(context_, "then", frame_->fn);
      auto* otherwise = llvm::BasicBlock::Create(context_, "else", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "endif", frame_->fn);
      b_.CreateCondBr(cond, then, otherwise);
      int guard = MentionsLoadTimeDefined(i->cond) ? 1 : 0;
      core_guards_ += guard;
      b_.SetInsertPoint(then);
      Stmt(i->then);
      b_.CreateBr(done);
      b_.SetInsertPoint(otherwise);
      Stmt(i->otherwise);
      core_guards_ -= guard;
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      break;
    }
    case Kind::While: {
      auto* w = static_cast<ast::While*>(s);
      LoopStmt(w, nullptr, w->cond, nullptr, w->body);
      break;
    }
    case Kind::For: {
      auto* f = static_cast<ast::For*>(s);
      LoopStmt(f, f->init, f->cond, f->step, f->body);
      break;
    }
    case Kind::Foreach:
      Foreach(static_cast<ast::Foreach*>(s));
      break;
    case Kind::Return: {
      auto* r = static_cast<ast::Return*>(s);
      Scope& scope = Top();
      if (!scope.function) {
        b_.CreateBr(frame_->exit);
        Dead();
        break;
      }
      if (r->value) {
        Value v = Expr(r->value);
        if (v->getType() == i64_)
          b_.CreateStore(v, scope.result);
        else
          CopyString(scope.result, v);
      }
      b_.CreateBr(scope.return_block);
      Dead();
      break;
    }
    case Kind::Delete:
      Delete(static_cast<ast::Delete*>(s));
      break;
    case Kind::Next:
      b_.CreateBr(frame_->exit);
      Dead();
      break;
    case Kind::Break:
    case Kind::Continue: {
      std::vector<Loop>& loops = Top().loops;
      if (loops.empty()) {
        Unsupported(s->range, "`break` or `continue` outside a loop");
        break;
      }
      b_.CreateBr(s->kind == Kind::Break ? loops.back().done : loops.back().next_iteration);
      Dead();
      break;
    }
    case Kind::Null:
      break;
    case Kind::TryCatch: {
      auto* t = static_cast<ast::TryCatch*>(s);
      auto* handler = llvm::BasicBlock::Create(context_, "catch", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "endtry", frame_->fn);
      Value message = nullptr;
      if (t->error_sym) {
        message = Top().vars.count(t->error_sym) ? Top().vars[t->error_sym] : nullptr;
        if (!message) {
          DeclareLocal(Top(), t->error_sym);
          message = Top().vars[t->error_sym];
        }
      }
      frame_->handlers.push_back({handler, message});
      Stmt(t->body);
      frame_->handlers.pop_back();
      b_.CreateBr(done);
      b_.SetInsertPoint(handler);
      Stmt(t->handler);
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      break;
    }
    default:
      Unsupported(s->range, "this statement");
      break;
  }
  Release(mark);
}

// while/for. In the kernel a loop runs at most MAXACTION times (the verifier needs a
// bound); more is a run-time error, as stap's MAXACTION is.
void Lowering::LoopStmt(ast::Node* loop, ast::Expr* init, ast::Expr* cond, ast::Expr* step,
                        ast::Stmt* body) {
  if (init) Expr(init);
  if (KernelLoop(loop, cond, step, body)) return;
  llvm::AllocaInst* count = nullptr;
  if (!frame_->user_side) {
    count = Alloca(i64_);
    b_.CreateStore(b_.getInt64(0), count);
  }
  auto* head = llvm::BasicBlock::Create(context_, "loop", frame_->fn);
  auto* inside = llvm::BasicBlock::Create(context_, "body", frame_->fn);
  auto* next = llvm::BasicBlock::Create(context_, "step", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "endloop", frame_->fn);
  b_.CreateBr(head);
  b_.SetInsertPoint(head);
  TempMark mark = Temps();
  if (count) {
    Value n = b_.CreateAdd(b_.CreateLoad(i64_, count), b_.getInt64(1));
    b_.CreateStore(n, count);
    Check(b_.CreateICmpULE(n, b_.getInt64(options_.max_action)),
          "MAXACTION exceeded" + LoopKeyword(loop));
  }
  if (cond)
    b_.CreateCondBr(Truth(Expr(cond)), inside, done);
  else
    b_.CreateBr(inside);
  Release(mark);
  b_.SetInsertPoint(inside);
  Top().loops.push_back({next, done});
  Stmt(body);
  Top().loops.pop_back();
  b_.CreateBr(next);
  b_.SetInsertPoint(next);
  if (step) Expr(step);
  Release(mark);
  // The jump back is the loop's own (an empty body's only instruction, where the
  // interpreter's budget runs out): located at its keyword.
  Locate(loop->range);
  b_.CreateBr(head);
  b_.SetInsertPoint(done);
}

// A kernel foreach's loop variables, from the element's key (a copy in scratch).
void Lowering::BindLoopKeys(ast::Foreach* f, const GlobalInfo& g, Value key) {
  for (size_t k = 0; k < f->keys.size() && k < g.key_offsets.size(); ++k) {
    Place p;
    if (!PlaceOf(f->keys[k], &p)) {
      Unsupported(f->keys[k]->range, "this loop variable");
      continue;
    }
    Value part = b_.CreateConstGEP1_64(b_.getInt8Ty(), key, g.key_offsets[k]);
    Store(p, p.is_string ? KeyString(part, g.key_widths[k]) : b_.CreateLoad(i64_, part));
  }
}

// foreach in a kernel probe, unsorted (in the map's order; sorted ones are
// lower_sorted_foreach.cpp's): bpf_for_each_map_elem calls the body as a callback, which
// the verifier checks once rather than once per element.
// The callback reaches the handler's locals at the same scratch offsets (the handler
// keeps its long locals there, see Frame::locals_in_scratch); `break` stops the walk,
// and `next`, errors and a function's `return` stop it and are carried out after it.
void Lowering::KernelForeach(ast::Foreach* f, const GlobalInfo& g) {
  if (!frame_->handlers.empty()) {
    Unsupported(f->range, "`foreach` inside `try` in a kernel-side probe");
    return;
  }
  if (!frame_->locals_in_scratch) {
    Unsupported(f->range, "this `foreach`");
    return;
  }
  if (f->sort_direction != 0) {
    KernelSortedForeach(f, g);
    return;
  }
  enum : int64_t { kGoOn = 0, kLeave = 2, kReturn = 3 };
  Frame& parent = *frame_;
  Scope& outer = Top();
  uint32_t flag_at = TempBytes(8), count_at = TempBytes(8), limit_at = TempBytes(8);
  uint32_t key_at = TempBytes(g.key_size);
  b_.CreateStore(b_.getInt64(kGoOn), ScratchAt(flag_at));
  b_.CreateStore(b_.getInt64(0), ScratchAt(count_at));
  b_.CreateStore(f->limit ? Expr(f->limit) : b_.getInt64(INT64_MAX), ScratchAt(limit_at));
  uint32_t want_at = f->has_slice ? SliceKey(f, g) : 0;

  Frame frame;
  MapCallback c = BeginMapCallback("foreach_body", f->range, frame);
  llvm::Function* fn = c.fn;
  llvm::BasicBlock *next_element = c.next, *stop = c.stop;

  // The handler's variables, at their scratch offsets.
  Scope scope;
  ShareHandlerScope(parent, outer, frame, scope, flag_at, kReturn, kLeave);
  // The blocks in the order leave, next, stop, run: LLVM lays the callback out with a jump
  // fewer than after stop, next, run, leave.
  stop->moveAfter(next_element);

  // limit: stop after that many elements.
  Value count = b_.CreateLoad(i64_, ScratchAt(count_at));
  auto* within = llvm::BasicBlock::Create(context_, "within", fn);
  b_.CreateCondBr(b_.CreateICmpSLT(count, b_.CreateLoad(i64_, ScratchAt(limit_at))), within, stop);
  b_.SetInsertPoint(within);
  b_.CreateStore(b_.CreateAdd(count, b_.getInt64(1)), ScratchAt(count_at));
  Value key = ScratchAt(key_at);
  Helper(kProbeReadKernel, i64_, {key, b_.getInt32(g.key_size), fn->getArg(1)});
  if (f->has_slice) SkipUnsliced(f, g, key, want_at, next_element);  // counted by `limit`
  BindLoopKeys(f, g, key);
  if (f->value) {
    Place p;
    if (PlaceOf(f->value, &p)) {
      if (p.is_string) {
        Value copy = StringSlot();
        CopyString(copy, fn->getArg(2));
        Store(p, copy);
      } else {
        Store(p, b_.CreateLoad(i64_, fn->getArg(2)));
      }
    }
  }
  scope.loops.push_back({next_element, stop});
  Stmt(f->body);
  b_.CreateBr(next_element);
  EndMapCallback(c, frame);

  Helper(kForEachMapElem, i64_, {g.map, fn, llvm::ConstantPointerNull::get(ptr_), b_.getInt64(0)});
  Value flag = b_.CreateLoad(i64_, ScratchAt(flag_at));
  auto* go_on = llvm::BasicBlock::Create(context_, "endforeach", parent.fn);
  llvm::SwitchInst* how = b_.CreateSwitch(flag, go_on);
  how->addCase(b_.getInt64(kLeave), parent.exit);
  if (outer.function) how->addCase(b_.getInt64(kReturn), outer.return_block);
  b_.SetInsertPoint(go_on);
}

void Lowering::ShareHandlerScope(Frame& parent, Scope& outer, Frame& frame, Scope& scope,
                                 uint32_t flag_at, int64_t return_flag, int64_t leave_flag) {
  auto rebase = [&](Value v) -> Value {
    auto it = parent.scratch_offsets.find(v);
    return it == parent.scratch_offsets.end() ? nullptr : ScratchAt(it->second);
  };
  // A block that sets the flag and stops the walk.
  auto flagged = [&](const char* name, int64_t flag) {
    auto* block = llvm::BasicBlock::Create(context_, name, frame.fn);
    llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
    b_.SetInsertPoint(block);
    b_.CreateStore(b_.getInt64(flag), ScratchAt(flag_at));
    b_.CreateRet(b_.getInt64(1));
    b_.restoreIP(here);
    return block;
  };
  frame.exit = flagged("leave", leave_flag);
  frame.exit->moveAfter(&frame.fn->getEntryBlock());  // first: see KernelForeach
  for (const auto& [var, storage] : outer.vars)
    if (Value at = rebase(storage)) scope.vars[var] = at;
  if (parent.entry_offsets) {  // @entry values of a syscall return probe
    frame.entry_values = rebase(parent.entry_values);
    frame.entry_offsets = frame.entry_values ? parent.entry_offsets : nullptr;
  }
  if (outer.function) {
    scope.function = outer.function;
    scope.result = rebase(outer.result);
    scope.return_block = flagged("return", return_flag);
  }
  frame.scopes.push_back(&scope);
}

// foreach (i in @hist_log(x)): every bucket number in order (stap's loop), empty ones too.
void Lowering::ForeachBucket(ast::Foreach* f, ast::HistOp* h) {
  Value value = MergedStats(h->operand, h->range);
  if (!value) return;
  const stats::Shape& shape = globals_[AggregateVar(h->operand)].shape;
  Place key;
  if (f->keys.size() != 1 || !PlaceOf(f->keys[0], &key) || key.is_string || f->value) {
    Unsupported(f->range, "this `foreach` over histogram buckets");
    return;
  }
  Value limit = f->limit ? Expr(f->limit) : b_.getInt64(shape.Buckets());
  Value counter = Alloca(i64_);
  b_.CreateStore(b_.getInt64(0), counter);
  auto* head = llvm::BasicBlock::Create(context_, "buckets", frame_->fn);
  auto* inside = llvm::BasicBlock::Create(context_, "eachbucket", frame_->fn);
  auto* next = llvm::BasicBlock::Create(context_, "nextbucket", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "endbuckets", frame_->fn);
  b_.CreateBr(head);
  b_.SetInsertPoint(head);
  Value i = b_.CreateLoad(i64_, counter);
  Value more =
      b_.CreateAnd(b_.CreateICmpSLT(i, b_.getInt64(shape.Buckets())), b_.CreateICmpSLT(i, limit));
  b_.CreateCondBr(more, inside, done);
  b_.SetInsertPoint(inside);
  Store(key, i);
  Top().loops.push_back({next, done});
  Stmt(f->body);
  Top().loops.pop_back();
  b_.CreateBr(next);
  b_.SetInsertPoint(next);
  b_.CreateStore(b_.CreateAdd(b_.CreateLoad(i64_, counter), b_.getInt64(1)), counter);
  b_.CreateBr(head);
  b_.SetInsertPoint(done);
}

void Lowering::Foreach(ast::Foreach* f) {
  if (auto* h = ast::As<ast::HistOp>(f->array)) {
    ForeachBucket(f, h);
    return;
  }
  auto* s = ast::As<ast::Symbol>(f->array);
  const GlobalInfo* g = nullptr;
  if (s && s->var) {
    auto it = globals_.find(s->var);
    if (it != globals_.end() && it->second.map) g = &it->second;
  }
  if (!g) {
    Unsupported(f->range, "`foreach` over this");
    return;
  }
  if (g->stats && f->value) {
    Unsupported(f->value->range, "binding a statistics value", "; use @count(a[k]) and the like");
    return;
  }
  if (!frame_->user_side) {
    KernelForeach(f, *g);
    return;
  }
  // -1 tells the helper there is no limit; a written limit of 0 or less runs nothing.
  Value limit = b_.getInt64(-1);
  if (f->limit) {
    Value n = Expr(f->limit);
    limit = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(0)), b_.getInt64(0), n);
  }
  stats::Op aggregate = AggregateOf(f->sort_aggregate);
  uint64_t how = user_helper::ForeachHow(g->meta_index, f->sort_column, f->sort_direction,
                                         static_cast<uint32_t>(aggregate));
  uint32_t want_at = f->has_slice ? SliceKey(f, *g) : 0;
  Value key = ScratchAt(TempBytes(g->key_size));
  Value value = ScratchAt(TempBytes(g->value_size));
  Value iter = Helper(user_helper::kForeachBegin, i64_, {g->map, b_.getInt64(how), limit});
  auto* head = llvm::BasicBlock::Create(context_, "foreach", frame_->fn);
  auto* inside = llvm::BasicBlock::Create(context_, "each", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "endforeach", frame_->fn);
  b_.CreateBr(head);
  b_.SetInsertPoint(head);
  Value more = Helper(user_helper::kForeachNext, i64_, {iter, key, value});
  b_.CreateCondBr(Truth(more), inside, done);
  b_.SetInsertPoint(inside);
  if (f->has_slice) SkipUnsliced(f, *g, key, want_at, head);  // after `limit`, as stap's
  TempMark mark = Temps();
  for (size_t k = 0; k < f->keys.size() && k < g->key_offsets.size(); ++k) {
    Place p;
    if (!PlaceOf(f->keys[k], &p)) {
      Unsupported(f->keys[k]->range, "this loop variable");
      continue;
    }
    Value at = b_.CreateConstGEP1_64(b_.getInt8Ty(), key, g->key_offsets[k]);
    Store(p, p.is_string ? KeyString(at, g->key_widths[k]) : b_.CreateLoad(i64_, at));
  }
  if (f->value) {
    Place p;
    if (PlaceOf(f->value, &p)) Store(p, p.is_string ? value : b_.CreateLoad(i64_, value));
  }
  Top().loops.push_back({head, done});
  Stmt(f->body);
  Top().loops.pop_back();
  Release(mark);
  b_.CreateBr(head);
  b_.SetInsertPoint(done);
}

Lowering::MapCallback Lowering::BeginMapCallback(const std::string& name, SourceRange at,
                                                 Frame& frame, bool loop) {
  Frame& parent = *frame_;
  auto* type = loop ? llvm::FunctionType::get(i64_, {i64_, ptr_}, false)
                    : llvm::FunctionType::get(i64_, {ptr_, ptr_, ptr_, ptr_}, false);
  auto* fn =
      llvm::Function::Create(type, llvm::GlobalValue::InternalLinkage, UniqueName(name), module_);
  fn->addFnAttr(llvm::Attribute::NoInline);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  MapCallback c{parent, fn, nullptr, b_.saveIP(), b_.getCurrentDebugLocation()};
  unsigned line = sm_.file(at.file).Locate(at.begin).line;
  b_.SetCurrentDebugLocation(
      maps_.Describe(*fn, line, FileFor(at.file),
                     loop ? std::vector<std::string>{"index", "ctx"}
                          : std::vector<std::string>{"map", "key", "value", "ctx"}));
  frame.fn = fn;
  frame.probe = parent.probe;
  frame.locals_in_scratch = true;
  frame.next = parent.next;
  frame.max = parent.max;
  frame.last_match = parent.last_match;
  frame.regex_work = parent.regex_work;
  frame.calls = parent.calls;
  frame_ = &frame;
  b_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", fn));
  frame.alloca_point = b_.CreateAlloca(i64_, nullptr, "unused");
  // The callback runs under the map's RCU read lock: its reads never sleep, but its
  // scratch is its handler's.
  frame.handler = &HandlerOf(parent);
  frame.callback_level = parent.callback_level + 1;
  frame.scratch = ScratchLookup(frame);
  c.has_scratch = llvm::cast<llvm::Instruction>(b_.CreateIsNotNull(frame.scratch));
  c.stop = llvm::BasicBlock::Create(context_, "stop", fn);
  c.next = llvm::BasicBlock::Create(context_, "next", fn);
  auto* run = llvm::BasicBlock::Create(context_, "run", fn);
  b_.CreateCondBr(c.has_scratch, run, c.stop);
  b_.SetInsertPoint(c.stop);
  b_.CreateRet(b_.getInt64(1));
  b_.SetInsertPoint(c.next);
  b_.CreateRet(b_.getInt64(0));
  b_.SetInsertPoint(run);
  return c;
}

void Lowering::EndMapCallback(const MapCallback& c, Frame& frame) {
  FinishFrame(frame, c.has_scratch);
  frame_ = &c.parent;
  c.parent.max = std::max(c.parent.max, frame.max);
  b_.restoreIP(c.resume);
  b_.SetCurrentDebugLocation(c.resume_at);
}

void Lowering::Delete(ast::Delete* d) {
  if (auto* a = ast::As<ast::ArrayIndex>(d->target)) {
    if (std::any_of(a->indexes.begin(), a->indexes.end(), [](ast::Expr* i) { return !i; })) {
      auto* s = ast::As<ast::Symbol>(a->base);
      auto it = s && s->var ? globals_.find(s->var) : globals_.end();
      if (it == globals_.end() || !it->second.map) {
        Unsupported(d->range, "this `delete`");
        return;
      }
      DeleteMatching(a, it->second);
      return;
    }
    // A statistics element goes with every CPU's share of it (a per-CPU map's element).
    const GlobalInfo* stats = nullptr;
    Value key = nullptr;
    if (StatsPlace(a, &stats, &key)) {
      Helper(kMapDelete, i64_, {stats->map, key});
      return;
    }
    Place p;
    if (!PlaceOf(a, &p) || !p.element) {
      Unsupported(d->range, "this `delete`");
      return;
    }
    Helper(kMapDelete, i64_, {p.array->map, p.key});
    return;
  }
  auto* s = ast::As<ast::Symbol>(d->target);
  if (s && s->var && s->var->kind == sema::VarKind::Global) {
    const GlobalInfo& g = globals_[s->var];
    if (g.storage) {
      Store(Place{s->var->type == Type::String, true, g.storage}, Zero(s->var->type));
      return;
    }
    if (!g.map) return;  // statistics: reported where declared
    if (frame_->user_side)
      Helper(user_helper::kMapClear, i64_, {g.map});
    else
      Library("btap_map_clear", i64_, {g.map});
    return;
  }
  if (s && s->var) {
    Place p;
    if (PlaceOf(s, &p)) Store(p, Zero(s->var->type));
    return;
  }
  Unsupported(d->range, "this `delete`");
}

}  // namespace btap::codegen::lowering
