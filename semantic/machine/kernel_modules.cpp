// Kernel modules for module("M").function("F"): the running kernel's loaded modules (their
// BTF in /sys/kernel/btf), or another kernel's .ko files under its modules directory (`-r`),
// each indexed on first use as split BTF over vmlinux's.
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <functional>
#include <map>

#include "semantic/machine/kernel_dwarf.h"
#include "semantic/machine/machine.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

// Calls f(module, path) for every `NAME.ko` under `dir`, NAME read as the kernel names
// modules (dashes as underscores); compressed modules (.ko.xz, .ko.zst) are not read.
template <typename F>
void ForEachModuleFile(const std::string& dir, int depth, F&& f) {
  DIR* d = depth <= 8 ? opendir(dir.c_str()) : nullptr;
  if (!d) return;
  while (dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st;  // links are not followed: /lib/modules/R/build leads to a whole tree
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      ForEachModuleFile(path, depth + 1, f);
    } else if (name.size() > 3 && name.ends_with(".ko")) {
      std::string module = name.substr(0, name.size() - 3);
      std::replace(module.begin(), module.end(), '-', '_');
      f(module, path);
    }
  }
  closedir(d);
}

}  // namespace

std::vector<std::string> ModuleFilesNamed(const std::string& dir, const std::string& module) {
  // Each directory is walked once per compile (a listing asks for every module).
  static std::map<std::string, std::map<std::string, std::vector<std::string>>> walked;
  auto [files, fresh] = walked.try_emplace(dir);
  if (fresh)
    ForEachModuleFile(dir, 0, [&](const std::string& name, const std::string& path) {
      files->second[name].push_back(path);
    });
  std::string want = module;
  std::replace(want.begin(), want.end(), '-', '_');
  auto it = files->second.find(want);
  if (it == files->second.end()) return {};
  std::vector<std::string> out = it->second;
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<const KernelFunctionIndex*> Machine::kernel_modules(std::string_view glob,
                                                                std::string* error) {
  if (!modules_listed_) {
    modules_listed_ = true;
    if (running_ && modules_dir_.empty()) {
      if (DIR* d = opendir("/sys/kernel/btf")) {
        while (dirent* e = readdir(d)) {
          std::string name = e->d_name;
          if (name != "." && name != ".." && name != "vmlinux")
            module_files_.emplace(name, "/sys/kernel/btf/" + name);
        }
        closedir(d);
      }
    } else {
      ForEachModuleFile(modules_dir_, 0, [&](const std::string& name, const std::string& path) {
        module_files_.emplace(name, path);
      });
    }
  }
  std::vector<const KernelFunctionIndex*> out;
  const KernelFunctionIndex& vmlinux = kernel_functions();
  if (!vmlinux.error().empty()) {
    *error = vmlinux.error();
    return out;
  }
  std::string module_glob(glob);
  std::replace(module_glob.begin(), module_glob.end(), '-', '_');
  for (const auto& [name, path] : module_files_) {
    if (!GlobMatch(module_glob, name)) continue;
    std::unique_ptr<KernelFunctionIndex>& index = module_indexes_[name];
    if (!index)
      index = KernelFunctionIndex::LoadModule(vmlinux, name, path, tracefs_root_, running_);
    if (!index->error().empty()) {
      *error = index->error();
      continue;
    }
    out.push_back(index.get());
  }
  return out;
}

}  // namespace btap::sema
