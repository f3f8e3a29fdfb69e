// Kernel-function handlers as fentry/fexit programs too. A BPF trampoline calls an fentry
// program directly, which costs far less per event than a kprobe, but not every kernel
// has trampolines: so the object carries both, and the runtime loads one (kprobe.cpp).
// The fentry copy is the kprobe handler with its pt_regs reads (marked by PtRegsAt) turned
// into bpf_get_func_arg/bpf_get_func_ret, which the verifier inlines; a handler that needs
// the kprobe's context for anything else (other registers, stacks, cookies) has no copy.
#include "codegen/lowering.h"
#include "llvm/Transforms/Utils/Cloning.h"

namespace btap::codegen::lowering {
namespace {

using sema::kArgRegisterOffsets;
using sema::kReturnRegisterOffset;

// The helper a call calls (0 when it is no helper call).
int64_t HelperOf(const llvm::CallInst& call) {
  auto* callee = llvm::dyn_cast<llvm::ConstantExpr>(call.getCalledOperand());
  if (!callee || callee->getOpcode() != llvm::Instruction::IntToPtr) return 0;
  auto* id = llvm::dyn_cast<llvm::ConstantInt>(callee->getOperand(0));
  return id ? id->getSExtValue() : 0;
}

// A plain function of vmlinux, attached by its name (not a module's, an address or a
// wildcard's list).
bool PlainName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  return true;
}

}  // namespace

void Lowering::AddFentryVariant(llvm::Function* fn, const sema::Probe& p, meta::Probe& mp) {
  const sema::ProbeSpec& spec = p.spec;
  if (spec.family != sema::Family::KernelFunction || spec.tracing_slots < 0 || spec.address ||
      !spec.build_id.empty() || !PlainName(spec.target) || mp.user_side ||
      kprobe_group_of_.count(&p) || (spec.is_return && !EntryLayout(p).offsets.empty()))
    return;
  bool has_return = false;
  for (const sema::TargetArg& a : spec.args) has_return |= a.name == "return";

  llvm::ValueToValueMapTy map;
  llvm::Function* copy = llvm::CloneFunction(fn, map);
  copy->setName(mp.program + "_fentry");
  copy->setSection((spec.is_return ? "fexit/" : "fentry/") + spec.target);
  llvm::Value* ctx = copy->getArg(0);
  bool ok = true;
  std::vector<llvm::CallInst*> reads;
  for (llvm::BasicBlock& block : *copy)
    for (llvm::Instruction& inst : block)
      if (auto* call = llvm::dyn_cast<llvm::CallInst>(&inst);
          call && call->getMetadata(kPtRegsRead))
        reads.push_back(call);
  for (llvm::CallInst* call : reads) {
    auto* md = llvm::cast<llvm::ConstantAsMetadata>(call->getMetadata(kPtRegsRead)->getOperand(0));
    uint64_t offset = llvm::cast<llvm::ConstantInt>(md->getValue())->getZExtValue();
    llvm::Value* cell = call->getArgOperand(0);
    llvm::Value* at = call->getArgOperand(2);
    llvm::IRBuilder<> b(call);
    llvm::Value* read = nullptr;
    auto helper = [&](int64_t id, std::vector<llvm::Value*> args) {
      std::vector<llvm::Type*> types;
      for (llvm::Value* a : args) types.push_back(a->getType());
      auto* type = llvm::FunctionType::get(b.getInt64Ty(), types, false);
      return b.CreateCall(type, llvm::ConstantExpr::getIntToPtr(b.getInt64(id), ptr_), args);
    };
    if (spec.is_return && offset == kReturnRegisterOffset && has_return) {
      read = helper(kGetFuncRet, {ctx, cell});  // the value fexit saw returned
    } else if (!spec.is_return) {
      const uint32_t* slot =
          std::find(std::begin(kArgRegisterOffsets), std::end(kArgRegisterOffsets), offset);
      if (slot != std::end(kArgRegisterOffsets) && slot - kArgRegisterOffsets < spec.tracing_slots)
        read = helper(kGetFuncArg,
                      {ctx, b.getInt32(static_cast<uint32_t>(slot - kArgRegisterOffsets)), cell});
    }
    if (!read) {  // a register that holds no argument of the function
      ok = false;
      break;
    }
    call->replaceAllUsesWith(read);
    call->eraseFromParent();
    if (auto* gep = llvm::dyn_cast<llvm::Instruction>(at); gep && gep->use_empty())
      gep->eraseFromParent();
  }
  // Anything else that reads the context needs the kprobe's.
  for (llvm::Use& use : ctx->uses()) {
    auto* call = llvm::dyn_cast<llvm::CallInst>(use.getUser());
    int64_t id = call ? HelperOf(*call) : 0;
    ok &= call && use.getOperandNo() == 0 &&
          (id == kGetFuncArg || id == kGetFuncRet || id == kGetFuncIp);
  }
  if (!ok) {
    copy->eraseFromParent();
    return;
  }
  mp.fentry_program = copy->getName().str();
}

}  // namespace btap::codegen::lowering
