// DW_OP_entry_value read away from a kernel function's entry (as stap reads it): a kprobe on
// the function's entry saves the registers, keyed by the call's frame address and the
// function, and again as the thread's latest call; a probe inside the function reads them
// back under the frame address its own call frame information gives there.
#include "codegen/lowering.h"
#include "frontend/ast_walk.h"

#include <sstream>

namespace btap::codegen::lowering {

namespace {

// Kernel stacks (x86-64: 16 KiB, as aligned) and interrupt stacks: frames on one have the
// bits above these in common.
constexpr int64_t kStackShift = 14;
constexpr int kEntryRegs = 17;  // DWARF's rax..r15 and the return address; then the frame

// The functions whose entry registers the probe reads (by link-time entry address), in
// address order: deterministic. They are in the values of the DWARF variables it names.
std::set<uint64_t> EntryFunctions(const sema::Probe& p) {
  std::set<std::string_view> named;
  for (ast::Node* root : {static_cast<ast::Node*>(p.body), static_cast<ast::Node*>(p.condition)})
    ast::WalkTree(root, [&](ast::Node* n) {
      if (auto* t = ast::As<ast::TargetSymbol>(n))
        named.insert(t->name.substr(t->name.starts_with("$") ? 1 : 0));
    });
  std::set<uint64_t> out;
  for (const sema::TargetArg& a : p.spec.args)
    if (a.source == sema::TargetArg::Source::Dwarf && a.value && named.count(a.name))
      ast::WalkTree(a.value, [&](ast::Node* n) {
        if (auto* r = ast::As<ast::Register>(n); r && r->entry_function)
          out.insert(r->entry_function);
      });
  return out;
}

}  // namespace

// The keys both sides build: the call's frame address (CFA: at the entry, the stack pointer
// plus the 8 bytes of the return address), or the thread (its latest call), then the
// function. A recursive call has a frame of its own, so each call finds its own values.
// The thread's latest call serves where the body runs in another frame than the entry
// saw: a BPF trampoline (fexit) on the function calls it again from its own frame; there
// the values are those of the thread's latest call, as stap's, which keeps one per thread.
Value Lowering::EntryRegsKey(Value where, uint64_t function) {
  Value key = Alloca(llvm::ArrayType::get(i64_, 2));
  b_.CreateStore(where, key);
  b_.CreateStore(b_.getInt64(static_cast<int64_t>(function)), b_.CreateConstGEP1_64(i64_, key, 1));
  return key;
}

// Before the probe's own program: one kprobe per function entry that the probe's values
// need (shared by every probe of the script that needs the same).
void Lowering::SaveEntryRegisters(const sema::Probe& p) {
  std::set<uint64_t> functions = EntryFunctions(p);
  if (functions.empty()) return;
  if (!sema::IsKernelFunction(p.spec.family) || p.spec.is_return) return;  // EntryRegister says
  // The probe's place is SYMBOL[+0xOFF] (SYMBOL#K for one of several copies, MODULE:SYMBOL
  // for a module's) at link-time address `address`; the entry is as far before it.
  std::string symbol = p.spec.target;
  uint64_t offset = 0;
  if (size_t plus = symbol.rfind('+'); plus != std::string::npos) {
    offset = std::stoull(symbol.substr(plus + 1), nullptr, 16);
    symbol.resize(plus);
  }
  for (uint64_t function : functions) {
    if (function > p.spec.address || p.spec.address - function > offset) {
      // (A part of the function apart from its entry, such as its `.cold` code.)
      Unsupported(p.point_range,
                  "a value of the function's entry (DW_OP_entry_value) in `" + p.spec.point + "`",
                  ", whose place is not in the function's own symbol");
      continue;
    }
    uint64_t at = offset - (p.spec.address - function);
    std::ostringstream place;
    place << symbol;
    if (at) place << "+0x" << std::hex << at;
    if (!entry_reg_targets_.insert(place.str()).second) continue;
    if (!entry_regs_map_)
      entry_regs_map_ =
          maps_.Define({"btap_entry_regs", kMapLruHash, 16384, 16, (kEntryRegs + 1) * 8});
    auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
    std::string name = UniqueName("entry_regs_" + std::to_string(p.order));
    auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, name, module_);
    fn->addFnAttr(llvm::Attribute::NoUnwind);
    fn->setSection("kprobe");
    unsigned line = p.decl ? sm_.file(p.decl->range.file).Locate(p.decl->range.begin).line : 1;
    b_.SetCurrentDebugLocation(maps_.Describe(*fn, line, FileFor(p.file)));
    Frame frame;
    llvm::Instruction* has_scratch = StartFrame(frame, fn, &p, false);
    frame.at_entry = true;
    Value values = ScratchAt(TempBytes((kEntryRegs + 1) * 8));
    for (int r = 0; r < kEntryRegs; ++r)
      b_.CreateStore(PtRegsAt(DwarfRegisterOffset(r)), b_.CreateConstGEP1_64(i64_, values, r));
    Value cfa = b_.CreateAdd(PtRegsAt(DwarfRegisterOffset(7)), b_.getInt64(8));
    b_.CreateStore(cfa, b_.CreateConstGEP1_64(i64_, values, kEntryRegs));
    Helper(kMapUpdate, i64_,
           {entry_regs_map_, EntryRegsKey(cfa, function), values, b_.getInt64(kAny)});
    Helper(kMapUpdate, i64_,
           {entry_regs_map_, EntryRegsKey(EntryThread(), function), values, b_.getInt64(kAny)});
    FinishFrame(frame, has_scratch);
    meta::Probe mp;
    mp.program = name;
    mp.point = p.spec.function + " (entry values of " + p.spec.point + ")";
    mp.family = static_cast<uint8_t>(meta::ProbeKind::Kprobe);
    mp.target = place.str();
    mp.build_id = p.spec.build_id;
    meta_.probes.push_back(std::move(mp));
  }
}

