// BPF target setup, the module optimised (pipeline.h) and emitted as an object (see emit.h).
#include "codegen/emit.h"

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "codegen/pipeline.h"
#include "common/object_meta.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Metadata.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <memory>
#include <mutex>
#include <vector>

namespace btap::codegen {
namespace {

const llvm::Target* BpfTarget(std::string* error) {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeBPFTargetInfo();
    LLVMInitializeBPFTarget();
    LLVMInitializeBPFTargetMC();
    LLVMInitializeBPFAsmPrinter();
    LLVMInitializeBPFAsmParser();  // the runtime library uses inline assembly
  });
  return llvm::TargetRegistry::lookupTarget(BpfTriple(), *error);
}

std::unique_ptr<llvm::TargetMachine> Machine(std::string* error) {
  const llvm::Target* target = BpfTarget(error);
  if (!target) return nullptr;
  llvm::TargetOptions options;
  return std::unique_ptr<llvm::TargetMachine>(
      target->createTargetMachine(BpfTriple(), "v3", "", options, llvm::Reloc::PIC_, std::nullopt,
                                  llvm::CodeGenOpt::Aggressive));
}

// The debug info is there for BTF and .BTF.ext (types, functions, line info), which the
// BPF backend writes from it; neither the kernel nor the runtime reads DWARF. LLVM 16's
// AsmPrinter writes DWARF only for a module that does not ask for CodeView or names a
// DWARF version, so the module asks for CodeView (which it writes only for Windows
// targets) and its "Dwarf Version" goes: the object is the same without its .debug_info,
// .debug_line and .debug_ranges sections (and their relocations), which took about 2% of
// a 100-probe compile and 15% of its object. .debug_frame stays (LLVM writes a function's
// CFI there whenever the module has debug info).
void DropDwarf(llvm::Module& module) {
  llvm::NamedMDNode* flags = module.getModuleFlagsMetadata();
  if (!flags || module.debug_compile_units().empty()) return;
  std::vector<llvm::MDNode*> kept;
  for (llvm::MDNode* flag : flags->operands()) {
    auto* key =
        flag->getNumOperands() > 1 ? llvm::dyn_cast<llvm::MDString>(flag->getOperand(1)) : nullptr;
    if (!key || key->getString() != "Dwarf Version") kept.push_back(flag);
  }
  flags->clearOperands();
  for (llvm::MDNode* flag : kept) flags->addOperand(flag);
  if (!module.getModuleFlag("CodeView")) module.addModuleFlag(llvm::Module::Warning, "CodeView", 1);
}

// " (the largest probe is `POINT`)" for the program of `probes` with the most
// instructions in `module`, or "".
std::string LargestProbe(const llvm::Module& module, const std::vector<meta::Probe>* probes) {
  if (!probes) return "";
  std::string point;
  size_t most = 0;
  for (const meta::Probe& p : *probes) {
    for (const std::string& name : {p.program, p.fentry_program}) {
      const llvm::Function* fn = name.empty() ? nullptr : module.getFunction(name);
      if (!fn) continue;
      size_t count = 0;
      for (const llvm::BasicBlock& block : *fn) count += block.size();
      if (count > most) {
        most = count;
        point = p.point;
      }
    }
  }
  return point.empty() ? "" : " (the largest probe is `" + point + "`)";
}

}  // namespace

const char* BpfTriple() { return "bpfel-unknown-none"; }

void AddMetaSection(llvm::Module& module, const std::vector<uint8_t>& meta) {
  llvm::LLVMContext& context = module.getContext();
  auto* bytes = llvm::ConstantDataArray::get(context, llvm::ArrayRef<uint8_t>(meta));
  auto* global = new llvm::GlobalVariable(module, bytes->getType(), true,
                                          llvm::GlobalValue::ExternalLinkage, bytes, "__btap_meta");
  global->setSection(meta::kSectionName);
  global->setAlignment(llvm::Align(8));
}

bool ConfigureModule(llvm::Module& module, std::string* error) {
  std::unique_ptr<llvm::TargetMachine> machine = Machine(error);
  if (!machine) return false;
  module.setTargetTriple(BpfTriple());
  module.setDataLayout(machine->createDataLayout());
  return true;
}

bool EmitObject(llvm::Module& module, std::vector<uint8_t>& object, std::string* error,
                std::string* assembly, const std::vector<meta::Probe>* probes) {
  std::unique_ptr<llvm::TargetMachine> machine = Machine(error);
  if (!machine) return false;
  module.setTargetTriple(BpfTriple());
  module.setDataLayout(machine->createDataLayout());
  std::string broken;
  llvm::raw_string_ostream why(broken);
  if (llvm::verifyModule(module, &why)) {
    *error = "invalid IR: " + why.str();
    return false;
  }
  Optimise(module, *machine);
  if (assembly) {
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(module);
    llvm::SmallVector<char, 0> text;
    llvm::raw_svector_ostream text_out(text);
    llvm::legacy::PassManager print;
    if (machine->addPassesToEmitFile(print, text_out, nullptr, llvm::CGFT_AssemblyFile)) {
      *error = "the BPF target cannot print assembly";
      return false;
    }
    print.run(*copy);
    assembly->assign(text.begin(), text.end());
  }
  DropDwarf(module);
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream out(buffer);
  llvm::legacy::PassManager emit;
  if (machine->addPassesToEmitFile(emit, out, nullptr, llvm::CGFT_ObjectFile)) {
    *error = "the BPF target cannot emit objects";
    return false;
  }
  {
    // What the BPF backend cannot encode ends LLVM with a fatal error: said as btap's
    // (the handler may not return). Script functions are inlined, so only smaller probes
    // help; which branch failed is not known, so the largest probe is named.
    std::string largest = LargestProbe(module, probes);
    llvm::ScopedFatalErrorHandler fatal(
        [](void* probe, const char* reason, bool) {
          std::string_view why(reason);
          std::fprintf(stderr, "btap: error: ");
          if (why.find("Branch target out of insn range") != std::string_view::npos)
            std::fprintf(stderr,
                         "a probe is too large for BPF: one of its branches spans more than "
                         "32,767 instructions%s; split it into smaller probes (script functions "
                         "are inlined into each probe that calls them)\n",
                         static_cast<const std::string*>(probe)->c_str());
          else
            std::fprintf(stderr, "the BPF backend failed: %s\n", reason);
          std::_Exit(1);
        },
        &largest);
    emit.run(module);
  }
  object.assign(buffer.begin(), buffer.end());
  return true;
}

}  // namespace btap::codegen
