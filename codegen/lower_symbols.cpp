// Lowering code addresses and stacks: backtrace() and stack() capture the kernel stack
// in the probe; symname(), symdata(), caller() and the stack printers leave the symbols
// to the runtime, which reads /proc/kallsyms (see lowering.h's SymbolicTail), except
// symname() and symdata() as values in kernel probes, which the kernel formats.
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

// Writes `{mode}` into the `%s` directives whose arguments are symbolic.
std::string Lowering::MarkSymbolic(const std::string& format, const std::vector<Symbolic>& modes) {
  if (std::all_of(modes.begin(), modes.end(), [](Symbolic m) { return m == Symbolic::None; }))
    return format;
  std::vector<FormatDirective> directives;
  std::string error;
  size_t offset = 0;
  if (!ParseFormat(format, directives, &error, &offset, /*internal=*/true)) return format;
  std::vector<std::pair<size_t, Symbolic>> inserts;  // before the `s` of these directives
  size_t next = 0;
  for (const FormatDirective& d : directives) {
    if (d.literal || d.group != FormatDirective::Group::None) continue;
    if (d.width == -2) ++next;
    if (d.precision == -2) ++next;
    size_t i = next++;
    if (i < modes.size() && modes[i] != Symbolic::None && d.conversion == 's')
      inserts.push_back(
          {static_cast<size_t>(d.text.data() - format.data()) + d.text.size() - 1, modes[i]});
  }
  // From the end, so that the earlier offsets stay valid.
  std::string out = format;
  for (auto it = inserts.rbegin(); it != inserts.rend(); ++it)
    out.insert(it->first, "{" + std::string(SymbolicName(it->second)) + "}");
  return out;
}

Value Lowering::StackCall(Intrinsic which, ast::Call* c) {
  Value depth = which == Intrinsic::stack ? Arg(c, 0) : nullptr;
  // The runtime's own probes (begin, end) interrupt no kernel code: no stack.
  bool text = which == Intrinsic::backtrace || which == Intrinsic::backtrace_n;
  if (frame_->user_side || !frame_->ctx) return text ? Literal("") : b_.getInt64(0);
  Value frames = ScratchAt(TempBytes(256));
  if (which == Intrinsic::backtrace)
    return StringFrom("btap_backtrace", {frame_->ctx, frames, b_.getInt64(-1)});
  if (which == Intrinsic::backtrace_n)
    return StringFrom("btap_backtrace", {frame_->ctx, frames, Arg(c, 0)});
  return Library("btap_stack_at", i64_, {frame_->ctx, frames, depth});
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
  if (!tail && !frame_->user_side) {
    // Located at the call of the tapset function (the notes name the calls around it).
    SourceRange at = c->range;
    std::vector<SourceRange> calls = frame_->calls;
    if (!frame_->calls.empty()) {
      at = frame_->calls.back();
      frame_->calls.pop_back();
    }
    Unsupported(at, "`" + Text(at) + "` other than as a print argument",
                "; its text is made from /proc/kallsyms in user space, so a kernel-side probe "
                "can only print it (an argument of print, println, printf, printd or printdln)");
    frame_->calls = std::move(calls);
    return nullptr;
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
  // A user-side probe: the runtime makes the text now.
  std::string format = "%{" + std::string(SymbolicName(SymbolicMode(which))) + "}s";
  Value size = BuildRecord(record::Kind::Printf, FormatId(format), {text});
  Value slot = StringSlot();
  Helper(user_helper::kSprintf, i64_, {slot, b_.getInt64(limit_), ScratchAt(uint32_t{0}), size});
  return slot;
}

}  // namespace btap::codegen::lowering
