// The BPF runtime library: linked into a module only as far as it is used, accepted by
// the kernel's verifier, and computing the same result in the kernel
// (BPF_PROG_TEST_RUN) and in btap's user-space interpreter.
#include "codegen/bpflib.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "codegen/emit.h"
#include "runtime/interpreter.h"

namespace btap::codegen {
namespace {

// int probe(void *ctx) { char buf[24]; long n = btap_ltoa(buf, -12345);
//                        return n * 1000 + buf[1]; }   // 6 * 1000 + '1'
std::unique_ptr<llvm::Module> LtoaProbe(llvm::LLVMContext& context) {
  auto module = std::make_unique<llvm::Module>("ltoa", context);
  llvm::IRBuilder<> b(context);
  auto* ltoa_type = llvm::FunctionType::get(b.getInt64Ty(), {b.getPtrTy(), b.getInt64Ty()}, false);
  llvm::FunctionCallee ltoa = module->getOrInsertFunction("btap_ltoa", ltoa_type);
  auto* type = llvm::FunctionType::get(b.getInt32Ty(), {b.getPtrTy()}, false);
  auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "probe_0", *module);
  fn->setSection("raw_tracepoint/sched_switch");
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", fn));
  llvm::Value* buf = b.CreateAlloca(llvm::ArrayType::get(b.getInt8Ty(), 24));
  llvm::Value* n = b.CreateCall(ltoa, {buf, b.getInt64(-12345)});
  llvm::Value* second = b.CreateLoad(b.getInt8Ty(), b.CreateConstGEP1_64(b.getInt8Ty(), buf, 1));
  llvm::Value* r =
      b.CreateAdd(b.CreateMul(n, b.getInt64(1000)), b.CreateSExt(second, b.getInt64Ty()));
  b.CreateRet(b.CreateTrunc(r, b.getInt32Ty()));
  auto* license = llvm::ConstantDataArray::getString(context, "GPL");
  auto* global = new llvm::GlobalVariable(*module, license->getType(), true,
                                          llvm::GlobalValue::ExternalLinkage, license, "_license");
  global->setSection("license");
  return module;
}

TEST(BpfLibrary, LinksOnlyWhatIsUsed) {
  llvm::LLVMContext context;
  auto module = LtoaProbe(context);
  std::string error;
  ASSERT_TRUE(LinkRuntimeLibrary(*module, &error)) << error;
  llvm::Function* ltoa = module->getFunction("btap_ltoa");
  ASSERT_NE(ltoa, nullptr);
  EXPECT_FALSE(ltoa->isDeclaration());
  EXPECT_EQ(module->getFunction("btap_strcmp"), nullptr);
}

TEST(BpfLibrary, KernelAndInterpreterAgree) {
  llvm::LLVMContext context;
  auto module = LtoaProbe(context);
  std::string error;
  ASSERT_TRUE(LinkRuntimeLibrary(*module, &error)) << error;
  std::vector<uint8_t> object;
  ASSERT_TRUE(EmitObject(*module, object, &error)) << error;
  bpf_object* obj = bpf_object__open_mem(object.data(), object.size(), nullptr);
  ASSERT_NE(obj, nullptr);
  bpf_program* prog = bpf_object__find_program_by_name(obj, "probe_0");
  ASSERT_NE(prog, nullptr);

  // The user-space interpreter runs the instructions as libbpf prepared them.
  std::span<const bpf_insn> insns(bpf_program__insns(prog), bpf_program__insn_cnt(prog));
  runtime::Interpreter vm;
  uint64_t r0 = 0;
  ASSERT_TRUE(vm.Run(insns, 0, &r0, &error)) << error;
  EXPECT_EQ(r0, 6000u + '1');

  if (geteuid() != 0) {
    bpf_object__close(obj);
    GTEST_SKIP() << "loading BPF needs root";
  }
  ASSERT_EQ(bpf_object__load(obj), 0);
  uint64_t args[1] = {0};
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof args);
  ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(prog), &run), 0);
  EXPECT_EQ(run.retval, 6000u + '1');
  bpf_object__close(obj);
}

}  // namespace
}  // namespace btap::codegen
