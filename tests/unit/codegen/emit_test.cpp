// The LLVM end of codegen against the real kernel: an IR module becomes a BPF object
// that libbpf opens as it is and the kernel's verifier loads; emission is deterministic;
// the `.btap.meta` section written here is what the runtime reads back.
#include "codegen/emit.h"

#include "codegen/seal.h"

#include "runtime/object.h"

#include <bpf/libbpf.h>
#include <elf.h>
#include <unistd.h>

#include <algorithm>

#include <gtest/gtest.h>
#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

namespace btap::codegen {
namespace {

// int probe(void *ctx) { return 0; } in a raw tracepoint section, plus a GPL license.
std::unique_ptr<llvm::Module> TinyProbe(llvm::LLVMContext& context) {
  auto module = std::make_unique<llvm::Module>("tiny", context);
  llvm::IRBuilder<> b(context);
  auto* type = llvm::FunctionType::get(b.getInt32Ty(), {b.getPtrTy()}, false);
  auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, "probe_0", *module);
  fn->setSection("raw_tracepoint/sched_switch");
  b.SetInsertPoint(llvm::BasicBlock::Create(context, "entry", fn));
  b.CreateRet(b.getInt32(0));
  auto* license = llvm::ConstantDataArray::getString(context, "GPL");
  auto* global = new llvm::GlobalVariable(*module, license->getType(), true,
                                          llvm::GlobalValue::ExternalLinkage, license, "_license");
  global->setSection("license");
  return module;
}

meta::Meta SampleMeta() {
  meta::Meta m;
  m.script_name = "tiny.stp";
  m.script_hash = "feed";
  m.formats = {"%d\n"};
  meta::Probe p;
  p.program = "probe_0";
  p.point = "kernel.trace(\"sched:sched_switch\")";
  p.target = "sched:sched_switch";
  m.probes = {p};
  return m;
}

std::vector<uint8_t> Emit(bool with_meta = true) {
  llvm::LLVMContext context;
  auto module = TinyProbe(context);
  if (with_meta) AddMetaSection(*module, meta::Encode(SampleMeta()));
  std::vector<uint8_t> object;
  std::string error;
  EXPECT_TRUE(EmitObject(*module, object, &error)) << error;
  if (with_meta) EXPECT_TRUE(SealObject(object, SampleMeta(), &error)) << error;
  return object;
}

TEST(Emit, ObjectIsBpfElf) {
  std::vector<uint8_t> object = Emit();
  ASSERT_GE(object.size(), sizeof(Elf64_Ehdr));
  const auto* header = reinterpret_cast<const Elf64_Ehdr*>(object.data());
  EXPECT_EQ(header->e_machine, EM_BPF);
  EXPECT_EQ(header->e_ident[EI_CLASS], ELFCLASS64);
}

TEST(Emit, Deterministic) { EXPECT_EQ(Emit(), Emit()); }

TEST(Emit, LibbpfOpensAndTheKernelLoads) {
  std::vector<uint8_t> object = Emit();
  bpf_object* obj = bpf_object__open_mem(object.data(), object.size(), nullptr);
  ASSERT_NE(obj, nullptr);
  bpf_program* prog = bpf_object__find_program_by_name(obj, "probe_0");
  ASSERT_NE(prog, nullptr);
  EXPECT_STREQ(bpf_program__section_name(prog), "raw_tracepoint/sched_switch");
  if (geteuid() != 0) {
    bpf_object__close(obj);
    GTEST_SKIP() << "loading BPF needs root";
  }
  EXPECT_EQ(bpf_object__load(obj), 0);
  EXPECT_GE(bpf_program__fd(prog), 0);
  bpf_object__close(obj);
}

TEST(Emit, RuntimeReadsTheMetaSectionBack) {
  std::vector<uint8_t> object = Emit();
  meta::Meta back;
  std::string error;
  ASSERT_TRUE(runtime::ReadObjectMeta(object, &back, &error)) << error;
  // Every section has a digest, the program's among them.
  std::vector<std::string> names;
  for (const meta::SectionDigest& s : back.sections) names.push_back(s.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "raw_tracepoint/sched_switch"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), ".symtab"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), ".btap.meta"), names.end());
  back.sections.clear();
  EXPECT_EQ(back, SampleMeta());
}

