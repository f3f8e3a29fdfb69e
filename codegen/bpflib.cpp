// Linking the BPF runtime library's bitcode (see bpflib.h).
#include "codegen/bpflib.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/Module.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

#include "codegen/emit.h"

namespace btap::codegen {

bool LinkRuntimeLibrary(llvm::Module& module, std::string* error) {
  std::span<const unsigned char> bitcode = RuntimeLibraryBitcode();
  llvm::MemoryBufferRef buffer(
      llvm::StringRef(reinterpret_cast<const char*>(bitcode.data()), bitcode.size()),
      "btap-bpflib");
  // Lazily: the linker materialises only the functions the module calls, so a script
  // does not pay for reading the whole library (the bitcode is static data).
  llvm::Expected<std::unique_ptr<llvm::Module>> library =
      llvm::getLazyBitcodeModule(buffer, module.getContext());
  if (!library) {
    *error = "the built-in BPF library is unreadable: " + llvm::toString(library.takeError());
    return false;
  }
  if (!ConfigureModule(module, error)) return false;
  (*library)->setDataLayout(module.getDataLayout());
  (*library)->setTargetTriple(module.getTargetTriple());
  if (llvm::Linker::linkModules(module, std::move(*library), llvm::Linker::LinkOnlyNeeded)) {
    *error = "linking the built-in BPF library failed";
    return false;
  }
  // Library functions are inlined into the probes: the inliner needs the same target
  // attributes on both sides, and an internal copy disappears once inlined.
  for (llvm::Function& f : module) {
    if (f.isDeclaration() || !f.getName().startswith("btap_")) continue;
    f.removeFnAttr("target-cpu");
    f.removeFnAttr("target-features");
    f.setLinkage(llvm::GlobalValue::InternalLinkage);
  }
  return true;
}

}  // namespace btap::codegen
