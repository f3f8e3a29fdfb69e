// Netfilter probes as BPF netfilter programs. The context is the kernel's struct
// bpf_nf_ctx { const struct nf_hook_state *state; struct sk_buff *skb; }: its words are
// copied out with bpf_probe_read_kernel, so the script gets numbers and not pointers that
// the verifier tracks (and would not let it mask or multiply). The program returns the
// packet's verdict, NF_ACCEPT unless the handler sets $verdict to NF_DROP: the only two the
// kernel lets a BPF netfilter program return.
#include <bpf/btf.h>

#include "codegen/lowering.h"

namespace btap::codegen::lowering {
namespace {

constexpr int64_t kNfDrop = 0, kNfAccept = 1;

}  // namespace

// The verdict starts as NF_ACCEPT; every way out of the handler (its end, `next`, an
// error, the session not running) returns what it holds then, as 0 or 1.
void Lowering::StartVerdict(Frame& frame) {
  frame.verdict = Alloca(i64_);
  b_.CreateStore(b_.getInt64(kNfAccept), frame.verdict);
  llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
  llvm::Instruction* ret = frame.exit->getTerminator();
  b_.SetInsertPoint(ret);
  Value verdict = b_.CreateLoad(i64_, frame.verdict);
  b_.CreateRet(b_.CreateZExt(b_.CreateICmpNE(verdict, b_.getInt64(kNfDrop)), b_.getInt32Ty()));
  ret->eraseFromParent();
  b_.restoreIP(here);
}

// Word `index` of the context (0: the hook state, 1: the skb), read once, at the start of
// the handler (where it dominates every use).
Value Lowering::NetfilterWord(uint32_t index) {
  Value& cached = frame_->raw_args[index];
  if (cached) return cached;
  llvm::IRBuilderBase::InsertPoint here = b_.saveIP();
  llvm::DebugLoc location = b_.getCurrentDebugLocation();
  b_.SetInsertPoint(frame_->alloca_point->getNextNode());
  Value word = b_.CreateConstGEP1_64(i64_, frame_->ctx, index);
  cached = ReadCell(kProbeReadKernel, word, 8);
  b_.restoreIP(here);
  b_.SetCurrentDebugLocation(location);
  return cached;
}

Value Lowering::NetfilterVar(ast::TargetSymbol* t) {
  std::string_view name = t->name.substr(1);
  const sema::TargetArg* arg = nullptr;
  for (const sema::TargetArg& a : frame_->probe->spec.args)
    if (a.name == name) arg = &a;
  if (!arg) {
    Unsupported(t->range, "target variable `" + std::string(t->name) + "` in this probe");
    return nullptr;
  }
  if ((!t->components.empty() || t->addressof) && (!arg->btf_type || name == "verdict")) {
    Unsupported(t->range, "member access, indexing and `&` on `" + std::string(t->name) + "`",
                "; it is a number");
    return nullptr;
  }
  if (name == "verdict") return b_.CreateLoad(i64_, frame_->verdict);
  Value value;
  if (name == "skb") {
    value = NetfilterWord(1);
  } else {
    const struct btf* btf = KernelBtf();
    int32_t state = btf ? btf__find_by_name_kind(btf, "nf_hook_state", BTF_KIND_STRUCT) : -1;
    std::string_view member = name == "hooknum" ? "hook" : name;
    value = state > 0 ? ReadKernelMember(NetfilterWord(0), static_cast<uint32_t>(state), member)
                      : nullptr;
    if (!value) {
      Unsupported(t->range, "`" + std::string(t->name) + "`",
                  "; the kernel's BTF has no struct nf_hook_state with a member `" +
                      std::string(member) + "`");
      return nullptr;
    }
  }
  if (t->components.empty() && !t->addressof) return value;
  return KernelChain(t, t->name, value, arg->btf_type, false);
}

bool Lowering::IsVerdict(const ast::Expr* e) const {
  auto* t = ast::As<ast::TargetSymbol>(e);
  return t && frame_ && frame_->probe && frame_->probe->spec.family == sema::Family::Netfilter &&
         t->name == "$verdict" && t->components.empty() && !t->addressof;
}

// `$verdict = v`: pass 2 refused numbers other than 0 and 1; any other value is a run-time
// error here, and the verdict stays what it was.
Value Lowering::AssignVerdict(ast::Assign* a) {
  if (!frame_->verdict || a->op != Tok::Assign) {
    Unsupported(a->range, "setting `$verdict` here",
                frame_->verdict ? "; use `=`" : " (only the probe's own handler can)");
    return nullptr;
  }
  Value v = Expr(a->rhs);
  if (!v) return nullptr;
  CheckFormat(b_.CreateICmpULE(v, b_.getInt64(kNfAccept)),
              "netfilter verdict %d is neither NF_DROP (0) nor NF_ACCEPT (1), the only ones a "
              "BPF netfilter program can return" +
                  EscapePercent(Near("identifier", "$verdict", a->lhs->range)),
              {v});
  b_.CreateStore(v, frame_->verdict);
  return v;
}

}  // namespace btap::codegen::lowering