// The probe with debug info (a compile unit, the program's subprogram, a located return),
// as lowering gives every program: BTF and .BTF.ext come from it, DWARF does not.
TEST(Emit, DebugInfoBecomesBtfAndNoDwarf) {
  llvm::LLVMContext context;
  auto module = TinyProbe(context);
  llvm::DIBuilder di(*module);
  llvm::DIFile* file = di.createFile("tiny.stp", ".");
  llvm::DICompileUnit* unit =
      di.createCompileUnit(llvm::dwarf::DW_LANG_C99, file, "btap", true, "", 0);
  module->addModuleFlag(llvm::Module::Warning, "Debug Info Version", llvm::DEBUG_METADATA_VERSION);
  module->addModuleFlag(llvm::Module::Warning, "Dwarf Version", 4);
  llvm::DIBasicType* int_type = di.createBasicType("int", 32, llvm::dwarf::DW_ATE_signed);
  llvm::DIType* pointer = di.createPointerType(nullptr, 64);
  llvm::DISubprogram* sp =
      di.createFunction(unit, "probe_0", "probe_0", file, 1,
                        di.createSubroutineType(di.getOrCreateTypeArray({int_type, pointer})), 1,
                        llvm::DINode::FlagPrototyped, llvm::DISubprogram::SPFlagDefinition);
  llvm::Function* fn = module->getFunction("probe_0");
  fn->setSubprogram(sp);
  fn->getEntryBlock().getTerminator()->setDebugLoc(llvm::DILocation::get(context, 1, 1, sp));
  di.finalize();
  AddMetaSection(*module, meta::Encode(SampleMeta()));
  std::vector<uint8_t> object;
  std::string error;
  ASSERT_TRUE(EmitObject(*module, object, &error)) << error;
  ASSERT_TRUE(SealObject(object, SampleMeta(), &error)) << error;
  meta::Meta back;
  ASSERT_TRUE(runtime::ReadObjectMeta(object, &back, &error)) << error;
  std::vector<std::string> names;
  for (const meta::SectionDigest& s : back.sections) names.push_back(s.name);
  auto has = [&](const char* name) {
    return std::find(names.begin(), names.end(), name) != names.end();
  };
  EXPECT_TRUE(has(".BTF"));
  EXPECT_TRUE(has(".BTF.ext"));
  EXPECT_FALSE(has(".debug_info"));
  EXPECT_FALSE(has(".debug_line"));
  EXPECT_FALSE(has(".debug_abbrev"));
}

TEST(Emit, ObjectsWithoutMetaOrNotBpfAreRefused) {
  meta::Meta m;
  std::string error;
  EXPECT_FALSE(runtime::ReadObjectMeta(Emit(false), &m, &error));
  EXPECT_NE(error.find("not compiled by btap"), std::string::npos) << error;
  std::vector<uint8_t> junk = {'n', 'o', 't', ' ', 'e', 'l', 'f'};
  EXPECT_FALSE(runtime::ReadObjectMeta(junk, &m, &error));
  EXPECT_EQ(error, "not an ELF object");
  std::vector<uint8_t> object = Emit();
  reinterpret_cast<Elf64_Ehdr*>(object.data())->e_machine = EM_X86_64;
  EXPECT_FALSE(runtime::ReadObjectMeta(object, &m, &error));
  EXPECT_NE(error.find("not a BPF object"), std::string::npos) << error;
  // Truncated objects are errors, whatever the cut.
  object = Emit();
  for (size_t n = 0; n < object.size(); n += 7)
    EXPECT_FALSE(runtime::ReadObjectMeta(std::span(object).first(n), &m, &error)) << n;
}

}  // namespace
}  // namespace btap::codegen
