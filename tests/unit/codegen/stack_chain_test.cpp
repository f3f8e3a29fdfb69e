// Chains of BPF-to-BPF calls and their stack, read from objects LLVM emits: a program
// that calls a function, or hands one to a helper as a callback, adds that function's
// stack to its own, each rounded up to 32 bytes, as the kernel's verifier counts them.
#include "codegen/stack_chain.h"

#include "codegen/emit.h"

#include <gtest/gtest.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

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
  llvm::Value* at = b.CreateURem(b.CreatePtrToInt(fn->getArg(0), b.getInt64Ty()),
                                 b.getInt64(bytes));
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
  auto* leaf = WithStack(m, "leaf", 40, nullptr, false, "");  // 40 -> 64
  auto* middle = WithStack(m, "middle", 20, leaf, false, "");  // 20 + spills -> 32
  WithStack(m, "probe_0", 420, middle, false, "kprobe/vfs_read");
  WithStack(m, "probe_1", 200, middle, false, "kprobe/vfs_write");
  std::vector<StackChain> chains = ChainsPastLimit(Emit(m), "btap_user");
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].program, "probe_0");
  EXPECT_EQ(chains[0].frames, (std::vector<std::string>{"probe_0", "middle", "leaf"}));
  ASSERT_EQ(chains[0].depths.size(), 3u);
  EXPECT_GE(chains[0].depths[0], 448u);
  EXPECT_EQ(chains[0].depths[2], 64u);
  EXPECT_EQ(chains[0].total, chains[0].depths[0] + chains[0].depths[1] + chains[0].depths[2]);
  EXPECT_GT(chains[0].total, kMaxChainStack);
}

TEST(StackChain, CallbacksCountAndUserSideProgramsAreLeftOut) {
  llvm::LLVMContext context;
  llvm::Module m("callback", context);
  auto* callback = WithStack(m, "cb", 100, nullptr, false, "");  // -> 128
  WithStack(m, "probe_0", 440, callback, true, "kprobe/vfs_read");
  WithStack(m, "probe_1", 440, callback, true, "btap_user/probe_1");
  WithStack(m, "probe_2", 300, callback, true, "kprobe/vfs_write");
  std::vector<StackChain> chains = ChainsPastLimit(Emit(m), "btap_user");
  ASSERT_EQ(chains.size(), 1u);
  EXPECT_EQ(chains[0].frames, (std::vector<std::string>{"probe_0", "cb"}));
  EXPECT_EQ(chains[0].depths[1], 128u);
}

TEST(StackChain, NotAnObjectHasNoChains) {
  EXPECT_TRUE(ChainsPastLimit({1, 2, 3}, "").empty());
  EXPECT_TRUE(ChainsPastLimit({}, "").empty());
}

}  // namespace
}  // namespace btap::codegen
