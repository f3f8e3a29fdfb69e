// Chains of BPF-to-BPF calls and their stack, read from objects LLVM emits: a program
// that calls a function, or hands one to a helper as a callback, adds that function's
// stack to its own, as the target kernel's verifier counts them (6.1: each frame rounded
// up to 32 bytes; 6.9: to 16; 6.13: frames of 64 bytes or more on private stacks).
#include "codegen/stack_chain.h"

#include "codegen/emit.h"

#include <gtest/gtest.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>
#include <algorithm>

namespace btap::codegen {
namespace {

// A function whose stack is `bytes` (an array it writes at an index it is given, so that
// LLVM keeps all of it), calling `callee` or taking its address as a callback would.
llvm::Function* WithStack(llvm::Module& m, const std::string& name, uint32_t bytes,
                          llvm::Function* callee, bool as_callback, const std::string& section) {
  llvm::LLVMContext& context = m.getContext();
  llvm::IRBuilder<> b(context);
  auto* type = llvm::FunctionType::get(b.getInt64Ty(), {b.getPtrTy()}, false);
  auto* fn = llvm::Function::Create(
      type, section.empty() ? llvm::Function::InternalLinkage : llvm::Function::ExternalLinkage,
      name, m);
  if (!section.empty()) fn->setSection(section);
  fn->addFnAttr(llvm::Attribute::NoInline);
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", fn));
  auto* cells = b.CreateAlloca(llvm::ArrayType::get(b.getInt8Ty(), bytes));
  llvm::Value* at =
      b.CreateURem(b.CreatePtrToInt(fn->getArg(0), b.getInt64Ty()), b.getInt64(bytes));
  b.CreateStore(b.getInt8(1), b.CreateGEP(b.getInt8Ty(), cells, at), /*isVolatile=*/true);
  llvm::Value* result = b.getInt64(0);
  if (callee && as_callback) {
    auto* slot = b.CreateAlloca(b.getPtrTy());
    b.CreateStore(callee, slot, true);
  } else if (callee) {
    result = b.CreateCall(callee, {fn->getArg(0)});
  }
  b.CreateRet(result);
  return fn;
}

std::vector<uint8_t> Emit(llvm::Module& m) {
  auto* license = llvm::ConstantDataArray::getString(m.getContext(), "GPL");
  auto* global = new llvm::GlobalVariable(m, license->getType(), true,
                                          llvm::GlobalValue::ExternalLinkage, license, "_license");
  global->setSection("license");
  std::vector<uint8_t> object;
  std::string error;
  EXPECT_TRUE(EmitObject(m, object, &error)) << error;
  return object;
}

TEST(StackChain, CallsAddTheirFramesRoundedTo32) {
  llvm::LLVMContext context;
  llvm::Module m("chain", context);
  auto* leaf = WithStack(m, "leaf", 40, nullptr, false, "");   // 40 -> 64
  auto* middle = WithStack(m, "middle", 20, leaf, false, "");  // 20 + spills -> 32
  WithStack(m, "probe_0", 420, middle, false, "kprobe/vfs_read");
  WithStack(m, "probe_1", 200, middle, false, "kprobe/vfs_write");
  std::vector<uint8_t> object = Emit(m);
  std::vector<StackChain> chains =
      ChainsPastLimit(object, "btap_user", StackRuleFor("6.1.0-37-cloud-amd64"));
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].program, "probe_0");
  EXPECT_EQ(chains[0].frames, (std::vector<std::string>{"probe_0", "middle", "leaf"}));
  ASSERT_EQ(chains[0].depths.size(), 3u);
  EXPECT_GE(chains[0].depths[0], 448u);
  EXPECT_EQ(chains[0].depths[2], 64u);
  EXPECT_EQ(chains[0].total, chains[0].depths[0] + chains[0].depths[1] + chains[0].depths[2]);
  EXPECT_GT(chains[0].total, kMaxChainStack);
  // 6.13 and later: probe_0's frame (432 bytes) is on a stack of its own; middle's and
  // leaf's (48) are under 64 bytes and add up, rounded to 16.
  EXPECT_TRUE(ChainsPastLimit(object, "btap_user", StackRuleFor("6.18.0")).empty());
  std::vector<StackChain> all = ChainsPastLimit(object, "btap_user", StackRuleFor("6.18.0"), 0);
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(all[0].depths.size(), 3u);
  EXPECT_EQ(all[0].depths[0], 0u);
  EXPECT_EQ(all[0].depths[2], 48u);
  EXPECT_EQ(all[0].total, all[0].depths[1] + 48u);
}

