// @entry values in return probes: a body on the call's entry (a sys_enter body, a uprobe
// or a kprobe on the function's entry) saves them, keyed by probe, nesting depth and
// thread; the return body takes them back.
#include "codegen/lowering.h"
#include "semantic/target_vars.h"

namespace btap::codegen::lowering {

// @entry(expr) in return probes (syscalls, user and kernel functions, whose parameters
// are @entry values implicitly): a body on the call's entry (a sys_enter body, or a uprobe at
// the function's entry-probe address) evaluates each expression and keeps the values in
// an LRU map; the return body takes them (zeros when the entry was not seen, as for a
// call in flight when the script started). One map holds them for every probe, keyed by
// (probe, nesting depth, thread), so a recursive function's returns get their own.
Lowering::EntryValues Lowering::EntryLayout(const sema::Probe& p) {
  EntryValues out;
  if (!ReturnsWithEntry(p)) return out;
  // Not in what a settled `@defined` rules out (`@defined(@entry($a)) ? @entry($a) :
  // @entry($b->c)`): that is never compiled, and its operands need not exist. Branches
  // are decided as the return body decides them (FoldedCondition, which reads the probe
  // from the frame: the layout is made apart from the body's own).
  Frame deciding;
  deciding.probe = &p;
  Frame* outer = frame_;
  frame_ = &deciding;
  std::function<void(ast::Node*)> walk = [&](ast::Node* n) {
    if (!n || ast::Is<ast::Defined>(n)) return;  // `@defined(@entry($x))` reads nothing
    auto branches = [&](ast::Expr* cond, ast::Node* then, ast::Node* otherwise) {
      walk(cond);
      std::optional<bool> settled = FoldedCondition(cond, then, otherwise);
      if (!settled || *settled) walk(then);
      if (!settled || !*settled) walk(otherwise);
    };
    if (auto* t = ast::As<ast::Ternary>(n)) return branches(t->cond, t->then, t->otherwise);
    if (auto* i = ast::As<ast::If>(n)) return branches(i->cond, i->then, i->otherwise);
    // `@defined(@entry($x)) && @entry($x)`: the right side is never compiled when the left
    // decides.
    if (auto* x = ast::As<ast::Logical>(n)) {
      walk(x->lhs);
      std::optional<bool> settled = FoldedCondition(x->lhs, x->rhs, nullptr);
      if (!settled || *settled == (x->op == Tok::AndAnd)) walk(x->rhs);
      return;
    }
    if (auto* e = ast::As<ast::Entry>(n); e && !out.offsets.count(e)) {
      out.offsets[e] = out.size;
      out.order.push_back(e);
      out.size += e->operand->type == Type::String ? slot_ : 8;
    }
    ast::ForEachChild(n, walk);
  };
  walk(p.body);
  frame_ = outer;
  if (!out.order.empty()) out.size += 8;  // the stack pointer of the call that saved them
  return out;
}

// Depth kDepthSlot holds the thread's counter record: (depth, stack pointer of the top
// call).
constexpr int64_t kDepthSlot = 0xffff;

Value Lowering::EntryKey(const sema::Probe& p, Value tid, Value depth) {
  Value key = Alloca(i64_);
  Value k = b_.CreateOr(tid, b_.CreateShl(depth, 32));
  b_.CreateStore(b_.CreateOr(k, b_.getInt64(static_cast<int64_t>(p.order) << 48)), key);
  return key;
}

// Return probes whose @entry values a body on the call's entry keeps.
bool Lowering::ReturnsWithEntry(const sema::Probe& p) const {
  bool family = p.spec.family == sema::Family::Syscall || sema::IsKernelFunction(p.spec.family) ||
                UserProbe(&p);
  return family && p.spec.is_return;
}

Lowering::EntryValues Lowering::SaveEntryValues(const sema::Probe& p) {
  EntryValues out = EntryLayout(p);
  if (out.offsets.empty()) return out;
  if (!entry_map_) {
    uint32_t largest = 0;
    for (const sema::Probe* q : program_.probes) largest = std::max(largest, EntryLayout(*q).size);
    entry_map_ = maps_.Define({"btap_entry", kMapLruHash, 16384, 8, largest});
    entry_size_ = largest;
  }
  out.map = entry_map_;
  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
  bool user = UserProbe(&p);
  bool kernel_function = sema::IsKernelFunction(p.spec.family);
  std::string name = UniqueName("entry_" + std::to_string(p.order));
  auto* fn = llvm::Function::Create(type,
                                    user || kernel_function ? llvm::GlobalValue::ExternalLinkage
                                                            : llvm::GlobalValue::InternalLinkage,
                                    name, module_);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  unsigned line = p.decl ? sm_.file(p.decl->range.file).Locate(p.decl->range.begin).line : 1;
  b_.SetCurrentDebugLocation(maps_.Describe(*fn, line, FileFor(p.file)));
  Frame frame;
  llvm::Instruction* has_scratch = StartFrame(frame, fn, &p, false);
  frame.at_entry = true;
  Scope scope;
  frame.scopes.push_back(&scope);
  for (const sema::Variable* v : p.locals) DeclareLocal(scope, v);
  UserProbeFilter(p);
  // The level first, so that an operand that faults cannot unbalance the depth. The
  // thread's counter record holds (depth, stack pointer of the top call). The top call's
  // own frame passing the probe address again (a loop at the top of its body) is not a
  // new call: its values are those of the first pass.
  Value values = ScratchAt(TempBytes(entry_size_));  // the map's value size
  Value sp = b_.getInt64(0);
  if (user || kernel_function) sp = PtRegsAt(152);
  Value tid = EntryThread();
  Value depth_key = EntryKey(p, tid, b_.getInt64(kDepthSlot));
  Value counter = Helper(kMapLookup, ptr_, {out.map, depth_key});
  Value found = b_.CreateIsNotNull(counter);
  Value depth = b_.CreateSelect(found, b_.CreateLoad(i64_, counter), b_.getInt64(0));
  Value top_sp = b_.CreateSelect(
      found, b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, counter, 1)), b_.getInt64(0));
  Value again = b_.CreateAnd(b_.CreateICmpSGT(depth, b_.getInt64(0)), b_.CreateICmpEQ(top_sp, sp));
  // At -O0 a uprobe after the prologue can sit on a loop head that one call passes many
  // times; a kprobe fires once per call, so there the same stack pointer is a new call.
  if (user) Continue(b_.CreateNot(again), "first_pass");
  Value level = depth;
  Continue(b_.CreateICmpULT(level, b_.getInt64(kDepthSlot - 1)), "depth");
  b_.CreateStore(b_.CreateAdd(level, b_.getInt64(1)), values);
  b_.CreateStore(sp, b_.CreateConstGEP1_64(i64_, values, 1));
  Helper(kMapUpdate, i64_, {out.map, depth_key, values, b_.getInt64(kAny)});
  for (const ast::Entry* e : out.order) {  // in the script's order, deterministic
    Value v = Expr(e->operand);
    if (!v) continue;
    Value at = b_.CreateConstGEP1_64(b_.getInt8Ty(), values, out.offsets.at(e));
    if (e->operand->type == Type::String)
      CopyString(at, v);
    else
      b_.CreateStore(v, at);
  }
  b_.CreateStore(sp, b_.CreateConstGEP1_64(b_.getInt8Ty(), values, out.size - 8));
  Helper(kMapUpdate, i64_, {out.map, EntryKey(p, tid, level), values, b_.getInt64(kAny)});
  FinishFrame(frame, has_scratch);
  if (kernel_function) {
    // A kprobe on the function's entry: its parameters are in place.
    fn->setSection("kprobe");
    // Attached after the return probe (LowerProbe pushes it after its own), so that a
    // call in flight at attach time leaves no saved values behind.
    meta::Probe mp;
    mp.program = name;
    std::string point = p.spec.point;
    if (point.ends_with(".return")) point.resize(point.size() - 7);
    mp.point = point + " (@entry values)";
    mp.family = static_cast<uint8_t>(meta::ProbeKind::Kprobe);
    mp.target = p.spec.target;
    mp.numbers[0] = p.spec.numbers[0];  // a wildcard's: skipped where the kernel lacks it
    pending_entry_probe_ = std::move(mp);
    return out;
  }
  if (!user) {
    syscall_bodies_[0].push_back({fn, p.spec.numbers[0], false, "", {}});
    return out;
  }
  // A uprobe where the function's entry probe would sit: its parameters are in place.
  fn->setSection("uprobe");
  meta::Probe mp;
  mp.program = name;
  mp.point = p.spec.point + " (@entry values)";
  mp.family = static_cast<uint8_t>(meta::ProbeKind::Uprobe);
  mp.target = p.spec.target;
  mp.build_id = p.spec.build_id;
  mp.numbers[0] = static_cast<int64_t>(p.spec.call_offset);
  mp.numbers[2] = p.spec.numbers[2];
  mp.may_sleep = frame.sleeps;
  meta_.probes.push_back(std::move(mp));
  return out;
}

