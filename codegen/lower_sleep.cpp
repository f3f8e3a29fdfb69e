// User reads that may fault pages in. bpf_probe_read_user cannot fault: a string in a
// page the program has mapped but not touched yet (a `.rodata` literal before its first
// use) reads as a fault. Where the kernel lets uprobe programs sleep, a uprobe handler
// whose read faults touches the page with bpf_copy_from_user (which may sleep to fault
// it in) and reads again; stap's error stays for memory that is not there.
//
// A sleeping handler can be preempted, and another task's probe on the same CPU would
// overwrite per-CPU scratch, so such a handler keeps its scratch per task (task
// storage). Whether the kernel allows it is known only at load: the runtime sets the
// flag in meta::kSleepSection then, and the verifier, reading a frozen constant, prunes
// the path not taken (so a kernel without sleepable uprobes never sees their helpers).
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

Value Lowering::SleepEnabled() {
  if (!may_sleep_) {
    may_sleep_ = new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage,
                                          b_.getInt64(0), "__btap_may_sleep");
    may_sleep_->setSection(meta::kSleepSection);
    may_sleep_->setAlignment(llvm::Align(8));
  }
  // Volatile: LLVM must not fold the initial zero; the verifier knows the loaded value.
  return b_.CreateICmpNE(b_.CreateLoad(i64_, may_sleep_, true), b_.getInt64(0));
}

Value Lowering::ScratchLookup(Frame& frame) {
  Value zero = Alloca(b_.getInt32Ty());
  b_.CreateStore(b_.getInt32(0), zero);
  if (!HandlerOf(frame).can_sleep) {
    Value per_cpu = Helper(kMapLookup, ptr_, {scratch_placeholder_, zero});
    frame.scratch_parts.push_back(llvm::cast<llvm::Instruction>(per_cpu));
    return per_cpu;
  }
  if (!task_scratch_placeholder_)
    task_scratch_placeholder_ =
        new llvm::GlobalVariable(module_, i64_, false, llvm::GlobalValue::ExternalLinkage, nullptr,
                                 "__btap_task_scratch_placeholder");
  auto* gate = llvm::cast<llvm::Instruction>(SleepEnabled());
  HandlerOf(frame).sleep_gates.push_back(gate);
  auto* task_block = llvm::BasicBlock::Create(context_, "task_scratch", frame.fn);
  auto* cpu_block = llvm::BasicBlock::Create(context_, "cpu_scratch", frame.fn);
  auto* join = llvm::BasicBlock::Create(context_, "scratch_chosen", frame.fn);
  b_.CreateCondBr(gate, task_block, cpu_block);
  b_.SetInsertPoint(task_block);
  Value task = Helper(kCurrentTaskBtf, ptr_, {});
  Value per_task = Helper(kTaskStorageGet, ptr_,
                          {task_scratch_placeholder_, task, llvm::ConstantPointerNull::get(ptr_),
                           b_.getInt64(1) /* create */});
  b_.CreateBr(join);
  b_.SetInsertPoint(cpu_block);
  Value per_cpu = Helper(kMapLookup, ptr_, {scratch_placeholder_, zero});
  b_.CreateBr(join);
  b_.SetInsertPoint(join);
  llvm::PHINode* scratch = b_.CreatePHI(ptr_, 2);
  scratch->addIncoming(per_task, task_block);
  scratch->addIncoming(per_cpu, cpu_block);
  // Dropped in this order when the frame never uses its scratch.
  for (Value v : {Value(scratch), per_task, task, per_cpu})
    frame.scratch_parts.push_back(llvm::cast<llvm::Instruction>(v));
  return scratch;
}

void Lowering::SettleSleep(Frame& frame) {
  if (frame.sleeps) return;
  for (llvm::Instruction* gate : frame.sleep_gates) {
    // The flag's load goes too: volatile, LLVM would keep it on every event.
    auto* load = llvm::dyn_cast<llvm::Instruction>(gate->getOperand(0));
    gate->replaceAllUsesWith(b_.getFalse());
    gate->eraseFromParent();
    if (load && load->use_empty()) load->eraseFromParent();
  }
  frame.sleep_gates.clear();
}

