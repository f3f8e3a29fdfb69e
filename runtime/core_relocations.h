// The object's CO-RE relocations against the loading kernel's BTF: when libbpf refuses
// an object for a relocation, every one this kernel cannot satisfy (a struct member the
// object reads and this kernel lacks) is named with the script line that reads it, all
// at once; `btaprun -L` lists them before anything loads.
#pragma once

#include <bpf/btf.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/object_meta.h"

namespace btap::runtime {

// One relocation of the object's `.BTF.ext`, as the BPF backend wrote it.
struct CoreRelocation {
  std::string section;    // the program's ELF section
  uint32_t kind = 0;      // enum bpf_core_relo_kind
  uint32_t type = 0;      // the root type in the object's BTF
  std::string access;     // "0:3:1": the array index, then member (or element) indexes
  uint32_t insn_off = 0;  // the instruction's byte offset in the section
};

// The relocations of a `.BTF.ext` section (whose strings are in `btf`, the object's
// BTF). False with a message when the section is malformed.
bool ReadCoreRelocations(std::string_view btf_ext, const struct btf* btf,
                         std::vector<CoreRelocation>* out, std::string* error);

// The loading kernel's named types, found by name: vmlinux's, then its modules' (read
// the first time a name is not in vmlinux). Nothing is read until a name is asked for.
class KernelTypes {
 public:
  using Loader = std::function<struct btf*()>;
  using ModuleLoader = std::function<std::vector<struct btf*>(struct btf* vmlinux)>;
  // Each loader is called at most once; the BTFs they give are this object's.
  KernelTypes(Loader vmlinux, ModuleLoader modules);
  // The running kernel's: /sys/kernel/btf/vmlinux and its modules beside it.
  static KernelTypes Running();
  ~KernelTypes();
  KernelTypes(KernelTypes&&) = default;
  KernelTypes(const KernelTypes&) = delete;
  KernelTypes& operator=(const KernelTypes&) = delete;

  struct Type {
    const struct btf* btf;
    uint32_t id;
  };
  // Types named `name` (their "___flavour" suffix aside) of the kind `kind` (enum and
  // enum64 match each other).
  std::vector<Type> Named(std::string_view name, uint16_t kind);
  // Whether the kernel's BTF could be read (after Named).
  bool Known() const { return vmlinux_ != nullptr; }

 private:
  void Scan(const struct btf* btf, uint32_t first, const std::string& name,
            std::vector<Type>* found) const;
  Loader load_vmlinux_;
  ModuleLoader load_modules_;
  struct btf* vmlinux_ = nullptr;
  bool vmlinux_loaded_ = false, modules_loaded_ = false;
  std::vector<struct btf*> modules_;
  struct Found {
    std::vector<Type> types;  // every kind
    bool modules = false;     // the modules' were looked for too
  };
  std::unordered_map<std::string, Found> by_name_;  // by essential name
};

// How the relocation is spelled in messages, as libbpf spells it and codegen records it
// (meta::CoreSite): "struct task_struct.se.load", or "struct foo" for a type.
std::string CoreSpec(const struct btf* btf, const CoreRelocation& relocation);

// Whether the kernel has what the relocation needs: the field (by name, through
// anonymous members), the type, or the enumerator. Existence tests are always satisfied
// (their answer is the relocation), and so is what cannot be read here: only a certain
// miss is reported, libbpf deciding the rest.
bool Satisfied(const struct btf* btf, const CoreRelocation& relocation, KernelTypes& kernel);

// "" when this kernel satisfies every relocation that `loaded` accepts (all when it is
// empty), or the message naming each miss and where
// the script reads it. Reads made only under a load-time `@defined` are left out: the
// verifier drops that code. Other code that never runs here may still be named (a read
// after `if (!@defined(...)) next`), so this explains a failed load, or warns (-L); it
// does not decide whether an object loads.
std::string UnsatisfiedCoreRelocations(std::span<const uint8_t> object, const meta::Meta& meta,
                                       KernelTypes& kernel,
                                       std::function<bool(const CoreRelocation&)> loaded = {});

// From libbpf's log of a failed load: "this kernel's `struct task_struct` has no member
// `user_dumpable`, read at FILE:LINE:COL" (the place when the metadata has it), or ""
// when no CO-RE relocation failed.
std::string ExplainCoreFailure(const std::string& log, const meta::Meta& meta);

}  // namespace btap::runtime
