// Linking the BPF runtime library's bitcode (see bpflib.h).
#include "codegen/bpflib.h"

#include <llvm/Bitcode/BitcodeReader.h>
#include <llvm/IR/DIBuilder.h>
#include <llvm/IR/InstIterator.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Module.h>
#include <llvm/Linker/Linker.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>

#include "codegen/emit.h"

namespace btap::codegen {
namespace {

// bpf_loop callbacks stay subprograms, and the kernel wants function BTF (with named
// parameters) for every subprogram once a program has any: the library is built
// without debug info, so each callback gets a subprogram in the module's unit here. A
// global function (`global`: the verifier checks it once, by its prototype) gets one
// too, visible outside the unit. Arguments are longs, pointers point to one long (sized,
// as maps.cpp's: the verifier reads a global function's as 8 bytes of memory), or to N
// bytes when the C parameter is `p[static N]` (which clang marks dereferenceable(N)).
void Describe(llvm::Module& module, llvm::Function& f, bool global) {
  if (f.getSubprogram() || module.debug_compile_units().empty()) return;
  llvm::DICompileUnit* unit = *module.debug_compile_units_begin();
  llvm::DIBuilder di(module, true, unit);
  llvm::DIFile* file = unit->getFile();
  llvm::DIBasicType* long_type = di.createBasicType("long", 64, llvm::dwarf::DW_ATE_signed);
  llvm::DIDerivedType* pointer = di.createPointerType(long_type, 64);
  std::vector<llvm::Metadata*> types = {long_type};
  for (llvm::Argument& a : f.args()) {
    uint64_t bytes = a.getType()->isPointerTy() ? f.getParamDereferenceableBytes(a.getArgNo()) : 0;
    if (bytes) {
      llvm::DIBasicType* byte = di.createBasicType("char", 8, llvm::dwarf::DW_ATE_unsigned_char);
      llvm::DINodeArray range = di.getOrCreateArray({di.getOrCreateSubrange(0, bytes)});
      types.push_back(di.createPointerType(di.createArrayType(bytes * 8, 8, byte, range), 64));
      continue;
    }
    types.push_back(a.getType()->isPointerTy() ? static_cast<llvm::DIType*>(pointer) : long_type);
  }
  llvm::DISubroutineType* type = di.createSubroutineType(di.getOrCreateTypeArray(types));
  auto flags = llvm::DISubprogram::SPFlagDefinition;
  if (!global) flags |= llvm::DISubprogram::SPFlagLocalToUnit;
  llvm::DISubprogram* sp = di.createFunction(file, f.getName(), f.getName(), file, 0, type, 0,
                                             llvm::DINode::FlagPrototyped, flags);
  f.setSubprogram(sp);
  // bpf_loop callbacks take (index, ctx); bpf_for_each_map_elem's (map, key, value, ctx).
  static const char* const kLoopNames[] = {"index", "ctx"};
  static const char* const kMapNames[] = {"map", "key", "value", "ctx"};
  for (llvm::Argument& a : f.args()) {
    unsigned i = a.getArgNo();
    std::string name = global || i >= 4    ? "arg" + std::to_string(i)
                       : f.arg_size() == 2 ? kLoopNames[i]
                                           : kMapNames[i];
    di.createParameterVariable(sp, name, i + 1, file, 0, static_cast<llvm::DIType*>(types[i + 1]),
                               true);
  }
  di.finalizeSubprogram(sp);
}

}  // namespace

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
    if (f.getName().startswith("btap_global_")) {  // verified once, wherever it is called
      Describe(module, f, true);
      continue;
    }
    f.setLinkage(llvm::GlobalValue::InternalLinkage);
    if (f.getName().startswith("btap_cb_")) Describe(module, f, false);
  }
  // A call of a function with debug info, in one that has it, needs a location (the
  // callbacks' bodies have none of their own).
  for (llvm::Function& f : module) {
    llvm::DISubprogram* sp = f.getSubprogram();
    if (!sp || !f.getName().startswith("btap_cb_")) continue;
    for (llvm::Instruction& i : llvm::instructions(f))
      if (auto* call = llvm::dyn_cast<llvm::CallInst>(&i);
          call && !call->getDebugLoc() && call->getCalledFunction() &&
          call->getCalledFunction()->getSubprogram())
        call->setDebugLoc(llvm::DILocation::get(module.getContext(), 0, 0, sp));
  }
  return true;
}

}  // namespace btap::codegen