void Lowering::LoadEntryValues(const EntryValues& entries) {
  Value values = ScratchAt(TempBytes(entries.size));
  for (uint32_t at = 0; at < entries.size; at += 8)
    b_.CreateStore(b_.getInt64(0), b_.CreateConstGEP1_64(b_.getInt8Ty(), values, at));
  const sema::Probe& p = *frame_->probe;
  Value tid = EntryThread();
  Value depth_key = EntryKey(p, tid, b_.getInt64(kDepthSlot));
  Value counter = Helper(kMapLookup, ptr_, {entries.map, depth_key});
  auto* nested = llvm::BasicBlock::Create(context_, "entry_nested", frame_->fn);
  auto* found = llvm::BasicBlock::Create(context_, "entry_saved", frame_->fn);
  auto* after = llvm::BasicBlock::Create(context_, "entry_loaded", frame_->fn);
  b_.CreateCondBr(b_.CreateIsNotNull(counter), nested, after);
  b_.SetInsertPoint(nested);
  Value depth = b_.CreateLoad(i64_, counter);
  Value inside = b_.CreateICmpSGT(depth, b_.getInt64(0));
  Value below = b_.CreateSelect(inside, b_.CreateSub(depth, b_.getInt64(1)), b_.getInt64(0));
  b_.CreateStore(below, counter);
  // The new top call's stack pointer, for its own re-saves (uprobes and kernel functions:
  // system calls do not nest); no calls left: no counter.
  if (UserProbe(&p) || sema::IsKernelFunction(p.spec.family)) {
    Value outer = Helper(kMapLookup, ptr_,
                         {entries.map, EntryKey(p, tid, b_.CreateSub(below, b_.getInt64(1)))});
    Value outer_sp = b_.CreateSelect(
        b_.CreateIsNotNull(outer),
        b_.CreateLoad(i64_, b_.CreateConstGEP1_64(b_.getInt8Ty(), outer, entries.size - 8)),
        b_.getInt64(0));
    b_.CreateStore(outer_sp, b_.CreateConstGEP1_64(i64_, counter, 1));
  }
  Value key = EntryKey(p, tid, below);
  Value saved = Helper(kMapLookup, ptr_, {entries.map, key});
  auto* forget = llvm::BasicBlock::Create(context_, "entry_forget", frame_->fn);
  auto* load = llvm::BasicBlock::Create(context_, "entry_load", frame_->fn);
  b_.CreateCondBr(b_.CreateICmpEQ(below, b_.getInt64(0)), forget, load);
  b_.SetInsertPoint(forget);
  Helper(kMapDelete, i64_, {entries.map, depth_key});
  b_.CreateBr(load);
  b_.SetInsertPoint(load);
  b_.CreateCondBr(b_.CreateAnd(inside, b_.CreateIsNotNull(saved)), found, after);
  b_.SetInsertPoint(found);
  Helper(kProbeReadKernel, i64_, {values, b_.getInt32(entries.size), saved});
  Helper(kMapDelete, i64_, {entries.map, key});
  b_.CreateBr(after);
  b_.SetInsertPoint(after);
  frame_->entry_values = values;
  frame_->entry_offsets = &entries.offsets;
}

// The thread an @entry value belongs to: its id, or for the idle tasks (all of them id 0,
// where softirqs run) the CPU.
Value Lowering::EntryThread() {
  Value tid = b_.CreateAnd(Helper(kCurrentPidTgid, i64_, {}), b_.getInt64(0xffffffff));
  if (!frame_->probe || !sema::IsKernelFunction(frame_->probe->spec.family)) return tid;
  Value cpu = b_.CreateZExt(Helper(kSmpProcessorId, b_.getInt32Ty(), {}), i64_);
  return b_.CreateSelect(b_.CreateICmpEQ(tid, b_.getInt64(0)),
                         b_.CreateOr(cpu, b_.getInt64(0x80000000)), tid);
}

}  // namespace btap::codegen::lowering
