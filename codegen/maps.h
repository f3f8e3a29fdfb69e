// BTF-defined BPF maps. libbpf reads a map's definition from the BTF of its `.maps`
// variable (`struct { int (*type)[T]; int (*max_entries)[N]; ... }`), so codegen builds
// that type with LLVM's debug-info builder and lets the BPF backend emit `.BTF`. A module
// with debug info needs it on every program too (and gets line info for verifier
// messages from it): Describe() gives a program its subprogram and a location.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace llvm {
class DIBuilder;
class DICompileUnit;
class DIFile;
class DIScope;
class DISubprogram;
class DILocation;
class Function;
class GlobalVariable;
class Module;
}  // namespace llvm

namespace btap::codegen {

struct MapSpec {
  std::string name;
  uint32_t type = 0;  // BPF_MAP_TYPE_*
  uint32_t max_entries = 0;
  uint32_t key_size = 0;  // 0: not part of the definition (ring buffers)
  uint32_t value_size = 0;
  uint32_t flags = 0;  // BPF_F_*
  // Key and value described by BTF types (an int, bytes), not only by their sizes: local
  // storage maps require them.
  bool typed = false;
};

// One per module: owns the debug-info builder whose types become the object's BTF.
class MapBuilder {
 public:
  explicit MapBuilder(llvm::Module& module);
  ~MapBuilder();

  llvm::GlobalVariable* Define(const MapSpec& spec);
  // Gives a program (`int f(void *ctx)`) debug info; returns the location of its first
  // line, for IRBuilder::SetCurrentDebugLocation.
  llvm::DILocation* Describe(llvm::Function& program, unsigned line, llvm::DIFile* file = nullptr,
                             const std::vector<std::string>& params = {"ctx"});
  // A source file, with its text embedded so that BTF line info (and so the verifier's
  // log) can quote script lines.
  llvm::DIFile* SourceFile(const std::string& name, const std::string& text);
  // The location of `line`:`column` of `file` (the program's own when null) in `program`.
  llvm::DILocation* Place(llvm::Function& program, llvm::DIFile* file, unsigned line,
                          unsigned column);
  // The builder and file that kernel types (CO-RE accesses, core_access.cpp) are described
  // with: they become the object's BTF too.
  llvm::DIBuilder& di() { return *di_; }
  llvm::DIFile* file() { return file_; }
  // Each CO-RE member's index in its struct's copy, per struct (core_access.cpp).
  std::map<std::string, std::map<std::string, uint32_t>>& core_indexes() { return core_indexes_; }
  // Completes the debug info; call once, before emitting the module.
  void Finalize();

 private:
  llvm::Module& module_;
  std::unique_ptr<llvm::DIBuilder> di_;
  llvm::DICompileUnit* unit_;
  llvm::DIFile* file_;
  std::map<std::string, std::map<std::string, uint32_t>> core_indexes_;
  std::map<llvm::DIFile*, llvm::DISubprogram*> inlined_;  // Place's, per file
};

}  // namespace btap::codegen
