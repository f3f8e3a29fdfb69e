// Lowering code addresses and stacks: backtrace(), ubacktrace() and their kin capture the
// kernel or user stack in the probe; the symbol functions and stack printers leave the
// symbols to the runtime, which reads /proc/kallsyms and the objects a process maps (see
// lowering.h's SymbolicTail). As print arguments they become `%{mode}s` directives (and
// `%{task}d` for the user modes); kept as values in a kernel probe they are tagged
// addresses the runtime expands where it prints them, except symname() and symdata(),
// which the kernel formats.
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

Symbolic Lowering::SymbolicMode(Intrinsic which) {
  switch (which) {
    case Intrinsic::symname:
      return Symbolic::Name;
    case Intrinsic::symdata:
      return Symbolic::Data;
    case Intrinsic::symcaller:
      return Symbolic::Caller;
    case Intrinsic::symstack:
      return Symbolic::Syms;
    case Intrinsic::symtrace:
      return Symbolic::Full;
    case Intrinsic::symtrace_simple:
      return Symbolic::Simple;
    case Intrinsic::symtrace_fileline:
      return Symbolic::Fuller;
    case Intrinsic::symfile:
      return Symbolic::File;
    case Intrinsic::symline:
      return Symbolic::Line;
    case Intrinsic::symfileline:
      return Symbolic::FileLine;
    case Intrinsic::modname:
      return Symbolic::Module;
    case Intrinsic::usymname:
      return Symbolic::UName;
    case Intrinsic::usymdata:
      return Symbolic::UData;
    case Intrinsic::usymfile:
      return Symbolic::UFile;
    case Intrinsic::usymline:
      return Symbolic::ULine;
    case Intrinsic::usymfileline:
      return Symbolic::UFileLine;
    case Intrinsic::umodname:
      return Symbolic::UModule;
    case Intrinsic::usymstack:
      return Symbolic::USyms;
    case Intrinsic::usymtrace:
      return Symbolic::UFull;
    case Intrinsic::usymtrace_simple:
      return Symbolic::USimple;
    case Intrinsic::usymtrace_brief:
      return Symbolic::UBrief;
    case Intrinsic::usymtrace_fileline:
      return Symbolic::UFuller;
    default:
      return Symbolic::None;
  }
}

ast::Call* Lowering::SymbolicTail(ast::Expr* arg) {
  auto symbolic = [](ast::Call* k) {
    return k && !IsPrintFamily(k) && k->callee->intrinsic >= 0 &&
           SymbolicMode(static_cast<Intrinsic>(k->callee->intrinsic)) != Symbolic::None;
  };
  auto* call = ast::As<ast::Call>(arg);
  if (!call || IsPrintFamily(call)) return nullptr;
  if (symbolic(call)) return call;
  const sema::Function* f = call->callee;
  if (f->intrinsic >= 0 || !f->decl || !f->decl->body || f->decl->body->statements.size() != 1)
    return nullptr;
  auto* ret = ast::As<ast::Return>(f->decl->body->statements[0]);
  auto* inner = ret ? ast::As<ast::Call>(ret->value) : nullptr;
  return symbolic(inner) ? inner : nullptr;
}

Value Lowering::PrintArg(ast::Expr* arg, bool symbolic_ok, Symbolic* mode) {
  *mode = Symbolic::None;
  ast::Call* inner = symbolic_ok ? SymbolicTail(arg) : nullptr;
  if (inner) {
    *mode = SymbolicMode(static_cast<Intrinsic>(inner->callee->intrinsic));
    if (inner == arg) {
      symbolic_tail_ = inner;
    } else {
      pending_tail_ = ast::As<ast::Call>(arg);
      pending_inner_ = inner;
    }
  }
  Value v = Expr(arg);
  symbolic_tail_ = pending_tail_ = pending_inner_ = nullptr;
  return v;
}

