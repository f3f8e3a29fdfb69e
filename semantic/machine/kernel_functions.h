// The kernel functions a script may probe (DESIGN decision 12): the functions kernel BTF
// describes, intersected with what ftrace can trace (`available_filter_functions`, when
// this process may read it), minus the kprobe blacklist and stap's own refusals. Read
// lazily, once, by `kernel.function` probes and by `btap -l/-L`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "semantic/machine/kernel_btf.h"

struct btf;

namespace btap::sema {

struct KernelParam {
  std::string name;    // "file"
  std::string c_type;  // "struct file*", stap's spelling
  uint32_t size = 8;   // bytes; 0 for what no register holds (a struct passed by value)
  uint32_t type = 0;   // BTF id
  bool is_signed = false;
};

struct KernelFunction {
  std::string_view name;  // points into the BTF string section
  uint32_t proto = 0;     // BTF id of its FUNC_PROTO
};

class KernelFunctionIndex {
 public:
  // An index of the running kernel's functions (`btf_path` and `tracefs_root` default
  // to the running kernel's); `error` says why it is empty.
  // For another kernel (`running` false) BTF alone says what there is: the running
  // kernel's ftrace list and blacklist do not apply. `btf`, when given, gives
  // `btf_path`'s BTF (a Machine's one parse).
  static std::unique_ptr<KernelFunctionIndex> Load(const std::string& btf_path,
                                                   const std::string& tracefs_root,
                                                   bool running = true, BtfSource btf = {});
  // Module `module`'s functions: its split BTF (`btf_path`: /sys/kernel/btf/MODULE, or the
  // module's .ko) over `vmlinux`'s, which must outlive it.
  static std::unique_ptr<KernelFunctionIndex> LoadModule(const KernelFunctionIndex& vmlinux,
                                                         const std::string& module,
                                                         const std::string& btf_path,
                                                         const std::string& tracefs_root,
                                                         bool running = true);
  ~KernelFunctionIndex();
  const std::string& module() const { return module_; }  // "" for vmlinux
  // Type ids below this are vmlinux's (all of them for vmlinux's index).
  uint32_t base_types() const { return base_types_; }

  // The probeable functions whose names match `glob`, sorted by name.
  std::vector<const KernelFunction*> Match(std::string_view glob) const;
  // Every probeable name, sorted (for suggestions).
  std::vector<std::string_view> Names() const;
  // Why a function that exists is not probeable ("" when it is, or is not known at all).
  std::string Refusal(std::string_view name) const;
  std::vector<KernelParam> Params(const KernelFunction& f) const;
  // Its return value ("" as the type for void).
  KernelParam Return(const KernelFunction& f) const;

  const std::string& error() const { return error_; }
  const struct btf* btf() const { return btf_.get(); }
  // Whether ftrace's list narrowed the set (false: BTF alone, as on kernels that do not
  // let this process read it).
  bool filtered() const { return filtered_; }
  // The running kernel's (its kallsyms and ftrace list apply), or another's BTF.
  bool running() const { return running_; }

 private:
  KernelFunctionIndex() = default;
  SharedBtf btf_;
  std::vector<KernelFunction> functions_;                          // probeable, sorted by name
  std::vector<std::pair<std::string_view, std::string>> refused_;  // sorted by name
  std::string error_;
  bool filtered_ = false;
  bool running_ = true;
  std::string module_;
  uint32_t base_types_ = UINT32_MAX;
  std::unordered_set<std::string> init_exit_;  // a module file's .init/.exit functions
  // Fills functions_ and refused_ from the FUNCs with ids from `first`.
  void Index(uint32_t first, const std::string& tracefs_root);
};

// A BTF type with its typedefs and qualifiers (const, volatile, ...) taken off.
uint32_t StripBtfModifiers(const struct btf* btf, uint32_t type);

// stap's refusals for kernel functions: code that kprobes must not enter (the lock,
// atomic and NMI families, the exception and debug paths). "" when probeable.
std::string StapRefusal(std::string_view name);

}  // namespace btap::sema
