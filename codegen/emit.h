// The LLVM end of codegen: the BPF target, set up once, and a module emitted as an
// in-memory ELF object that libbpf opens as it is. Deterministic for the same module.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace llvm {
class Module;
class LLVMContext;
}  // namespace llvm

namespace btap::meta {
struct Probe;
}  // namespace btap::meta

namespace btap::codegen {

// The target triple and data layout every btap module uses (little-endian BPF).
const char* BpfTriple();

// Prepares `module` for the BPF target (triple, data layout).
bool ConfigureModule(llvm::Module& module, std::string* error);

// Stores the encoded `.btap.meta` bytes in the module, in their own section.
void AddMetaSection(llvm::Module& module, const std::vector<uint8_t>& meta);

// Optimises (pipeline.h) and emits `module` as a relocatable BPF ELF object; with `assembly`,
// also the instructions as text (from a copy of the optimised module). `probes` (the
// module's) name a probe in the error for one too large.
bool EmitObject(llvm::Module& module, std::vector<uint8_t>& object, std::string* error,
                std::string* assembly = nullptr, const std::vector<meta::Probe>* probes = nullptr);

}  // namespace btap::codegen