TEST(StackChain, RulesByKernelRelease) {
  StackRule old = StackRuleFor("6.1.0-37-cloud-amd64");
  EXPECT_EQ(old.granule, 32u);
  EXPECT_TRUE(old.empty_counts);
  EXPECT_EQ(old.private_from, 0u);
  EXPECT_EQ(old.kernel, "6.1.0");
  StackRule jit = StackRuleFor("6.9.1");
  EXPECT_EQ(jit.granule, 16u);
  EXPECT_FALSE(jit.empty_counts);
  EXPECT_EQ(jit.private_from, 0u);
  EXPECT_EQ(StackRuleFor("6.13.0").private_from, 64u);
  // Unknown: the newest rule, which refuses least.
  EXPECT_EQ(StackRuleFor("").private_from, 64u);
  EXPECT_EQ(StackRuleFor("").kernel, "");
}

TEST(StackChain, CallbacksCountAndUserSideProgramsAreLeftOut) {
  llvm::LLVMContext context;
  llvm::Module m("callback", context);
  auto* callback = WithStack(m, "cb", 100, nullptr, false, "");  // -> 128
  WithStack(m, "probe_0", 440, callback, true, "kprobe/vfs_read");
  WithStack(m, "probe_1", 440, callback, true, "btap_user/probe_1");
  WithStack(m, "probe_2", 300, callback, true, "kprobe/vfs_write");
  std::vector<StackChain> chains = ChainsPastLimit(Emit(m), "btap_user", StackRuleFor("6.1.0"));
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].frames, (std::vector<std::string>{"probe_0", "cb"}));
  EXPECT_EQ(chains[0].depths[1], 128u);
}

// 6.13's private stacks are for the tracing program types only: a netfilter program and a
// syscall program (btap's kernel-side begin/end) add every frame to the chain.
TEST(StackChain, PrivateStacksOnlyInTracingSections) {
  llvm::LLVMContext context;
  llvm::Module m("private", context);
  auto* callback = WithStack(m, "cb", 100, nullptr, false, "");  // 112 by 6.18's rule
  WithStack(m, "probe_0", 440, callback, true, "kprobe/vfs_read");
  WithStack(m, "probe_1", 440, callback, true, "fentry/vfs_read");
  WithStack(m, "probe_2", 440, callback, true, "tracepoint/sched/sched_switch");
  WithStack(m, "probe_3", 440, callback, true, "netfilter");
  WithStack(m, "probe_4", 440, callback, true, "syscall");
  std::vector<StackChain> chains = ChainsPastLimit(Emit(m), "btap_user", StackRuleFor("6.18.0"));
  std::vector<std::string> programs;
  for (const StackChain& c : chains) programs.push_back(c.program);
  std::sort(programs.begin(), programs.end());
  EXPECT_EQ(programs, (std::vector<std::string>{"probe_3", "probe_4"}));
  for (const StackChain& c : chains) EXPECT_GE(c.depths[0], 448u);
}

TEST(StackChain, NotAnObjectHasNoChains) {
  EXPECT_TRUE(ChainsPastLimit({1, 2, 3}, "", StackRuleFor("6.1.0")).empty());
  EXPECT_TRUE(ChainsPastLimit({}, "", StackRuleFor("6.1.0")).empty());
}

}  // namespace
}  // namespace btap::codegen