// Writes `{mode}` into the `%s` directives whose arguments are symbolic, and a
// `%{task}d` before each user-symbolic one; `task_args` gets the argument index where
// each `%{task}d`'s process must be inserted, in increasing order.
std::string Lowering::MarkSymbolic(const std::string& format, const std::vector<Symbolic>& modes,
                                   std::vector<size_t>* task_args) {
  if (std::all_of(modes.begin(), modes.end(), [](Symbolic m) { return m == Symbolic::None; }))
    return format;
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!ParseFormat(format, directives, &error, &offset, /*internal=*/true)) return format;
  std::vector<std::pair<size_t, std::string>> inserts;  // text to insert at these offsets
  size_t next = 0;
  for (const FormatDirective& d : directives) {
    if (d.literal || d.group != FormatDirective::Group::None) continue;
    size_t first = next;
    if (d.width == -2) ++next;
    if (d.precision == -2) ++next;
    size_t i = next++;
    if (i >= modes.size() || modes[i] == Symbolic::None || d.conversion != 's') continue;
    size_t at = static_cast<size_t>(d.text.data() - format.data());
    if (UserSymbolic(modes[i])) {
      inserts.push_back({at, "%{task}d"});
      task_args->push_back(first);
    }
    inserts.push_back({at + d.text.size() - 1, "{" + SymbolicName(modes[i]) + "}"});
  }
  // From the end, so that the earlier offsets stay valid.
  std::string out = format;
  for (auto it = inserts.rbegin(); it != inserts.rend(); ++it) out.insert(it->first, it->second);
  return out;
}

// The process whose user addresses a record's `%{task}d` names: none in the runtime's
// own probes.
Value Lowering::SymbolTask() {
  if (frame_->user_side) return b_.getInt64(0);
  return b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32);
}

// Tells the runtime, once per change of process on the last probe that kept user
// addresses, which process they belong to: it reads that process's mappings while the
// process still runs, since the text is made only where the value is printed.
void Lowering::NoteSymbolProcess(Value pid) {
  llvm::GlobalVariable* last = RuntimeVar("__btap_symbol_process");
  auto* note = llvm::BasicBlock::Create(context_, "note_symbol_process", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "symbol_process_noted", frame_->fn);
  b_.CreateCondBr(b_.CreateICmpNE(b_.CreateLoad(i64_, last), pid), note, done);
  b_.SetInsertPoint(note);
  b_.CreateStore(pid, last);
  Record(record::Kind::SymbolProcess, 0, {pid});
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
}

Value Lowering::StackCall(Intrinsic which, ast::Call* c) {
  bool user = which == Intrinsic::ubacktrace || which == Intrinsic::ubacktrace_n ||
              which == Intrinsic::ustack;
  Value depth = which == Intrinsic::stack || which == Intrinsic::ustack ? Arg(c, 0) : nullptr;
  // The runtime's own probes (begin, end) interrupt no code: no stack.
  bool text = which != Intrinsic::stack && which != Intrinsic::ustack;
  if (frame_->user_side || !frame_->ctx) return text ? Literal("") : b_.getInt64(0);
  Value frames = ScratchAt(TempBytes(256));
  // A syscalls:* point run on raw_syscalls: its kernel stack leaves out the program's own
  // frames (stack.c) and starts in the kernel's tracepoint frames (bpf_trace_run2).
  bool skip_program = !user && frame_->probe && frame_->probe->spec.raw_syscall;
  Value flags = b_.getInt64(user ? kUserStack : skip_program ? kSkipBpfFrames : 0);
  if (which == Intrinsic::backtrace || which == Intrinsic::ubacktrace)
    return StringFrom("btap_backtrace", {frame_->ctx, frames, b_.getInt64(-1), flags});
  if (text) return StringFrom("btap_backtrace", {frame_->ctx, frames, Arg(c, 0), flags});
  return Library("btap_stack_at", i64_, {frame_->ctx, frames, depth, flags});
}

