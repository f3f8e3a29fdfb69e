// while and for in a kernel handler: a bpf_loop whose callback runs one round (the
// condition, the body, the step). As a plain loop, Linux 6.1's verifier walks every round
// up to MAXACTION and keeps, for each, the other side of every branch in the body still to
// check: a body of a few reads (with their error paths) or a string loop passes its 8,192
// pending branches (`the sequence of N jumps is too complex`: container_check.stp,
// traceaio.stp, tcpipstat.stp). The callback is checked once. The handler's locals are in its
// scratch space (Frame::locals_in_scratch), where the callback reaches them as a foreach body does.
// A handler without a kernel loop or foreach keeps its locals on the stack. A loop inside a
// callback is a callback too, inside it (2048.stp: display()'s loops in next_move()'s).
#include <algorithm>
#include <iterator>
#include <optional>

#include "codegen/lowering.h"

namespace btap::codegen::lowering {

namespace {
constexpr uint32_t kMaxLoopRounds = 1u << 23;  // bpf_loop's bound
constexpr int kMaxCallbackLevels = 4;          // callbacks inside callbacks, the handler 0

// The intrinsics that read the probe's context.
constexpr Intrinsic kContextReads[] = {
    Intrinsic::probe_register, Intrinsic::probe_arg,   Intrinsic::probe_addr, Intrinsic::user_mode,
    Intrinsic::backtrace,      Intrinsic::backtrace_n, Intrinsic::stack,      Intrinsic::ubacktrace,
    Intrinsic::ubacktrace_n,   Intrinsic::ustack};
// A `for` that counts a local from a number to a number (`for (i = 0; i < 16; i++)`): the
// local on the handler's stack, the verifier knows each round's value and walks only those
// rounds, so such a loop does not make its handler keep its locals in scratch (a
// callback's frame would add to the handler's, which may not fit in 512 bytes). In a
// handler that keeps them there anyway, or in a callback, it is a callback too.
bool CountedLoop(const ast::Expr* init, const ast::Expr* cond) {
  auto* set = ast::As<ast::Assign>(init);
  auto* var = set ? ast::As<ast::Symbol>(set->lhs) : nullptr;
  if (!var || !var->var || var->var->kind != sema::VarKind::Local || set->op != Tok::Assign ||
      !ast::Is<ast::NumberLit>(set->rhs))
    return false;
  auto same = [&](const ast::Expr* e) {
    auto* s = ast::As<ast::Symbol>(e);
    return s && s->var == var->var;
  };
  // The local against a number, or that as any part of `&&` (`i < n && i < 5`: the number
  // alone bounds the rounds).
  auto bounds = [&](auto& self, const ast::Expr* e) -> bool {
    if (auto* both = ast::As<ast::Logical>(e))
      return both->op == Tok::AndAnd && (self(self, both->lhs) || self(self, both->rhs));
    auto* test = ast::As<ast::Comparison>(e);
    return test && ((same(test->lhs) && ast::Is<ast::NumberLit>(test->rhs)) ||
                    (same(test->rhs) && ast::Is<ast::NumberLit>(test->lhs)));
  };
  return bounds(bounds, cond);
}

// Whether a loop's rounds call a function of the script or hold another loop (themselves
// or in the library functions they call). Walked plain, each such round repeats every
// branch of what it calls: 2048.stp's key handler inlines a dozen counted loops of calls
// (up() to display()'s 3 x 4 rounds of color() and printf), and Linux 6.1 passed its 8,192
// pending jumps. Such a counted loop is a callback too. A library function that only wraps
// a builtin (strtol) does not make rounds busy: outside a callback the verifier keeps
// seeing the builtin's constant arguments (strtol's digit loop, a bpf_loop of its own in
// the kernel, is bounded either way).
bool BusyRounds(ast::Node* body, int depth = 0) {
  bool busy = false;
  ast::WalkTree(body, [&](ast::Node* n) {
    if (busy || !n) return;
    if (ast::Is<ast::While>(n) || ast::Is<ast::For>(n) || ast::Is<ast::Foreach>(n)) busy = true;
    auto* c = ast::As<ast::Call>(n);
    if (c && c->callee && c->callee->intrinsic < 0 && c->callee->decl && c->callee->decl->body &&
        (!c->callee->from_tapset || (depth < 8 && BusyRounds(c->callee->decl->body, depth + 1))))
      busy = true;
  });
  return busy;
}
}  // namespace

// Whether `root` (and the script functions it calls) reads the probe's context, which a
// callback does not have: target variables, @entry, registers, @uderef/@kderef and @var
// (ReadsThroughContext), arguments by number, stacks and embedded C (its CONTEXT). Each
// function's body is walked once (reads_context_).
bool Lowering::ReadsProbeContext(ast::Node* root, int depth) {
  bool found = false;
  ast::WalkTree(root, [&](ast::Node* n) {
    if (found || !n) return;
    if (ReadsThroughContext(n)) {
      found = true;
      return;
    }
    auto* c = ast::As<ast::Call>(n);
    const sema::Function* f = c ? c->callee : nullptr;
    if (!f) return;
    if (f->intrinsic >= 0 &&
        std::ranges::find(kContextReads, static_cast<Intrinsic>(f->intrinsic)) !=
            std::end(kContextReads)) {
      found = true;
      return;
    }
    if (f->decl && f->decl->has_embedded) found = true;
    if (found || !f->decl || !f->decl->body || depth >= 64) return;
    auto [it, fresh] = reads_context_.try_emplace(f->decl->body, false);
    if (fresh) it->second = ReadsProbeContext(f->decl->body, depth + 1);
    found = it->second;
  });
  return found;
}

bool Lowering::LoopAsCallback(ast::Node* loop, bool counted_too) {
  if (options_.max_action >= kMaxLoopRounds) return false;
  if (std::ranges::any_of(options_.plain_loops, [&](const SourceRange& r) {
        return r.file == loop->range.file && r.begin == loop->range.begin;
      }))
    return false;
  auto reads = [&](ast::Node* n) { return !contextless_handler_ && ReadsProbeContext(n, 0); };
  if (auto* w = ast::As<ast::While>(loop)) return !reads(w->cond) && !reads(w->body);
  auto* f = ast::As<ast::For>(loop);
  return f && (counted_too || !CountedLoop(f->init, f->cond) || BusyRounds(f->body)) &&
         !reads(f->cond) && !reads(f->step) && !reads(f->body);
}

std::string Lowering::LoopKeyword(const ast::Node* loop) const {
  std::string_view word = ast::Is<ast::For>(loop) ? "for" : "while";
  return Near("keyword", word,
              {loop->range.file, loop->range.begin,
               loop->range.begin + static_cast<uint32_t>(word.size())});
}

bool Lowering::KernelLoop(ast::Node* loop, ast::Expr* cond, ast::Expr* step, ast::Stmt* body) {
  enum : int64_t { kGoOn = 0, kLeave = 2, kReturn = 3, kCaught = 4 };
  Frame& parent = *frame_;
  // A loop inside a callback (another loop's round, a foreach body) is one too, down to
  // kMaxCallbackLevels of them: each level is a frame of the verifier's eight (the
  // library's own callbacks and global functions below them take up to three more). Each
  // level's frame adds to the 512-byte chain; where the chain does not fit, Compile lowers
  // its innermost loop callback plain and tries again.
  if (parent.callback_level >= kMaxCallbackLevels) return false;
  // A counted loop too: its local is in scratch here, where the verifier does not know
  // its value, and would walk the loop plain to MAXACTION rounds.
  if (parent.user_side || !parent.locals_in_scratch || !LoopAsCallback(loop, true)) return false;
  // Inside `try`, an error in a round ends the loop and runs the catch block, whose
  // variable (a string slot in scratch) the round writes the message to.
  const Handler* enclosing = parent.handlers.empty() ? nullptr : &parent.handlers.back();
  std::optional<uint32_t> message_at;
  if (enclosing && enclosing->message) {
    auto it = parent.scratch_offsets.find(enclosing->message);
    if (it == parent.scratch_offsets.end()) return false;
    message_at = it->second;
  }
  Scope& outer = Top();
  SourceRange at = body ? body->range : SourceRange{};
  uint32_t flag_at = TempBytes(8);
  b_.CreateStore(b_.getInt64(kGoOn), ScratchAt(flag_at));

  Frame frame;
  MapCallback c = BeginMapCallback("loop_round", at, frame, true);
  llvm::Function* fn = c.fn;
  Scope scope;
  ShareHandlerScope(parent, outer, frame, scope, flag_at, kReturn, kLeave);
  if (enclosing) {
    auto* caught = llvm::BasicBlock::Create(context_, "caught", fn);
    llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
    b_.SetInsertPoint(caught);
    b_.CreateStore(b_.getInt64(kCaught), ScratchAt(flag_at));
    b_.CreateRet(b_.getInt64(1));
    b_.restoreIP(here);
    frame.handlers.push_back({caught, message_at ? ScratchAt(*message_at) : nullptr});
  }
  // Round `index` tests the condition for the (index + 1)th time: past MAXACTION tests is
  // stap's error, as in the plain loop.
  Check(b_.CreateICmpULT(fn->getArg(0), b_.getInt64(options_.max_action)),
        "MAXACTION exceeded" + LoopKeyword(loop));
  auto* inside = llvm::BasicBlock::Create(context_, "body", fn);
  auto* step_block = llvm::BasicBlock::Create(context_, "step", fn);
  {
    TempMark mark = Temps();
    if (cond)
      b_.CreateCondBr(Truth(Expr(cond)), inside, c.stop);
    else
      b_.CreateBr(inside);
    Release(mark);
  }
  b_.SetInsertPoint(inside);
  scope.loops.push_back({step_block, c.stop});
  Stmt(body);
  scope.loops.pop_back();
  b_.CreateBr(step_block);
  b_.SetInsertPoint(step_block);
  if (step) {
    TempMark mark = Temps();
    Expr(step);
    Release(mark);
  }
  b_.CreateBr(c.next);
  EndMapCallback(c, frame);
  loop_callbacks_.push_back(
      {fn->getName().str(), HandlerOf(parent).fn->getName().str(), loop->range});

  Helper(kLoop, i64_,
         {b_.getInt64(options_.max_action + 1), fn, llvm::ConstantPointerNull::get(ptr_),
          b_.getInt64(0)});
  Value flag = b_.CreateLoad(i64_, ScratchAt(flag_at));
  auto* go_on = llvm::BasicBlock::Create(context_, "endloop", parent.fn);
  llvm::SwitchInst* how = b_.CreateSwitch(flag, go_on);
  how->addCase(b_.getInt64(kLeave), parent.exit);
  if (outer.function) how->addCase(b_.getInt64(kReturn), outer.return_block);
  if (enclosing) how->addCase(b_.getInt64(kCaught), enclosing->handler);
  b_.SetInsertPoint(go_on);
  return true;
}

}  // namespace btap::codegen::lowering
