// The output path end to end in this kernel: a BTF-defined ring buffer built by codegen,
// a probe that writes one output record with bpf_ringbuf_output, run once with
// BPF_PROG_TEST_RUN, and the runtime turning the record into text; then a runtime
// session that loads, attaches, streams and stops, and one the verifier refuses.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include "codegen/emit.h"
#include "codegen/maps.h"
#include "codegen/seal.h"
#include "runtime/output.h"
#include "runtime/session.h"

#include <sstream>
#include <thread>

namespace btap::codegen {
namespace {

// int probe(void *ctx) { struct { u32 kind, id; s64 v; } r = {1, 0, 42};
//                        return bpf_ringbuf_output(&btap_output, &r, 16, 0); }
std::unique_ptr<llvm::Module> RecordProbe(llvm::LLVMContext& context, bool bad_read = false) {
  auto module = std::make_unique<llvm::Module>("record", context);
  MapBuilder maps(*module);
  llvm::GlobalVariable* ring = maps.Define({"btap_output", BPF_MAP_TYPE_RINGBUF, 256 * 1024, 0, 0});
  llvm::IRBuilder<> b(context);
  auto* type = llvm::FunctionType::get(b.getInt32Ty(), {b.getPtrTy()}, false);
  auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "probe_0", *module);
  fn->setSection("raw_tracepoint/sched_switch");
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", fn));
  b.SetCurrentDebugLocation(maps.Describe(*fn, 1));
  auto* record_type =
      llvm::StructType::get(context, {b.getInt32Ty(), b.getInt32Ty(), b.getInt64Ty()});
  llvm::Value* record = b.CreateAlloca(record_type);
  b.CreateStore(b.getInt32(1), b.CreateStructGEP(record_type, record, 0));
  b.CreateStore(b.getInt32(0), b.CreateStructGEP(record_type, record, 1));
  llvm::Value* value = b.getInt64(42);
  if (bad_read)  // far outside a raw tracepoint's context: the verifier must refuse it
    value = b.CreateLoad(b.getInt64Ty(), b.CreateConstGEP1_64(b.getInt8Ty(), fn->getArg(0), 4096));
  b.CreateStore(value, b.CreateStructGEP(record_type, record, 2));
  auto* output_type = llvm::FunctionType::get(
      b.getInt64Ty(), {b.getPtrTy(), b.getPtrTy(), b.getInt64Ty(), b.getInt64Ty()}, false);
  llvm::Value* helper = b.CreateIntToPtr(b.getInt64(BPF_FUNC_ringbuf_output), b.getPtrTy());
  llvm::Value* result =
      b.CreateCall(output_type, helper, {ring, record, b.getInt64(16), b.getInt64(0)});
  b.CreateRet(b.CreateTrunc(result, b.getInt32Ty()));
  auto* license = llvm::ConstantDataArray::getString(context, "GPL");
  auto* global = new llvm::GlobalVariable(*module, license->getType(), true,
                                          llvm::GlobalValue::ExternalLinkage, license, "_license");
  global->setSection("license");
  maps.Finalize();
  return module;
}

std::vector<uint8_t> SessionObject(bool bad_read) {
  llvm::LLVMContext context;
  auto module = RecordProbe(context, bad_read);
  meta::Meta m;
  m.script_name = "session.stp";
  m.formats = {"value=%d\n"};
  meta::Probe p;
  p.program = "probe_0";
  p.point = "kernel.trace(\"raw_syscalls:sys_enter\")";
  p.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
  p.target = "raw_syscalls:sys_enter";
  m.probes = {p};
  AddMetaSection(*module, meta::Encode(m));
  std::vector<uint8_t> object;
  std::string error;
  EXPECT_TRUE(EmitObject(*module, object, &error)) << error;
  EXPECT_TRUE(SealObject(object, m, &error)) << error;
  return object;
}

TEST(OutputPath, KernelRecordBecomesText) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF needs root";
  llvm::LLVMContext context;
  auto module = RecordProbe(context);
  std::vector<uint8_t> object;
  std::string error;
  ASSERT_TRUE(EmitObject(*module, object, &error)) << error;
  bpf_object* obj = bpf_object__open_mem(object.data(), object.size(), nullptr);
  ASSERT_NE(obj, nullptr);
  bpf_map* map = bpf_object__find_map_by_name(obj, "btap_output");
  ASSERT_NE(map, nullptr) << "the ring buffer's BTF definition was not understood";
  EXPECT_EQ(bpf_map__type(map), BPF_MAP_TYPE_RINGBUF);
  ASSERT_EQ(bpf_object__load(obj), 0);
  EXPECT_GE(bpf_object__btf_fd(obj), 0) << "the kernel refused the object's BTF";

  runtime::OutputFormatter formatter;
  meta::Meta meta;
  meta.formats = {"value=%d\n"};
  ASSERT_TRUE(formatter.Init(meta, &error)) << error;
  struct Sink {
    runtime::OutputFormatter* formatter;
    std::string text, error;
  } sink{&formatter, {}, {}};
  ring_buffer* rb = ring_buffer__new(
      bpf_map__fd(map),
      [](void* ctx, void* data, size_t size) {
        auto* s = static_cast<Sink*>(ctx);
        std::span<const uint8_t> bytes(static_cast<const uint8_t*>(data), size);
        return s->formatter->FormatRecord(bytes, s->text, &s->error) ? 0 : -1;
      },
      &sink, nullptr);
  ASSERT_NE(rb, nullptr);

  bpf_program* prog = bpf_object__find_program_by_name(obj, "probe_0");
  uint64_t args[1] = {0};
  LIBBPF_OPTS(bpf_test_run_opts, run, .ctx_in = args, .ctx_size_in = sizeof args);
  ASSERT_EQ(bpf_prog_test_run_opts(bpf_program__fd(prog), &run), 0);
  EXPECT_EQ(run.retval, 0u);
  EXPECT_EQ(ring_buffer__consume(rb), 1);
  EXPECT_EQ(sink.error, "");
  EXPECT_EQ(sink.text, "value=42\n");
  ring_buffer__free(rb);
  bpf_object__close(obj);
}

TEST(OutputPath, SessionStreamsUntilStopped) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF needs root";
  runtime::Session session;
  std::string error;
  ASSERT_TRUE(session.Open(SessionObject(false), &error)) << error;
  ASSERT_TRUE(session.Load(&error)) << error;
  ASSERT_TRUE(session.Attach(&error)) << error;
  std::ostringstream out;
  bool ok = false;
  runtime::RunOptions options;
  options.timeout_seconds = 10;
  options.handle_signals = false;
  std::thread run([&] { ok = session.Run(options, out, &error); });
  for (int i = 0; i < 100; ++i) getppid();  // system calls fire sys_enter
  session.RequestStop();
  run.join();
  ASSERT_TRUE(ok) << error;
  std::istringstream lines(out.str());
  size_t count = 0;
  for (std::string line; std::getline(lines, line); ++count) ASSERT_EQ(line, "value=42");
  EXPECT_GE(count, 100u);
}

TEST(OutputPath, VerifierRejectionIsExplained) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF needs root";
  runtime::Session session;
  std::string error;
  ASSERT_TRUE(session.Open(SessionObject(true), &error)) << error;
  EXPECT_FALSE(session.Load(&error));
  EXPECT_NE(error.find("the kernel refused the compiled probes"), std::string::npos) << error;
  EXPECT_NE(error.find("invalid"), std::string::npos) << error;
}

}  // namespace
}  // namespace btap::codegen
