// Lowering calls: script functions expanded inline, the print family, and the
// intrinsics the tapset library is built on (see lowering.h).
#include "codegen/lowering.h"

#include "common/printf_format.h"

#include <cctype>
#include <cstring>

namespace btap::codegen::lowering {

// The longs btap_text and its kin keep from one input byte to the next (TEXT_CELLS).
constexpr uint32_t kTextCells = 12;

Value Lowering::Call(ast::Call* c) {
  if (IsPrintFamily(c)) return Print(c);
  const sema::Function* f = c->callee;
  if (f->intrinsic >= 0) return IntrinsicCall(static_cast<Intrinsic>(f->intrinsic), c);
  if (f->decl && f->decl->has_embedded) return EmbeddedCall(c);
  if (f->recursive && f->decl && f->decl->body) return RecursiveCall(c);
  if (!f->decl || !f->decl->body) {
    Unsupported(c->range, "a call to `" + std::string(f->name) + "`");
    return nullptr;
  }
  // Arguments are evaluated in the caller's scope, then bound in the callee's.
  std::vector<Value> args;
  for (ast::Expr* a : c->args) args.push_back(Expr(a));
  Scope scope;
  scope.function = f;
  // `function execname:string () { return __btap_execname() }`: the built-in's fresh slot
  // is the value, without a copy into a result slot.
  auto* only = ast::As<ast::Block>(f->decl->body);
  auto* ret =
      only && only->statements.size() == 1 ? ast::As<ast::Return>(only->statements[0]) : nullptr;
  auto* made = ret ? ast::As<ast::Call>(ret->value) : nullptr;
  bool direct = f->ret == Type::String && made && !IsPrintFamily(made) && made->callee &&
                made->callee->intrinsic >= 0;
  scope.return_block = llvm::BasicBlock::Create(context_, "return", frame_->fn);
  if (direct) {
  } else if (f->ret == Type::String) {
    scope.result = StringSlot();
    b_.CreateStore(b_.getInt8(0), scope.result);
  } else {
    scope.result = LongStorage();
    b_.CreateStore(b_.getInt64(0), scope.result);
  }
  frame_->scopes.push_back(&scope);
  frame_->calls.push_back(c->range);
  for (size_t i = 0; i < f->params.size() && i < args.size(); ++i) {
    const sema::Variable* param = f->params[i];
    // A string that a script function's call returned is a fresh slot nobody else holds:
    // a parameter the body never assigns can take it as it is (strlen(execname()) copied
    // the name once more for nothing).
    auto* inner = ast::As<ast::Call>(c->args[i]);
    if (param->type == Type::String && inner && !IsPrintFamily(inner) && inner->callee &&
        inner->callee->intrinsic < 0 && inner->callee->decl && !inner->callee->decl->has_embedded &&
        args[i] && args[i]->getType() != i64_ && !Assigned(f, param)) {
      scope.vars[param] = args[i];
      continue;
    }
    DeclareLocal(scope, param);
    Value storage = scope.vars[param];
    if (!storage) continue;
    if (param->type == Type::String)
      CopyString(storage, args[i]);
    else if (args[i]->getType() == i64_)
      b_.CreateStore(args[i], storage);
  }
  for (const sema::Variable* v : f->locals) DeclareLocal(scope, v);
  if (c == pending_tail_) {  // a print argument's symbolic text: its arguments are lowered
    symbolic_tail_ = pending_inner_;
    pending_tail_ = pending_inner_ = nullptr;
  }
  if (direct) {
    Locate(ret->range);
    Value v = Expr(made);
    if (v && v->getType() != i64_ && !frame_->scratch_offsets.count(v)) {
      // Not a scratch slot (a literal, say): copied as a return would.
      Value copy = StringSlot();
      CopyString(copy, v);
      v = copy;
    }
    b_.CreateBr(scope.return_block);
    frame_->scopes.pop_back();
    frame_->calls.pop_back();
    b_.SetInsertPoint(scope.return_block);
    Locate(c->range);
    return v;
  }
  Stmt(f->decl->body);
  b_.CreateBr(scope.return_block);
  frame_->scopes.pop_back();
  frame_->calls.pop_back();
  b_.SetInsertPoint(scope.return_block);
  Locate(c->range);
  if (f->ret == Type::String) return scope.result;
  return b_.CreateLoad(i64_, scope.result);
}

// Whether a function's body assigns to its variable `v` (or binds it in a foreach).
bool Lowering::Assigned(const sema::Function* f, const sema::Variable* v) {
  auto known = assigned_.find(v);
  if (known != assigned_.end()) return known->second;
  bool assigned = false;
  if (f->decl && f->decl->body)
    ast::WalkTree(f->decl->body, [&](ast::Node* n) {
      if (auto* a = ast::As<ast::Assign>(n)) {
        auto* s = ast::As<ast::Symbol>(a->lhs);
        assigned |= s && s->var == v;
      } else if (auto* l = ast::As<ast::Foreach>(n)) {
        assigned |= l->value && l->value->var == v;
        for (ast::Symbol* k : l->keys) assigned |= k && k->var == v;
      }
    });
  assigned_[v] = assigned;
  return assigned;
}

Value Lowering::Print(ast::Call* c) {
  std::string_view name = c->name;
  bool to_string = name[0] == 's';
  if (to_string) name = name.substr(1);
  std::string format;
  std::vector<Value> args;
  std::span<ast::Expr*> rest = c->args;
  if (name == "printf") {
    auto* fmt = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
    if (!fmt) {
      Unsupported(c->range, "`printf` with a format that is not a literal string");
      return nullptr;
    }
    format = std::string(fmt->value);
    rest = rest.subspan(1);
  } else {
    std::string delimiter;
    bool delimited = name == "printd" || name == "printdln";
    if (delimited) {
      auto* d = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
      if (!d) {
        Unsupported(c->range, "a delimiter that is not a literal string");
        return nullptr;
      }
      delimiter = EscapePercent(d->value);
      rest = rest.subspan(1);
    }
    for (size_t i = 0; i < rest.size(); ++i) {
      if (i && delimited) format += delimiter;
      format += rest[i]->type == Type::String ? "%s" : "%d";
    }
    if (name == "println" || name == "printdln") format += "\n";
  }
  if (!to_string && !frame_->user_side && !HistogramRecordFits(c)) return nullptr;
  if (!to_string && rest.size() == 1 && ast::Is<ast::HistOp>(rest[0]) &&
      (name == "print" || name == "println")) {
    PrintHistogram(static_cast<ast::HistOp*>(rest[0]));
    if (name == "println") Record(record::Kind::Printf, FormatId("\n"), {});
    return nullptr;
  }
  // sprint's text of a histogram: the runtime renders it into the string (user side).
  if (to_string && (name == "print" || name == "println") && rest.size() == 1 &&
      ast::Is<ast::HistOp>(rest[0]))
    return PrintHistogram(static_cast<ast::HistOp*>(rest[0]), StringSlot(), name == "println");
  for (ast::Expr* a : rest) {
    if (ast::Is<ast::HistOp>(a)) {
      Unsupported(a->range, "a histogram among other arguments",
                  "; print it alone with print() or println()");
      return nullptr;
    }
  }
  // Symbolic text is made by the runtime: in what it prints, and in sprintf where the
  // runtime formats it (user-side probes).
  std::vector<Symbolic> modes;
  // A kernel probe's print of sprint/sprintln of a histogram: the record carries the
  // histogram, the runtime makes its text (lower_print_histogram.cpp).
  std::vector<size_t> tables;
  std::vector<bool> lines;
  for (size_t i = 0; i < rest.size(); ++i) {
    bool line = false;
    ast::HistOp* h = to_string || frame_->user_side ? nullptr : PrintedHistogram(rest[i], &line);
    if (!h) {
      args.push_back(PrintArg(rest[i], !to_string || frame_->user_side, &modes.emplace_back()));
      continue;
    }
    Value table = KernelHistogram(h);
    if (!table) return nullptr;
    args.push_back(table);
    modes.emplace_back();
    tables.push_back(i);
    lines.push_back(line);
  }
  if (!tables.empty() && !HistogramDirectives(c, &format, tables, lines, rest, args))
    return nullptr;
  if (format.find('%') != std::string::npos && !PrintMemory(c, to_string, &format, args))
    return nullptr;
  std::vector<size_t> task_args;
  format = MarkSymbolic(format, modes, &task_args);
  for (auto it = task_args.rbegin(); it != task_args.rend(); ++it)
    args.insert(args.begin() + static_cast<std::ptrdiff_t>(*it), SymbolTask());
  if (!to_string) {
    Record(record::Kind::Printf, FormatId(format), args);
    return nullptr;
  }
  if (!frame_->user_side) return FormatInKernel(c->range, format, args);
  Value size = BuildRecord(record::Kind::Printf, FormatId(format), args);
  Value slot = StringSlot();
  Helper(user_helper::kSprintf, i64_, {slot, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
  return slot;
}

// A directive as the kernel's bpf_snprintf takes it, when it formats it as stap does:
// printable text, and d i u x X with one flag of `0 +-` and a fixed width (the kernel
// parses no precision, `#` or `*`); %p is stap's `0x` and hex digits.
constexpr size_t kSnprintfArgs = 12;  // MAX_BPRINTF_VARARGS

static bool SnprintfPiece(const FormatDirective& d, uint32_t limit, std::string* piece) {
  if (d.literal) {
    for (char c : d.text) {
      if (c == '%') *piece += '%';
      if (!(std::isprint(static_cast<unsigned char>(c)) || c == '\n' || c == '\t')) return false;
      *piece += c;
    }
    return true;
  }
  // A width past the string limit takes the library's way, which stops at the limit: the
  // kernel's vsnprintf would pad all of it (up to 999,999 bytes) into nowhere.
  if (d.symbolic != Symbolic::None || d.precision != -1 || d.width < -1 ||
      d.width >= static_cast<int>(limit))
    return false;
  if (d.conversion == 'p') {
    if (d.flag || d.width != -1) return false;
    *piece = "0x%lx";
    return true;
  }
  if (!std::strchr("diuxX", d.conversion) || d.conversion == 0 || d.flag == '#') return false;
  *piece = "%";
  if (d.flag) *piece += d.flag;
  if (d.width >= 0) *piece += std::to_string(d.width);
  *piece += std::string("l") + d.conversion;
  return true;
}

// sprintf in a kernel probe: the format is known now, so each directive becomes one call
// into the BPF library, writing into a fresh slot.
Value Lowering::FormatInKernel(SourceRange at, const std::string& format,
                               const std::vector<Value>& args) {
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!ParseFormat(format, directives, &error, &offset)) {
    Unsupported(at, "this format");
    return nullptr;
  }
  Value slot = StringSlot();
  b_.CreateStore(b_.getInt8(0), slot);
  Value pos = b_.getInt64(0);
  Value size = b_.getInt64(slot_), limit = b_.getInt64(limit_);
  // After a value of unknown length (a string, a number) the position goes through a
  // scratch cell: the verifier does not track map values, so the paths of different
  // lengths merge at the next directive instead of multiplying (library writes are
  // masked and bounded).
  Value cell = nullptr;
  auto forget = [&](Value v) {
    if (!cell) cell = ScratchAt(TempBytes(8));
    b_.CreateStore(v, cell)->setVolatile(true);
    llvm::LoadInst* back = b_.CreateLoad(i64_, cell);
    back->setVolatile(true);
    return static_cast<Value>(back);
  };
  size_t next = 0;
  auto take = [&]() { return next < args.size() ? args[next++] : b_.getInt64(0); };
  // Literal text and numbers run together into one call of the kernel's bpf_snprintf,
  // which formats them as C does (and the verifier checks as one helper call, where the
  // library's digit and padding loops cost it thousands of steps each); the run's text
  // then joins the string as a `%s` would.
  std::string run, plain;  // the run's format, and its text while it has no number
  std::vector<Value> run_args;
  Value run_text = nullptr, run_data = nullptr;  // scratch the runs share
  auto flush = [&]() {
    if (run.empty()) return;
    if (!run_args.empty() && !run_text) {
      run_text = ScratchAt(TempBytes(slot_));
      run_data = ScratchAt(TempBytes(static_cast<uint32_t>(8 * kSnprintfArgs)));
    }
    Value text = run_args.empty() ? Literal(plain) : run_text;
    if (!run_args.empty()) {
      Value data = run_data;
      for (size_t i = 0; i < run_args.size(); ++i)
        b_.CreateStore(run_args[i], b_.CreateConstGEP1_64(b_.getInt8Ty(), data, 8 * i));
      b_.CreateStore(b_.getInt8(0), text);  // what a failed call leaves
      Helper(kSnprintf, i64_,
             {text, b_.getInt32(limit_), Literal(run), data,
              b_.getInt32(static_cast<uint32_t>(8 * run_args.size()))});
    }
    pos = forget(
        Library("btap_put_str", i64_,
                {slot, pos, text, b_.getInt64(0), b_.getInt64(-1), b_.getInt64(0), size, limit}));
    run.clear();
    plain.clear();
    run_args.clear();
  };
  for (const FormatDirective& d : directives) {
    // A run's format is a literal of at most the string limit: one that would not fit
    // goes out first, and a longer piece of text takes the library's way.
    if (std::string piece; SnprintfPiece(d, limit_, &piece) && piece.size() + 1 < limit_) {
      if ((!d.literal && run_args.size() == kSnprintfArgs) ||
          run.size() + piece.size() + 1 >= limit_)
        flush();
      run += piece;
      if (d.literal) plain += d.text;
      if (!d.literal) run_args.push_back(take());
      continue;
    }
    flush();
    if (d.literal) {
      pos = Library("btap_put_str", i64_,
                    {slot, pos, Literal(d.text), b_.getInt64(0), b_.getInt64(-1), b_.getInt64(0),
                     size, limit});
      continue;
    }
    if (d.flag == '#' && d.conversion == 'c') {
      Unsupported(at, "`%#c` in a kernel-side probe");
      return nullptr;
    }
    if (d.conversion == 'b') {
      Unsupported(at, "`%b` in a string");
      return nullptr;
    }
    // A `*` width or precision is an int, as stap's runtime reads it (and the user side).
    auto as_int = [&](Value v) { return b_.CreateSExt(b_.CreateTrunc(v, b_.getInt32Ty()), i64_); };
    Value width = d.width == -2 ? as_int(take()) : b_.getInt64(d.width);
    // A negative `*` precision is 0 in stap's runtime (C would take it as none).
    Value precision = b_.getInt64(d.precision);
    if (d.precision == -2)
      precision = b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, as_int(take()), b_.getInt64(0));
    Value value = take();
    if (d.conversion == 'm' || d.conversion == 'M') {
      pos = forget(SprintMemory(at, d, slot, pos, value, width, precision));
      // stap's runtime writes a NUL after a `0`-flagged field: the string ends there.
      if (d.flag == '0') break;
      continue;
    }
    if (d.conversion == 's' && (d.width != -1 || d.precision != -1) && tag_values_.count(value)) {
      // The kernel keeps the addresses; their text is made where the runtime prints it.
      Unsupported(at, "a width or precision on symbol text in sprintf in a kernel-side probe",
                  "; give them in the printf that prints it");
      return nullptr;
    }
    if (d.conversion == 's' && (d.width != -1 || d.precision != -1))
      Check(b_.CreateICmpEQ(Library("btap_has_tag", i64_, {value, size, limit}), b_.getInt64(0)),
            "symbol text cannot be padded or cut in sprintf in a kernel-side probe; give the "
            "width or precision in the printf that prints it" +
                NearCall("sprintf", at));
    if (d.conversion == 's') {
      Value left = b_.getInt64(d.flag == '-' ? 1 : 0);
      // A negative `*` width left-justifies, as in C.
      // (Negated as an int: -INT_MIN stays negative, no padding, as in stap's runtime.)
      Value negative = b_.CreateICmpSLT(width, b_.getInt64(-1));
      left = b_.CreateSelect(negative, b_.getInt64(1), left);
      width = b_.CreateSelect(negative, as_int(b_.CreateNeg(width)), width);
      pos = forget(
          Library("btap_put_str", i64_, {slot, pos, value, width, precision, left, size, limit}));
    } else {
      pos = forget(Library("btap_put_num", i64_,
                           {slot, pos, value, b_.getInt64(d.conversion), b_.getInt64(d.flag), width,
                            precision, size, limit}));
    }
  }
  flush();
  return slot;
}

// A library function that writes a string: into a fresh slot, which is the value.
Value Lowering::StringFrom(const char* function, std::vector<Value> args) {
  Value slot = StringSlot();
  args.insert(args.begin(), slot);
  args.push_back(b_.getInt64(slot_));
  args.push_back(b_.getInt64(limit_));
  Library(function, i64_, args);
  return slot;
}

// False (after a located error) when the call is in a kernel-side probe.
bool Lowering::UserSideOnly(ast::Call* c, const std::string& what, const std::string& instead) {
  if (frame_->user_side) return true;
  Unsupported(c->range, what + " in a kernel-side probe",
              "; " + instead + " in begin, end, error or task-free timer probes");
  return false;
}

// `v` kept within [lo, hi] (signed).
Value Lowering::Clamp(Value v, int64_t lo, int64_t hi) {
  v = b_.CreateSelect(b_.CreateICmpSGT(v, b_.getInt64(hi)), b_.getInt64(hi), v);
  return b_.CreateSelect(b_.CreateICmpSLT(v, b_.getInt64(lo)), b_.getInt64(lo), v);
}

// The address of kernel symbol `name`, which the runtime sets at load (meta::kKsymPrefix).
llvm::GlobalVariable* Lowering::KsymVar(std::string_view name) {
  return RuntimeVar((meta::kKsymPrefix + std::string(name)).c_str());
}

Value Lowering::Arg(ast::Call* c, size_t i) {
  return i < c->args.size() ? Expr(c->args[i]) : b_.getInt64(0);
}

Value Lowering::IntrinsicCall(Intrinsic which, ast::Call* c) {
  switch (which) {
    case Intrinsic::execname: {
      Value slot = StringSlot();
      Helper(kCurrentComm, i64_, {slot, b_.getInt32(16)});
      return slot;
    }
    case Intrinsic::pid:
      return b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32);
    case Intrinsic::find_task: {
      if (frame_->user_side) {
        Unsupported(c->range, "`pid2task()` in a probe that runs in user space");
        return nullptr;
      }
      Value offsets = ScratchAt(TempBytes(40));
      for (size_t i = 0; i < 5; ++i)
        b_.CreateStore(Arg(c, i + 2), b_.CreateConstGEP1_64(i64_, offsets, i));
      return Library("btap_find_task", i64_, {Arg(c, 1), Arg(c, 0), offsets});
    }
    case Intrinsic::task_current:
      if (frame_->user_side) {
        Unsupported(c->range, "`task_current()` in a probe that runs in user space");
        return nullptr;
      }
      return Helper(kCurrentTask, i64_, {});
    case Intrinsic::tid:
      return b_.CreateAnd(Helper(kCurrentPidTgid, i64_, {}), b_.getInt64(0xffffffff));
    case Intrinsic::uid:
      return b_.CreateAnd(Helper(kCurrentUidGid, i64_, {}), b_.getInt64(0xffffffff));
    case Intrinsic::gid:
      return b_.CreateLShr(Helper(kCurrentUidGid, i64_, {}), 32);
    case Intrinsic::ppid:
      if (frame_->user_side) return Helper(user_helper::kParentPid, i64_, {});
      if ((program_.kernel.task_real_parent < 0 || program_.kernel.task_tgid < 0) &&
          !(program_.kernel.btf && program_.kernel.btf())) {
        Unsupported(c->range, "`ppid()` in a kernel-side probe",
                    "; the kernel's BTF does not describe task_struct");
        return nullptr;
      }
      return ParentPid();
    case Intrinsic::cpu:
      return b_.CreateZExt(Helper(kSmpProcessorId, b_.getInt32Ty(), {}), i64_);
    case Intrinsic::target:
      return b_.CreateLoad(i64_, target_);
    case Intrinsic::stp_pid:
      return b_.CreateLoad(i64_, stp_pid_);
    case Intrinsic::stp_uid:
      return b_.CreateLoad(i64_, stp_uid_);
    case Intrinsic::module_name:
      return Literal(options_.script_name);
    case Intrinsic::get_cycles: {
      // session::TscCycles of the monotonic clock, plus where the counter stood at its 0.
      Value ns = Helper(kKtimeGetNs, i64_, {});
      Value mult = b_.CreateLoad(i64_, RuntimeVar(session::kTscMult));
      Value high = b_.CreateShl(b_.CreateMul(b_.CreateLShr(ns, 32), mult), 12);
      Value low = b_.CreateLShr(b_.CreateMul(b_.CreateAnd(ns, b_.getInt64(0xffffffff)), mult), 20);
      return b_.CreateAdd(b_.CreateAdd(high, low),
                          b_.CreateLoad(i64_, RuntimeVar(session::kTscBase)));
    }
    case Intrinsic::tokenize: {
      // The string being split and the position reached are this CPU's (as stap keeps
      // them per context), in a per-CPU array of one element; then the kernel's loop's
      // counts and delimiter set (bpflib's btap_tokenize_loop).
      Value input = Arg(c, 0), delim = Arg(c, 1);
      if (!input || !delim) return nullptr;
      if (!tokenize_state_)
        tokenize_state_ = maps_.Define({"btap_tokenize_state", kMapPercpuArray, 1, 4, slot_ + 56});
      Value key = StackTemp(4);
      b_.CreateStore(b_.getInt32(0), key);
      Value state = Helper(kMapLookup, ptr_, {tokenize_state_, key});
      Value token = StringSlot();
      b_.CreateStore(b_.getInt8(0), token);
      auto* split = llvm::BasicBlock::Create(context_, "tokenize", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "tokenized", frame_->fn);
      b_.CreateCondBr(b_.CreateIsNotNull(state), split, done);
      b_.SetInsertPoint(split);
      // A new string to split (not empty) starts again from its first byte.
      auto* fresh = llvm::BasicBlock::Create(context_, "tokenize_new", frame_->fn);
      auto* next = llvm::BasicBlock::Create(context_, "tokenize_next", frame_->fn);
      b_.CreateCondBr(b_.CreateICmpNE(b_.CreateLoad(b_.getInt8Ty(), input), b_.getInt8(0)), fresh,
                      next);
      b_.SetInsertPoint(fresh);
      CopyString(state, input);
      b_.CreateStore(b_.getInt64(0), b_.CreateConstGEP1_64(b_.getInt8Ty(), state, slot_));
      b_.CreateBr(next);
      b_.SetInsertPoint(next);
      Library(frame_->user_side ? "btap_tokenize" : "btap_tokenize_loop", i64_,
              {token, state, delim, b_.getInt64(slot_), b_.getInt64(limit_)});
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      return token;
    }
    // The local time zone when the session started (set by the runtime, as staprun
    // passes stap's): seconds west of UTC, and its name in at most 15 bytes.
    case Intrinsic::tz_gmtoff:
      return b_.CreateLoad(i64_, RuntimeVar(session::kTzGmtoff));
    case Intrinsic::tz_name: {
      Value slot = StringSlot();
      b_.CreateMemCpy(slot, llvm::MaybeAlign(1),
                      RuntimeVar(session::kTzName, session::kTzNameBytes), llvm::MaybeAlign(8),
                      session::kTzNameBytes);
      b_.CreateStore(b_.getInt8(0),
                     b_.CreateConstGEP1_64(b_.getInt8Ty(), slot, session::kTzNameBytes - 1));
      return slot;
    }
    case Intrinsic::random:
      return b_.CreateZExt(Helper(kGetPrandomU32, b_.getInt32Ty(), {}), i64_);
    case Intrinsic::kconfig: {
      auto* name = c->args.size() == 1 ? ast::As<ast::StringLit>(c->args[0]) : nullptr;
      if (!name || !name->value.starts_with("CONFIG_")) {
        Unsupported(c->range, "a CONFIG_ option that is not a literal `\"CONFIG_...\"`");
        return nullptr;
      }
      return b_.CreateLoad(i64_, KconfigVar(std::string(name->value)));
    }
    case Intrinsic::loadavg: {
      if (frame_->user_side) return Helper(user_helper::kLoadavg, i64_, {Arg(c, 0)});
      // avenrun[i] at the address /proc/kallsyms gives at load, plus FIXED_1/200.
      Value at = b_.CreateAdd(b_.CreateLoad(i64_, KsymVar("avenrun")),
                              b_.CreateShl(b_.CreateAnd(Arg(c, 0), b_.getInt64(3)), 3));
      Value cell = StackTemp(8);
      b_.CreateStore(b_.getInt64(0), cell);
      Helper(kProbeReadKernel, i64_, {cell, b_.getInt32(8), b_.CreateIntToPtr(at, ptr_)});
      return b_.CreateAdd(b_.CreateLoad(i64_, cell), b_.getInt64(2048 / 200));
    }
    case Intrinsic::env_var: {
      if (frame_->user_side) {
        Unsupported(c->range, "`env_var()` in a probe that runs in user space");
        return nullptr;
      }
      Value tmp = StringSlot();
      return StringFrom("btap_env_var_loop", {Arg(c, 0), Arg(c, 1), Arg(c, 2), tmp});
    }
    case Intrinsic::ns_fact: {
      // Four rows kept for the table's three (the fourth stays 0), so that the row and the
      // column are masks, which the verifier bounds where they are not constants it sees
      // (in a loop made a callback, say); a remainder by 3 becomes a multiply it does not.
      constexpr uint64_t kRows = 4;
      static_assert(meta::kNsFactRows <= kRows &&
                    (meta::kNsFactColumns & (meta::kNsFactColumns - 1)) == 0);
      llvm::GlobalVariable* facts = RuntimeVar(meta::kNsFacts, 8 * kRows * meta::kNsFactColumns);
      Value row = b_.CreateAnd(Arg(c, 0), b_.getInt64(kRows - 1));
      Value column = b_.CreateAnd(Arg(c, 1), b_.getInt64(meta::kNsFactColumns - 1));
      Value index = b_.CreateOr(b_.CreateMul(row, b_.getInt64(meta::kNsFactColumns)), column);
      return b_.CreateLoad(i64_, b_.CreateGEP(i64_, facts, index));
    }
    case Intrinsic::ksym: {
      auto* name = c->args.size() == 1 ? ast::As<ast::StringLit>(c->args[0]) : nullptr;
      if (!name || name->value.empty()) {
        Unsupported(c->range, "a kernel symbol that is not a literal name");
        return nullptr;
      }
      return b_.CreateLoad(i64_, KsymVar(name->value));
    }
    case Intrinsic::string_room: {
      // Read from writable data, not a literal: the verifier then knows only its range,
      // and walks the rounds of a loop that counts it down as one.
      llvm::GlobalVariable* room = module_.getNamedGlobal("__btap_string_room");
      if (!room) {
        room = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                        b_.getInt64(limit_ - 1), "__btap_string_room");
        room->setAlignment(llvm::Align(8));
        room->setSection(".data");
      }
      return b_.CreateLoad(i64_, room);
    }
    case Intrinsic::pp:
      if (frame_->group) return GroupString(GroupText::Point);
      return Literal(frame_->probe->spec.point);
    case Intrinsic::probe_type:
      return Literal(ProbeType(frame_->probe->spec));
    case Intrinsic::pn: {
      // What -l lists: the alias a point came from, else the concrete point (which a
      // wildcard's shared program tells apart by cookie).
      const sema::Probe& p = *frame_->probe;
      std::string name = p.listed.empty() ? p.spec.point : p.listed;
      if (frame_->group)
        for (const sema::Probe* m : frame_->group->members)
          if ((m->listed.empty() ? m->spec.point : m->listed) != name)
            return GroupString(GroupText::Name);
      return Literal(name);
    }
    case Intrinsic::ppfunc:
    case Intrinsic::probefunc: {
      bool probefunc = which == Intrinsic::probefunc;
      if (frame_->group)
        return GroupString(probefunc ? GroupText::Function : GroupText::PointFunction);
      return Literal(FunctionOf(frame_->probe->spec, probefunc));
    }
    case Intrinsic::probe_register:
    case Intrinsic::probe_arg:
    case Intrinsic::probe_addr:
    case Intrinsic::user_mode:
      return ProbeRegisters(c, which);
    case Intrinsic::user_addr:
      return UserAddress(c);
    case Intrinsic::is_return:
      return b_.getInt64(frame_->probe->spec.is_return ? 1 : 0);
    case Intrinsic::ktime_get_ns:
    case Intrinsic::local_clock_ns:
      return Helper(kKtimeGetNs, i64_, {});
    case Intrinsic::gettimeofday_ns:
      return WallClockNs();
    case Intrinsic::jiffies:
      return Helper(kJiffies64, i64_, {});
    case Intrinsic::strlen:
      // In the kernel as a bpf_loop: a plain loop's exit at each length makes the verifier
      // walk the rest of the handler once per length, and again for every later one.
      if (frame_->user_side) return Library("btap_strlen", i64_, {Arg(c, 0), b_.getInt64(limit_)});
      return Library("btap_strlen_loop", i64_,
                     {Arg(c, 0), b_.getInt64(slot_), b_.getInt64(limit_)});
    case Intrinsic::substr: {
      Value str = Arg(c, 0), start = Arg(c, 1), length = Arg(c, 2);
      return StringFrom(frame_->user_side ? "btap_substr" : "btap_substr_loop",
                        {str, start, length});
    }
    case Intrinsic::strpos: {
      // Nested loops: the kernel runs them as bpf_loops, the interpreter plainly.
      Value str = Arg(c, 0), needle = Arg(c, 1);
      return Library(frame_->user_side ? "btap_strpos" : "btap_strpos_loop", i64_,
                     {str, needle, b_.getInt64(slot_), b_.getInt64(limit_)});
    }
    case Intrinsic::str_replace: {
      // In the kernel a bpf_loop whose two cursors are in scratch cells.
      Value str = Arg(c, 0), find = Arg(c, 1), with = Arg(c, 2);
      if (frame_->user_side) return StringFrom("btap_str_replace", {str, find, with});
      return StringFrom("btap_str_replace_loop", {str, find, with, ScratchAt(TempBytes(16))});
    }
    case Intrinsic::strtol: {
      Value str = Arg(c, 0), base = Arg(c, 1);
      // In the kernel the digit loop is a bpf_loop (the interpreter has none).
      return Library(frame_->user_side ? "btap_strtol" : "btap_strtol_loop", i64_,
                     {str, base, b_.getInt64(slot_), b_.getInt64(limit_)});
    }
    case Intrinsic::text_str:
    case Intrinsic::string_quoted:
    case Intrinsic::text_strn: {
      // In the kernel, per-byte branches need bpf_loop: unrolled, they are more than the
      // verifier walks through. The interpreter runs the plain loop.
      Value str = Arg(c, 0);
      Value out = which == Intrinsic::text_strn ? Clamp(Arg(c, 1), 0, limit_) : b_.getInt64(0);
      Value quoted = which == Intrinsic::text_strn
                         ? b_.CreateZExt(b_.CreateICmpNE(Arg(c, 2), b_.getInt64(0)), i64_)
                         : b_.getInt64(which == Intrinsic::string_quoted ? 1 : 0);
      if (!frame_->user_side && tag_values_.count(str)) {
        Unsupported(c->range, "escaping symbol text in a kernel-side probe",
                    "; print it with printf's `%s`, whose text the runtime makes");
        return nullptr;
      }
      // Symbol text reached through a local or a join is found as the bytes go by.
      Value slot = StringSlot();
      Value n =
          Library(frame_->user_side ? "btap_text" : "btap_text_loop", i64_,
                  {slot, str, b_.getInt64(limit_ - 1), out, quoted,
                   ScratchAt(TempBytes(kTextCells * 8)), b_.getInt64(slot_), b_.getInt64(limit_)});
      Check(b_.CreateICmpSGE(n, b_.getInt64(0)),
            "symbol text cannot be escaped in a kernel-side probe; print it with printf's %s, "
            "whose text the runtime makes" +
                NearCall(c->name, c->range));
      return slot;
    }
    case Intrinsic::buffer_quoted: {
      auto* kind = c->args.size() == 4 ? ast::As<ast::NumberLit>(c->args[3]) : nullptr;
      if (frame_->user_side || !kind) {
        Unsupported(c->range, "a buffer read in a probe that runs in user space");
        return nullptr;
      }
      bool user = kind->value != 0;
      // As stap reads it: `inlen` bytes, all a string holds when it is not 1 to that.
      Value address = Arg(c, 0), tmp = StringSlot(), inlen = Arg(c, 1);
      Value whole = b_.getInt64(limit_ - 1);
      Value n = b_.CreateSelect(
          b_.CreateOr(b_.CreateICmpSLE(inlen, b_.getInt64(0)), b_.CreateICmpSGT(inlen, whole)),
          whole, inlen);
      // The mask keeps it (which it cannot change) where older verifiers see its bounds.
      n = b_.CreateAnd(n, b_.getInt64(slot_ - 1));
      Value rc =
          Helper(user ? kProbeReadUser : kProbeReadKernel, i64_,
                 {tmp, b_.CreateTrunc(n, b_.getInt32Ty()), b_.CreateIntToPtr(address, ptr_)});
      std::string what = user ? "user string copy fault" : "kernel string copy fault";
      CheckFormat(
          b_.CreateICmpSGE(rc, b_.getInt64(0)),
          what + " at %p [man error::fault]" + EscapePercent(Near("identifier", c->name, c->range)),
          {address});
      // A buffer between quotes, NULs too; no text at all when `outlen` is not 1 or more.
      Value out = Clamp(Arg(c, 2), 0, limit_);
      return StringFrom("btap_text_loop",
                        {tmp, n, out, b_.getInt64(3), ScratchAt(TempBytes(kTextCells * 8))});
    }
    case Intrinsic::utf_kernel:
    case Intrinsic::utf_user: {
      // In the kernel a bpf_loop round per character; cells 1 and 2 tell a failure.
      bool user = which == Intrinsic::utf_user;
      Value address = Arg(c, 0), unit = Arg(c, 1), cells = ScratchAt(TempBytes(24));
      Value text = StringFrom(frame_->user_side ? "btap_utf" : "btap_utf_loop",
                              {address, unit, b_.getInt64(user ? 1 : 0), cells});
      Value bad = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, cells, 1));
      Value at = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, cells, 2));
      std::string near = EscapePercent(NearCall(c->name, c->range));
      CheckFormat(b_.CreateICmpSGE(bad, b_.getInt64(0)),
                  std::string(user ? "user" : "kernel") +
                      " string copy fault at 0x%x [man error::fault]" + near,
                  {at});
      CheckFormat(b_.CreateICmpEQ(bad, b_.getInt64(0)),
                  "invalid UTF-%d character U+%X at 0x%x" + near,
                  {b_.CreateMul(unit, b_.getInt64(8)), bad, at});
      return text;
    }
    case Intrinsic::buffer_hex: {
      if (frame_->user_side) {
        Unsupported(c->range, "a buffer read in a probe that runs in user space");
        return nullptr;
      }
      Value address = Arg(c, 0), tmp = StringSlot();
      Value n = Clamp(Arg(c, 1), 0, limit_ / 2);  // two digits a byte
      Value rc =
          Helper(kProbeReadKernel, i64_,
                 {tmp, b_.CreateTrunc(n, b_.getInt32Ty()), b_.CreateIntToPtr(address, ptr_)});
      // (Reading no bytes is no fault, wherever it points.)
      Value ok =
          b_.CreateOr(b_.CreateICmpSGE(rc, b_.getInt64(0)), b_.CreateICmpEQ(n, b_.getInt64(0)));
      CheckFormat(ok,
                  "kernel string copy fault at %p [man error::fault]" +
                      EscapePercent(Near("identifier", c->name, c->range)),
                  {address});
      return StringFrom("btap_hex_loop", {tmp, n, ScratchAt(TempBytes(8))});
    }
    case Intrinsic::stringat: {
      Value str = Arg(c, 0), pos = Arg(c, 1);
      Value byte =
          Library("btap_stringat", i64_, {str, pos, b_.getInt64(slot_), b_.getInt64(limit_)});
      Check(b_.CreateICmpSGE(byte, b_.getInt64(0)),
            "Invalid string index" + Near("identifier", c->name, c->range));
      return byte;
    }
    case Intrinsic::kernel_string:
    case Intrinsic::user_string:
    case Intrinsic::kernel_string_n:
    case Intrinsic::user_string_n: {
      bool user = which == Intrinsic::user_string || which == Intrinsic::user_string_n;
      bool sized = which == Intrinsic::kernel_string_n || which == Intrinsic::user_string_n;
      Value address = Arg(c, 0);
      Value size = b_.getInt32(limit_);
      if (sized) {
        Value n = b_.CreateAdd(Arg(c, 1), b_.getInt64(1));
        n = b_.CreateSelect(b_.CreateICmpUGT(n, b_.getInt64(limit_)), b_.getInt64(limit_), n);
        n = b_.CreateSelect(b_.CreateICmpSLT(n, b_.getInt64(1)), b_.getInt64(1), n);
        size = b_.CreateTrunc(n, b_.getInt32Ty());
      }
      Value slot = StringSlot();
      Value pointer = b_.CreateIntToPtr(address, ptr_);
      Value rc = user ? ReadUserString(slot, size, pointer)
                      : Helper(kProbeReadKernelStr, i64_, {slot, size, pointer});
      std::string what = user ? "user string copy fault" : "kernel string copy fault";
      CheckFormat(
          b_.CreateICmpSGE(rc, b_.getInt64(0)),
          what + " at %p [man error::fault]" + EscapePercent(Near("identifier", c->name, c->range)),
          {address});
      return slot;
    }
    case Intrinsic::user_string_marked: {
      // The quotes and escapes are the runtime's (`%{quoted}s`): byte 1 says the rest is
      // the string, read one byte short so that the quoted text is cut where the
      // kernel's would be. An unreadable string is its address, as user_string_quoted()
      // writes it then.
      Value address = Arg(c, 0);
      Value slot = StringSlot();
      b_.CreateStore(b_.getInt8(1), slot);
      Value rc = ReadUserString(b_.CreateConstGEP1_64(b_.getInt8Ty(), slot, 1),
                                b_.getInt32(limit_ - 1), b_.CreateIntToPtr(address, ptr_));
      auto* fault = llvm::BasicBlock::Create(context_, "string_fault", frame_->fn);
      auto* done = llvm::BasicBlock::Create(context_, "string_read", frame_->fn);
      b_.CreateCondBr(b_.CreateICmpSLT(rc, b_.getInt64(0)), fault, done);
      b_.SetInsertPoint(fault);
      if (frame_->user_side) {
        Library("btap_address_text", i64_,
                {slot, address, b_.getInt64(slot_), b_.getInt64(limit_)});
      } else {  // one helper call: the library's digits are branches the verifier walks
        Value data = ScratchAt(TempBytes(8));
        b_.CreateStore(address, data);
        Helper(kSnprintf, i64_,
               {slot, b_.getInt32(limit_), Literal("0x%lx"), data, b_.getInt32(8)});
      }
      b_.CreateBr(done);
      b_.SetInsertPoint(done);
      return slot;
    }
    case Intrinsic::kernel_read:
    case Intrinsic::user_read: {
      bool user = which == Intrinsic::user_read;
      auto* n = c->args.size() > 1 ? ast::As<ast::NumberLit>(c->args[1]) : nullptr;
      if (!n || (n->value != 1 && n->value != 2 && n->value != 4 && n->value != 8)) {
        Unsupported(c->range, "a read whose size is not a literal 1, 2, 4 or 8");
        return nullptr;
      }
      Value address = Arg(c, 0);
      Value buf = StackTemp(8);
      b_.CreateStore(b_.getInt64(0), buf);
      Value bytes = b_.getInt32(static_cast<uint32_t>(n->value));
      Value pointer = b_.CreateIntToPtr(address, ptr_);
      Value rc = user ? ReadUser(buf, bytes, pointer)
                      : Helper(kProbeReadKernel, i64_, {buf, bytes, pointer});
      CheckFormat(b_.CreateICmpSGE(rc, b_.getInt64(0)),
                  std::string(user ? "user" : "kernel") +
                      " memory read fault at %p [man error::fault]" +
                      EscapePercent(Near("identifier", c->name, c->range)),
                  {address});
      return Extend(b_.CreateLoad(i64_, buf), static_cast<uint32_t>(n->value), true);
    }
    case Intrinsic::user_argv:
    case Intrinsic::user_args: {
      // Per-string work needs bpf_loop (see string_quoted); the probed process is the
      // kernel's current task, which a begin or end probe does not have.
      if (frame_->user_side) {
        Unsupported(c->range, "reading the probed process's arguments in a begin or end probe");
        return nullptr;
      }
      Value tmp = StringSlot(), cell = ScratchAt(TempBytes(kTextCells * 8));
      if (which == Intrinsic::user_argv)
        return StringFrom("btap_user_argv_loop", {Arg(c, 0), Arg(c, 1), tmp, cell});
      return StringFrom("btap_user_args_loop",
                        {Arg(c, 0), Arg(c, 1), Arg(c, 2), Arg(c, 3), Arg(c, 4), tmp, cell});
    }
    case Intrinsic::user_write:
    case Intrinsic::user_write_string: {
      if (!Guru(c, "writing the probed process's memory")) return nullptr;
      if (frame_->user_side) {
        Unsupported(c->range, "writing the probed process's memory in a begin or end probe");
        return nullptr;
      }
      Value address = b_.CreateIntToPtr(Arg(c, 0), ptr_);
      if (which == Intrinsic::user_write) {
        auto* n = c->args.size() > 2 ? ast::As<ast::NumberLit>(c->args[2]) : nullptr;
        if (!n || (n->value != 1 && n->value != 2 && n->value != 4 && n->value != 8)) {
          Unsupported(c->range, "a write whose size is not a literal 1, 2, 4 or 8");
          return nullptr;
        }
        Value buf = StackTemp(8);  // little-endian: the value's low bytes first
        b_.CreateStore(Arg(c, 1), buf);
        return Helper(kProbeWriteUser, i64_,
                      {address, buf, b_.getInt32(static_cast<uint32_t>(n->value))});
      }
      // At most n - 1 bytes of the string, then its NUL, as stap's store_uderef_string.
      Value text = StringSlot();
      CopyString(text, Arg(c, 1));
      Value length = Library("btap_strlen", i64_, {text, b_.getInt64(limit_)});
      Value room = b_.CreateSub(Arg(c, 2), b_.getInt64(1));
      room = b_.CreateSelect(b_.CreateICmpSLT(room, b_.getInt64(0)), b_.getInt64(0), room);
      Value chars = b_.CreateSelect(b_.CreateICmpSLT(room, length), room, length);
      chars = b_.CreateAnd(chars, b_.getInt64(slot_ - 1));
      b_.CreateStore(b_.getInt8(0), b_.CreateGEP(b_.getInt8Ty(), text, chars));
      Value bytes = b_.CreateAdd(chars, b_.getInt64(1));
      return Helper(kProbeWriteUser, i64_, {address, text, b_.CreateTrunc(bytes, b_.getInt32Ty())});
    }
    case Intrinsic::send_signal:
      if (!Guru(c, "raising a signal")) return nullptr;
      if (frame_->user_side) {
        Unsupported(c->range, "raise() in a probe that runs in user space",
                    " (begin, end, error: there is no probed thread)");
        return nullptr;
      }
      return Helper(kSendSignalThread, i64_, {b_.CreateTrunc(Arg(c, 0), b_.getInt32Ty())});
    case Intrinsic::refused: {
      auto* why = c->args.empty() ? nullptr : ast::As<ast::StringLit>(c->args[0]);
      failed_ = true;
      SourceRange at = frame_->calls.empty() ? c->range : frame_->calls.front();
      const sema::Function* called = OutermostCall();
      if (reported_.insert({at.file, at.begin}).second)
        diags_.Report(Diag::NotUnderBpf, at,
                      {called ? std::string(called->name) : std::string(c->name),
                       why ? std::string(why->value) : std::string()});
      return nullptr;
    }
    case Intrinsic::user_argv_raw: {
      if (frame_->user_side) {
        Unsupported(c->range, "reading the probed process's arguments in a begin or end probe");
        return nullptr;
      }
      // Not a string: only a print's record takes it (BuildRecord copies it whole).
      Value out = ScratchAt(TempBytes(slot_ + 16));
      Library("btap_user_argv_raw", i64_,
              {out, Arg(c, 0), Arg(c, 1), ScratchAt(TempBytes(8)), b_.getInt64(slot_),
               b_.getInt64(limit_)});
      raw_values_.insert(out);
      return out;
    }
    case Intrinsic::backtrace:
    case Intrinsic::backtrace_n:
    case Intrinsic::stack:
    case Intrinsic::ubacktrace:
    case Intrinsic::ubacktrace_n:
    case Intrinsic::ustack:
      return StackCall(which, c);
    case Intrinsic::symname:
    case Intrinsic::symdata:
    case Intrinsic::symcaller:
    case Intrinsic::symstack:
    case Intrinsic::symtrace:
    case Intrinsic::symtrace_simple:
    case Intrinsic::symtrace_fileline:
    case Intrinsic::symfile:
    case Intrinsic::symline:
    case Intrinsic::symfileline:
    case Intrinsic::modname:
    case Intrinsic::usymname:
    case Intrinsic::usymdata:
    case Intrinsic::usymfile:
    case Intrinsic::usymline:
    case Intrinsic::usymfileline:
    case Intrinsic::umodname:
    case Intrinsic::usymstack:
    case Intrinsic::usymtrace:
    case Intrinsic::usymtrace_simple:
    case Intrinsic::usymtrace_brief:
    case Intrinsic::usymtrace_fileline:
      return SymbolCall(which, c);
    case Intrinsic::regex_matched:
    case Intrinsic::regex_ngroups:
      return RegexGroupCall(which, c);
    case Intrinsic::flag_names:
    case Intrinsic::value_name:
      return DecodeCall(which, c);
    case Intrinsic::struct_time:
      return StructTimeCall(c);
    case Intrinsic::sockaddr:
      return SockaddrCall(c);
    case Intrinsic::exit:
      SetState(session::State::Exit);
      Record(record::Kind::Exit, 0, {});
      return nullptr;
    case Intrinsic::abort:
      // Stops at once: no end probes.
      SetState(session::State::Abort);
      Record(record::Kind::Abort, 0, {});
      b_.CreateBr(frame_->exit);
      Dead();
      return nullptr;
    case Intrinsic::error:
      Fail("%s", {Arg(c, 0)});
      return nullptr;
    case Intrinsic::warn:
      Record(record::Kind::Warning, FormatId("%s"), {Arg(c, 0)});
      return nullptr;
    case Intrinsic::log:
      Record(record::Kind::Printf, FormatId("%s\n"), {Arg(c, 0)});
      return nullptr;
    case Intrinsic::system:
      Record(record::Kind::System, FormatId("%s"), {Arg(c, 0)});
      return nullptr;
    case Intrinsic::printk:  // the kernel log's `<level>` prefix
      Record(record::Kind::Printk, FormatId("<%d>%s"), {Arg(c, 0), Arg(c, 1)});
      return nullptr;
    case Intrinsic::ftrace:
      Record(record::Kind::Ftrace, FormatId("%s"), {Arg(c, 0)});
      return nullptr;
    case Intrinsic::switch_file:
      Record(record::Kind::SwitchFile, 0, {});
      return nullptr;
    default:
      Unsupported(c->range, "`" + std::string(c->name) + "`");
      return nullptr;
  }
}

// The function in the probe point: `function("NAME@…")` or `statement("NAME@…")`; for
// probefunc() the probe's own function where it knows one (a PLT stub's callee).
std::string Lowering::FunctionOf(const sema::ProbeSpec& spec, bool probefunc) {
  if (probefunc && !spec.function.empty()) return spec.function;
  std::string name;
  for (std::string_view key : {"function(\"", "statement(\""})
    if (size_t at = spec.point.find(key); at != std::string::npos && name.empty()) {
      name = spec.point.substr(at + key.size());
      name = name.substr(0, name.find_first_of("@\""));
    }
  return name;
}

}  // namespace btap::codegen::lowering
