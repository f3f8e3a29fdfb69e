// The -c/-x target's process tree: the processes that process probes fire in when there
// is a target (stap's task finder follows the target and every process it or one of its
// descendants creates). Kept as one bit per process id in an array map, set by a program
// on sched_process_fork, read by the probes' filters without a helper call.
#include <bpf/btf.h>

#include "codegen/core_access.h"
#include "codegen/lowering.h"

namespace btap::codegen::lowering {

namespace {
// PID_MAX_LIMIT on 64-bit kernels (4,194,304 ids), 64 to a word: every id has its bit.
constexpr uint32_t kTreeWords = (4u << 20) / 64;

// task_struct's id in `btf` when it has a `tgid` member, else -1.
int32_t TaskWithTgid(const struct btf* btf) {
  int32_t task = btf ? btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT) : -1;
  KernelMember member;
  if (task > 0 && !FindKernelMember(btf, static_cast<uint32_t>(task), "tgid", &member)) return -1;
  return task > 0 ? task : -1;
}
}  // namespace

// An array map is looked up inline by the verifier (no helper call, no hashing): the
// membership test on a uprobe hit of a descendant is a few instructions. Without the
// kernel's BTF or the offset of task_struct's tgid (a compile without root on a kernel
// without BTF) the tracker cannot read a new process's id: the probes then see the
// target alone, and a warning says so. The map is made by the first filter that reads
// it: a script whose process probes test nothing (empty handlers) has neither the map
// nor the tracker, whose runs on every fork of the machine would be all its cost.
llvm::GlobalVariable* Lowering::TargetTree() {
  if (tree_ || !program_.kernel.target_tree || tree_untracked_) return tree_;
  if (TaskWithTgid(KernelBtf()) < 0 && program_.kernel.task_tgid < 0) {
    tree_untracked_ = true;
    diags_.Report(Diag::TargetTreeUntracked, SourceRange{},
                  {"neither the kernel's BTF nor the layout of its task_struct is known"});
    return nullptr;
  }
  tree_ = maps_.Define({"btap_target_tree", kMapArray, kTreeWords, 4, 8});
  return tree_;
}

// The word that holds `pid`'s bit (null when the id is past the map), and its mask.
Value Lowering::TreeWord(Value pid, Value* mask) {
  Value key = StackTemp(4);
  b_.CreateStore(b_.CreateTrunc(b_.CreateLShr(pid, 6), b_.getInt32Ty()), key);
  *mask = b_.CreateShl(b_.getInt64(1), b_.CreateAnd(pid, b_.getInt64(63)));
  return Helper(kMapLookup, ptr_, {tree_, key});
}

// A new task is created (sched_process_fork runs in its creator, before the new task
// first runs): a new process made by the target or by a process of its tree joins the
// tree. Threads share their creator's process id, already in the tree or the target.
void Lowering::EmitTargetTreeTracker() {
  // (TargetTree made the tree only where a new process's id can be read.)
  int32_t task = TaskWithTgid(KernelBtf());
  auto* type = llvm::FunctionType::get(b_.getInt32Ty(), {ptr_}, false);
  auto* fn = llvm::Function::Create(type, llvm::GlobalValue::ExternalLinkage, "track_target_tree",
                                    module_);
  fn->setSection("raw_tp/sched_process_fork");
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->getArg(0)->setName("ctx");
  b_.SetCurrentDebugLocation(maps_.Describe(*fn, 1, nullptr));
  Frame frame;
  llvm::Instruction* has_scratch = StartFrame(frame, fn, nullptr, false);
  Value target = b_.CreateLoad(i64_, target_);
  Continue(b_.CreateICmpNE(target, b_.getInt64(0)), "targeted");
  Value creator = b_.CreateLShr(Helper(kCurrentPidTgid, i64_, {}), 32);
  Value in_tree = InTargetTree(creator, target);
  Continue(in_tree, "descendant");
  // The new task's process id: CO-RE where the kernel has BTF, else the offset pass 2
  // found.
  Value child = b_.CreateIntToPtr(RawArg(1), ptr_);
  Value tgid = task > 0 ? ReadKernelMember(child, static_cast<uint32_t>(task), "tgid") : nullptr;
  if (!tgid) {
    Value at = b_.CreateGEP(b_.getInt8Ty(), child, b_.getInt64(program_.kernel.task_tgid));
    tgid = b_.CreateAnd(ReadCell(kProbeReadKernel, at, 4), b_.getInt64(0xffffffff));
  }
  Continue(b_.CreateICmpNE(tgid, creator), "process");
  Value mask;
  Value word = TreeWord(tgid, &mask);
  Continue(b_.CreateIsNotNull(word), "known_id");
  b_.CreateAtomicRMW(llvm::AtomicRMWInst::Or, word, mask, llvm::MaybeAlign(8),
                     llvm::AtomicOrdering::Monotonic);
  FinishFrame(frame, has_scratch);

  meta::Probe mp;
  mp.program = "track_target_tree";
  mp.point = "the -c/-x target's process tree (sched:sched_process_fork)";
  mp.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
  mp.target = "sched:sched_process_fork";
  mp.internal = true;
  meta_.probes.push_back(std::move(mp));
}

// No target, the target, or a process of its tree. The tree's map is looked up only when
// the pid is not the target itself.
Value Lowering::InTargetTree(Value pid, Value target) {
  if (!target) target = b_.CreateLoad(i64_, target_);
  Value direct = b_.CreateOr(b_.CreateICmpEQ(target, b_.getInt64(0)), b_.CreateICmpEQ(pid, target));
  if (!TargetTree()) return direct;
  llvm::BasicBlock* from = b_.GetInsertBlock();
  auto* lookup = llvm::BasicBlock::Create(context_, "tree_lookup", frame_->fn);
  auto* done = llvm::BasicBlock::Create(context_, "tree_done", frame_->fn);
  b_.CreateCondBr(direct, done, lookup);
  b_.SetInsertPoint(lookup);
  Value mask;
  Value word = TreeWord(pid, &mask);
  auto* read = llvm::BasicBlock::Create(context_, "tree_word", frame_->fn);
  llvm::BasicBlock* looked = b_.GetInsertBlock();
  b_.CreateCondBr(b_.CreateIsNotNull(word), read, done);
  b_.SetInsertPoint(read);
  Value bits = b_.CreateAnd(b_.CreateLoad(i64_, word), mask);
  Value found = b_.CreateICmpNE(bits, b_.getInt64(0));
  b_.CreateBr(done);
  b_.SetInsertPoint(done);
  llvm::PHINode* in = b_.CreatePHI(b_.getInt1Ty(), 3);
  in->addIncoming(b_.getTrue(), from);
  in->addIncoming(b_.getFalse(), looked);
  in->addIncoming(found, read);
  return in;
}

}  // namespace btap::codegen::lowering
