// `btaprun -L OBJECT`: what each probe of an object would attach to on this machine, found
// as attaching finds it (functions in ftrace's list, tracepoints in tracefs, the probed
// files and their build ids), without loading anything.
#include <sys/stat.h>

#include <map>
#include <unordered_set>

#include "common/build_id.h"
#include "common/tracefs.h"
#include "runtime/attach/attach.h"
#include "runtime/core_relocations.h"

namespace btap::runtime {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

std::string Functions(const meta::Probe& p) {
  if (!KernelHasKprobes()) return "not here: this kernel cannot probe functions (no kprobes)";
  std::vector<std::string> names = TargetLines(p.target);
  // ftrace's list, per module ("" for vmlinux), read once each.
  static std::map<std::string, std::unordered_set<std::string>> traceable;
  auto listed = [&](const std::string& module, const std::string& name) {
    auto [it, fresh] = traceable.try_emplace(module);
    std::string root = FindTracefs();
    if (fresh && !root.empty()) ReadTraceableFunctions(root, &it->second, module);
    return it->second.count(name) > 0;
  };
  if (!listed("", "") && traceable[""].empty()) return "";  // no list to read: no opinion
  std::vector<std::string> missing;
  for (const std::string& n : names) {
    size_t colon = n.find(':');  // MODULE:NAME
    std::string module = colon == std::string::npos ? "" : n.substr(0, colon);
    // (A kernel without loadable modules has no /proc/modules and no module tracepoints to
    // wait on.)
    if (!module.empty() && !Exists("/sys/module/" + module))
      return Exists("/proc/modules")
                 ? "waits: module `" + module + "` is not loaded (the probe arms when it loads)"
                 : "not here: module `" + module + "` is not loaded, and this kernel loads none";
    if (!listed(module, n.substr(colon == std::string::npos ? 0 : colon + 1))) missing.push_back(n);
  }
  if (missing.empty()) return names.size() > 1 ? std::to_string(names.size()) + " functions" : "";
  std::string list = FirstNames(missing);
  if (missing.size() == names.size()) return "not here: this kernel cannot trace " + list;
  return std::to_string(names.size() - missing.size()) + " of " + std::to_string(names.size()) +
         " functions (this kernel cannot trace " + list + ")";
}

// An address in one kernel's code (an absolute probe, a DWARF statement): of the
// kernel the script was compiled for only.
std::string Absolute(const meta::Probe& p) {
  if (!KernelHasKprobes()) return "not here: this kernel cannot probe functions (no kprobes)";
  if (RunningKernelBuildId() != p.build_id)
    return "not here: the address is of the kernel the script was compiled for (build id " +
           p.build_id + ")";
  return "";
}

std::string Tracepoint(const meta::Probe& p, KernelTypes& kernel) {
  std::string root = FindTracefs();
  if (root.empty()) return "";
  size_t colon = p.target.find(':');
  std::string system = p.target.substr(0, colon == std::string::npos ? 0 : colon);
  std::string event = p.target.substr(colon == std::string::npos ? 0 : colon + 1);
  if (!system.empty() && Exists(root + "/events/" + system + "/" + event)) return "";
  if (KernelHasBareTracepoint(kernel, event)) return "";
  return "not here: this kernel has no tracepoint `" + p.target + "`";
}

std::string Uprobe(const meta::Probe& p) {
  std::string path = meta::TargetFile(p);
  if (!Exists(path)) return "not here: `" + path + "` does not exist";
  if (!p.build_id.empty() && FileBuildId(path) != p.build_id)
    return "not here: `" + path + "` is not the file the script was compiled for";
  return "";
}

}  // namespace

std::vector<std::string> PreviewAttachments(const meta::Meta& meta) {
  std::vector<std::string> out;
  KernelTypes kernel = KernelTypes::Running();  // (read only for a tracepoint tracefs lacks)
  for (const meta::Probe& p : meta.probes) {
    if (p.internal) continue;
    std::string note;
    switch (static_cast<meta::ProbeKind>(p.family)) {
      case meta::ProbeKind::Kprobe:
      case meta::ProbeKind::Kretprobe:
        note = p.build_id.empty() ? Functions(p) : Absolute(p);
        break;
      case meta::ProbeKind::Tracepoint:
        note = Tracepoint(p, kernel);
        break;
      case meta::ProbeKind::Uprobe:
      case meta::ProbeKind::Uretprobe:
        note = Uprobe(p);
        break;
      case meta::ProbeKind::Netfilter:
        if (!KernelHasNetfilterLinks()) note = "not here: this kernel has no BPF netfilter links";
        break;
      case meta::ProbeKind::Lsm:
        if (!BpfLsmEnabled(nullptr)) note = "not here: BPF LSM is not enabled";
        break;
      default:
        break;
    }
    out.push_back(p.point + (note.empty() ? "" : "  # " + note));
  }
  for (const std::string& m : MissingSyscalls(meta, FindTracefs()))
    out.push_back("# not here: " + m);
  return out;
}

}  // namespace btap::runtime
