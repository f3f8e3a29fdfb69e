// The BPF runtime library (codegen/bpflib/*.c as bitcode, built into btap) and its
// linking into a script's module: only the functions the module calls are kept.
#pragma once

#include <span>
#include <string>

namespace llvm {
class Module;
}

namespace btap::codegen {

std::span<const unsigned char> RuntimeLibraryBitcode();

// Links the library into `module`, keeping only what `module` references.
bool LinkRuntimeLibrary(llvm::Module& module, std::string* error);

}  // namespace btap::codegen