Value Lowering::SymbolCall(Intrinsic which, ast::Call* c) {
  bool tail = c == symbolic_tail_;
  symbolic_tail_ = nullptr;
  // As a value in the kernel, symname() and symdata() are the kernel's own `%ps` and
  // `%pS` (bpf_snprintf, from kallsyms): "name" (the module the kernel adds dropped) and
  // "name+0xoff/0xsize [module]" (" [kernel]" added for vmlinux), as stap's, and the
  // address in hex where no symbol holds it. caller() is the name, " 0x" and the address.
  if (!tail && !frame_->user_side &&
      (which == Intrinsic::symname || which == Intrinsic::symdata ||
       which == Intrinsic::symcaller)) {
    Value address = Arg(c, 0);
    if (!address) return nullptr;
    Value text = StringSlot(), data = ScratchAt(TempBytes(8));
    b_.CreateStore(address, data);
    b_.CreateStore(b_.getInt8(0), text);
    Value n = Helper(kSnprintf, i64_,
                     {text, b_.getInt32(limit_),
                      Literal(which == Intrinsic::symdata ? "%pS" : "%ps"), data, b_.getInt32(8)});
    if (which == Intrinsic::symdata) {
      Library("btap_mark_vmlinux", i64_, {text, n, b_.getInt64(slot_), b_.getInt64(limit_)});
      return text;
    }
    Value length =
        Library("btap_drop_module", i64_, {text, n, b_.getInt64(slot_), b_.getInt64(limit_)});
    if (which == Intrinsic::symcaller) {
      Value hex = StringSlot();
      b_.CreateStore(b_.getInt8(0), hex);
      Helper(kSnprintf, i64_, {hex, b_.getInt32(limit_), Literal(" 0x%lx"), data, b_.getInt32(8)});
      Library("btap_put_str", i64_,
              {text, length, hex, b_.getInt64(0), b_.getInt64(-1), b_.getInt64(0),
               b_.getInt64(slot_), b_.getInt64(limit_)});
    }
    return text;
  }
  // modname() as a value in the kernel: the module `%pS` names (stap's, by name, so that
  // it groups as stap's does as an array key).
  if (!tail && !frame_->user_side && which == Intrinsic::modname) {
    Value address = Arg(c, 0);
    if (!address) return nullptr;
    Value text = StringSlot(), data = ScratchAt(TempBytes(8)), name = StringSlot();
    b_.CreateStore(address, data);
    b_.CreateStore(b_.getInt8(0), text);
    Value n =
        Helper(kSnprintf, i64_, {text, b_.getInt32(limit_), Literal("%pS"), data, b_.getInt32(8)});
    Library("btap_module_name", i64_, {name, text, n, b_.getInt64(slot_), b_.getInt64(limit_)});
    return name;
  }
  // The addresses, as hex text.
  Value text = nullptr;
  if (sema::Intrinsics()[static_cast<size_t>(which)].params == "L") {
    Value address = Arg(c, 0);
    text = StringSlot();
    if (frame_->user_side) {  // the interpreter has the formatter, not the library's tables
      Value size = BuildRecord(record::Kind::Printf, FormatId("%#x"), {address});
      Helper(user_helper::kSprintf, i64_,
             {text, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
    } else {
      Library("btap_put_num", i64_,
              {text, b_.getInt64(0), address, b_.getInt64('x'), b_.getInt64('#'), b_.getInt64(-1),
               b_.getInt64(-1), b_.getInt64(slot_), b_.getInt64(limit_)});
    }
  } else {
    text = Arg(c, 0);
  }
  if (tail) return text;
  // Kept as a value in a kernel probe: tagged addresses, which the runtime expands where
  // it prints the string.
  if (!frame_->user_side) {
    Value pid = SymbolTask();
    if (UserSymbolic(SymbolicMode(which))) NoteSymbolProcess(pid);
    Value tag = StringFrom("btap_symbol_tag",
                           {b_.getInt64(static_cast<int64_t>(SymbolicMode(which))), pid, text});
    tag_values_.insert(tag);
    symbol_tags_ = true;
    return tag;
  }
  // A user-side probe: the runtime makes the text now.
  Symbolic mode = SymbolicMode(which);
  std::string format = "%{" + SymbolicName(mode) + "}s";
  std::vector<Value> args = {text};
  if (UserSymbolic(mode)) {
    format = "%{task}d" + format;
    args.insert(args.begin(), SymbolTask());
  }
  Value size = BuildRecord(record::Kind::Printf, FormatId(format), args);
  Value slot = StringSlot();
  Helper(user_helper::kSprintf, i64_, {slot, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
  return slot;
}

}  // namespace btap::codegen::lowering
