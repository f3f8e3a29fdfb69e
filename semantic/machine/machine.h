// Facts about the machine that pass 2 reads lazily (only when a script needs them):
// the tracepoint catalog from tracefs and kernel BTF, the system calls, and the kernel's
// probeable functions.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/header_types.h"
#include "semantic/machine/kernel_btf.h"
#include "semantic/machine/kernel_dwarf.h"
#include "semantic/machine/kernel_functions.h"
#include "semantic/machine/syscalls.h"
#include "semantic/machine/tracepoints.h"
#include "semantic/machine/user_binary.h"

namespace btap::sema {

class Machine {
 public:
  // `running`: the kernel is the running one, so its ftrace list and kprobe blacklist
  // apply (not so for another kernel's BTF, given by `btf_path`).
  // `modules_dir`: another kernel's modules (.ko files under it); for the running kernel
  // ("") the loaded modules, through /sys/kernel/btf.
  Machine(std::string tracefs_root = "", std::string btf_path = "", bool running = true,
          std::string modules_dir = "")
      : tracefs_root_(std::move(tracefs_root)),
        btf_path_(std::move(btf_path)),
        running_(running),
        modules_dir_(std::move(modules_dir)) {}
  // The kernel compiled for is the running one (its kallsyms and tracefs apply).
  bool running() const { return running_; }
  // The kernel's BTF (`btf_path`, or the running kernel's), parsed once for every reader;
  // null, with `error` set, when there is none.
  const SharedBtf& kernel_btf(std::string* error = nullptr) {
    if (!btf_tried_) {
      btf_tried_ = true;
      btf_ = ParseKernelBtf(btf_path_, &btf_error_);
    }
    if (error) *error = btf_error_;
    return btf_;
  }
  const TracepointCatalog& tracepoints() {
    if (!tracepoints_)
      tracepoints_ = std::make_unique<TracepointCatalog>(TracepointCatalog::Load(
          tracefs_root_, btf_path_, [this](std::string* error) { return kernel_btf(error); }));
    return *tracepoints_;
  }
  // The running kernel's system calls (loads a BPF iterator once; see syscalls.h).
  const TaskOffsets& task_offsets() {
    if (!task_offsets_) task_offsets_ = std::make_unique<TaskOffsets>(LoadTaskOffsets());
    return *task_offsets_;
  }
  BinaryCache& binaries() { return binaries_; }
  // The types of C header lists (`@cast(p, "T", "<sys/time.h>")`), compiled by the compiler
  // the driver sets (header_types.h).
  HeaderTypes& header_types() { return header_types_; }
  // The kernel's GNU build id ("" with `error` when unknown), for objects that hold its
  // addresses: the running kernel's notes, or the `-r` image's.
  const std::string& kernel_build_id(std::string* error);
  // The probeable kernel functions (BTF, ftrace's list, the blacklists).
  const KernelFunctionIndex& kernel_functions() {
    if (!kernel_functions_)
      kernel_functions_ =
          KernelFunctionIndex::Load(btf_path_, tracefs_root_, running_,
                                    [this](std::string* error) { return kernel_btf(error); });
    return *kernel_functions_;
  }
  // The kernel modules whose names match `glob`, sorted by name, each with its function
  // index (kernel_modules.cpp); `error` says why none could be looked at.
  std::vector<const KernelFunctionIndex*> kernel_modules(std::string_view glob, std::string* error);
  // The kernel's DWARF, for what BTF cannot say (kernel_dwarf.h); opened on first use.
  void set_target_kernel(const TargetKernel& target) {
    image_ = target.image;  // its build id is the image's whenever there is one (as KernelDwarf's)
    target_ = target;
    kernel_dwarf_ = std::make_unique<KernelDwarf>(target);
  }
  KernelDwarf& kernel_dwarf() {
    if (!kernel_dwarf_) kernel_dwarf_ = std::make_unique<KernelDwarf>(TargetKernel{});
    return *kernel_dwarf_;
  }
  const KernelDwarf* kernel_dwarf_if_made() const { return kernel_dwarf_.get(); }
  // A kernel module's DWARF (its .ko with debug information), opened on first use.
  KernelDwarf& module_dwarf(const std::string& module) {
    std::unique_ptr<KernelDwarf>& d = module_dwarfs_[module];
    if (!d) d = std::make_unique<KernelDwarf>(target_, module);
    return *d;
  }
  const std::map<std::string, std::unique_ptr<KernelDwarf>>& module_dwarfs() const {
    return module_dwarfs_;
  }
  // Whether the kernel's BTF has task_struct.thread_info.status, 4 bytes (syscalls.h).
  bool task_compat_status() {
    if (!task_compat_status_) task_compat_status_ = HasTaskCompatStatus(kernel_btf().get());
    return *task_compat_status_;
  }
  const SyscallTable& syscalls() {
    if (!syscalls_) {
      // The table is the running kernel's: its BTF serves when that is the one parsed.
      const struct btf* running = running_ && btf_path_.empty() ? kernel_btf().get() : nullptr;
      syscalls_ = std::make_unique<SyscallTable>(SyscallTable::Load(tracepoints(), running));
    }
    return *syscalls_;
  }

 private:
  std::string tracefs_root_;
  std::string btf_path_;
  bool running_ = true;
  std::string modules_dir_;
  SharedBtf btf_;
  std::string btf_error_;
  bool btf_tried_ = false;
  std::optional<bool> task_compat_status_;
  std::string image_;
  std::optional<std::string> build_id_;
  std::string build_id_error_;
  std::map<std::string, std::string> module_files_;  // name -> BTF file, once listed
  bool modules_listed_ = false;
  std::map<std::string, std::unique_ptr<KernelFunctionIndex>> module_indexes_;
  std::unique_ptr<TracepointCatalog> tracepoints_;
  std::unique_ptr<SyscallTable> syscalls_;
  std::unique_ptr<TaskOffsets> task_offsets_;
  std::unique_ptr<KernelFunctionIndex> kernel_functions_;
  std::unique_ptr<KernelDwarf> kernel_dwarf_;
  TargetKernel target_;
  std::map<std::string, std::unique_ptr<KernelDwarf>> module_dwarfs_;
  BinaryCache binaries_;
  HeaderTypes header_types_;
};

}  // namespace btap::sema