void Lowering::FinishTaskScratch(uint32_t size) {
  if (!task_scratch_placeholder_) return;
  bool used = false;
  for (llvm::Function& fn : module_)
    for (llvm::BasicBlock& block : fn)
      for (llvm::Instruction& i : block)
        for (llvm::Value* operand : i.operands()) used |= operand == task_scratch_placeholder_;
  llvm::GlobalVariable* map = nullptr;
  if (used)
    map = maps_.Define({meta::kTaskScratchMap, kMapTaskStorage, 0, 4, size,
                        /*BPF_F_NO_PREALLOC*/ 1, /*typed=*/true});
  task_scratch_placeholder_->replaceAllUsesWith(map ? static_cast<llvm::Constant*>(map)
                                                    : llvm::ConstantPointerNull::get(ptr_));
  task_scratch_placeholder_->eraseFromParent();
  task_scratch_placeholder_ = nullptr;
}

Value Lowering::ReadUser(Value dst, Value size, Value pointer) {
  Value rc = Helper(kProbeReadUser, i64_, {dst, size, pointer});
  if (!frame_->can_sleep) return rc;
  HandlerOf(*frame_).sleeps = true;
  // The second helper faults the page in; on failure it zeroes `dst` as the first did.
  Value result = Alloca(i64_);
  b_.CreateStore(rc, result);
  auto* again = llvm::BasicBlock::Create(context_, "read_user_again", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "read_user_done", frame_->fn);
  b_.CreateCondBr(b_.CreateAnd(b_.CreateICmpSLT(rc, b_.getInt64(0)), SleepEnabled()), again, done);
  b_.SetInsertPoint(again);
  b_.CreateStore(Helper(kCopyFromUser, i64_, {dst, size, pointer}), result);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  return b_.CreateLoad(i64_, result);
}

// A string of `size` bytes at most spans this many pages; each is touched, in order, only
// while the read still faults and the page before could be touched. A page past the
// string's end is never touched: the read that faults there has not found the end yet.
Value Lowering::ReadUserString(Value dst, Value size, Value pointer) {
  Value rc = Helper(kProbeReadUserStr, i64_, {dst, size, pointer});
  if (!frame_->can_sleep) return rc;
  HandlerOf(*frame_).sleeps = true;
  constexpr uint64_t kPage = 4096;
  if (!frame_->read_cell) frame_->read_cell = Alloca(i64_);
  Value result = Alloca(i64_);
  b_.CreateStore(rc, result);
  Value address = b_.CreatePtrToInt(pointer, i64_);
  Value end = b_.CreateAdd(address, b_.CreateZExt(size, i64_));
  Value first_page = b_.CreateAnd(address, b_.getInt64(~(kPage - 1)));
  auto* done = llvm::BasicBlock::Create(context_, "read_string_done", frame_->fn);
  auto* touch = llvm::BasicBlock::Create(context_, "touch_page", frame_->fn);
  b_.CreateCondBr(b_.CreateAnd(b_.CreateICmpSLT(rc, b_.getInt64(0)), SleepEnabled()), touch, done);
  uint64_t pages = (limit_ + kPage - 1) / kPage + 1;
  for (uint64_t k = 0; k < pages; ++k) {
    b_.SetInsertPoint(touch);
    Value page = k == 0 ? address : b_.CreateAdd(first_page, b_.getInt64(k * kPage));
    if (k > 0) {
      auto* inside = llvm::BasicBlock::Create(context_, "page_inside", frame_->fn);
      b_.CreateCondBr(b_.CreateICmpULT(page, end), inside, done);
      b_.SetInsertPoint(inside);
    }
    Value touched = Helper(kCopyFromUser, i64_,
                           {frame_->read_cell, b_.getInt32(1), b_.CreateIntToPtr(page, ptr_)});
    auto* retry = llvm::BasicBlock::Create(context_, "read_string_again", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpEQ(touched, b_.getInt64(0)), retry, done);
    b_.SetInsertPoint(retry);
    Value again = Helper(kProbeReadUserStr, i64_, {dst, size, pointer});
    b_.CreateStore(again, result);
    touch = llvm::BasicBlock::Create(context_, "touch_page", frame_->fn);
    b_.CreateCondBr(b_.CreateICmpSLT(again, b_.getInt64(0)), touch, done);
  }
  b_.SetInsertPoint(touch);
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  return b_.CreateLoad(i64_, result);
}

}  // namespace btap::codegen::lowering