// A register's value at the function's entry, saved there (SaveEntryRegisters); 0 when the
// entry was not seen (a call in flight when the script started), as @entry's values. The
// values of this frame's call unless the thread's latest call is an outer one (a frame
// higher on the same stack): then this call's body runs in another frame than its entry's
// (under a BPF trampoline), and what this frame holds, if anything, is an earlier call's
// that ran here and returned. A latest call on another stack (an interrupt's, under the
// interrupted task's id) or deeper (a recursive call that returned) is not this one.
Value Lowering::EntryRegister(ast::Register* r) {
  bool kernel = frame_->ctx && frame_->probe &&
                sema::IsKernelFunction(frame_->probe->spec.family) &&
                !frame_->probe->spec.is_return && !frame_->at_entry;
  if (!kernel || !entry_regs_map_ || r->regno < 0 || r->regno >= kEntryRegs) {
    Unsupported(target_range_, "a value of the function's entry (DW_OP_entry_value) here");
    return nullptr;
  }
  Value cfa = b_.CreateAdd(PtRegsAt(DwarfRegisterOffset(static_cast<int>(r->entry_cfa_reg))),
                           b_.getInt64(r->entry_cfa_offset));
  Value here = Helper(kMapLookup, ptr_, {entry_regs_map_, EntryRegsKey(cfa, r->entry_function)});
  Value latest =
      Helper(kMapLookup, ptr_, {entry_regs_map_, EntryRegsKey(EntryThread(), r->entry_function)});
  Value cell = Alloca(i64_);
  b_.CreateStore(b_.getInt64(0), cell);
  auto block = [&](const char* name) {
    return llvm::BasicBlock::Create(context_, name, frame_->fn);
  };
  llvm::BasicBlock *check_latest = block("entry_reg_check"), *try_here = block("entry_reg_try"),
                   *use_latest = block("entry_reg_latest"), *use_here = block("entry_reg_here"),
                   *after = block("entry_reg_read");
  auto use = [&](Value saved) {
    b_.CreateStore(b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, saved, r->regno)), cell);
    b_.CreateBr(after);
  };
  b_.CreateCondBr(b_.CreateIsNotNull(latest), check_latest, try_here);
  b_.SetInsertPoint(check_latest);
  Value last = b_.CreateLoad(i64_, b_.CreateConstGEP1_64(i64_, latest, kEntryRegs));
  Value same_stack = b_.CreateICmpEQ(b_.CreateLShr(cfa, b_.getInt64(kStackShift)),
                                     b_.CreateLShr(last, b_.getInt64(kStackShift)));
  b_.CreateCondBr(b_.CreateAnd(same_stack, b_.CreateICmpUGT(last, cfa)), use_latest, try_here);
  b_.SetInsertPoint(use_latest);
  use(latest);
  b_.SetInsertPoint(try_here);
  b_.CreateCondBr(b_.CreateIsNotNull(here), use_here, after);
  b_.SetInsertPoint(use_here);
  use(here);
  b_.SetInsertPoint(after);
  return b_.CreateLoad(i64_, cell);
}

}  // namespace btap::codegen::lowering
