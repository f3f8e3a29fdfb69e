// The probeable kernel functions (see kernel_functions.h).
#include "semantic/machine/kernel_functions.h"

#include <bpf/btf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include "common/tracefs.h"
#include "semantic/machine/tracepoints.h"
#include "semantic/probe_family.h"

namespace btap::sema {
namespace {

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

// The kprobe blacklist: "0xstart-0xend\tname" lines (debugfs, when mounted).
std::unordered_set<std::string> ReadBlacklist() {
  std::unordered_set<std::string> names;
  std::ifstream in("/sys/kernel/debug/kprobes/blacklist");
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.find_first_of("\t ");
    if (tab != std::string::npos) names.insert(line.substr(tab + 1));
  }
  return names;
}

// `[_[_]][raw_](spin|read|write)_[try][un]lock[_...]` and the queued lock slow paths.
bool LockFamily(std::string_view name) {
  while (name.starts_with("_")) name.remove_prefix(1);
  if (name.starts_with("raw_")) name.remove_prefix(4);
  if (name.starts_with("queued_") || name.starts_with("native_queued_")) return true;
  for (std::string_view kind : {"spin_", "read_", "write_"}) {
    if (!name.starts_with(kind)) continue;
    std::string_view rest = name.substr(kind.size());
    if (rest.starts_with("try")) rest.remove_prefix(3);
    if (rest.starts_with("un")) rest.remove_prefix(2);
    if (rest.starts_with("lock") && (rest.size() == 4 || rest[4] == '_')) return true;
  }
  return false;
}

}  // namespace

std::string StapRefusal(std::string_view name) {
  // The paths a kprobe itself goes through, or that run with the machine in a state a
  // probe handler cannot tolerate (NMI, exceptions, oops), as stap refuses them.
  static const std::unordered_set<std::string_view> kNamed = {"atomic_notifier_call_chain",
                                                              "default_do_nmi",
                                                              "__die",
                                                              "die_nmi",
                                                              "do_debug",
                                                              "do_general_protection",
                                                              "do_int3",
                                                              "do_IRQ",
                                                              "do_page_fault",
                                                              "do_trap",
                                                              "dummy_nmi_callback",
                                                              "flush_icache_range",
                                                              "io_check_error",
                                                              "mem_parity_error",
                                                              "nmi_watchdog_tick",
                                                              "notifier_call_chain",
                                                              "oops_begin",
                                                              "oops_end",
                                                              "sync_regs",
                                                              "unknown_nmi_error",
                                                              "read_tsc",
                                                              "native_read_tsc",
                                                              "exc_int3",
                                                              "exc_debug",
                                                              "exc_nmi",
                                                              "exc_page_fault",
                                                              "asm_exc_int3",
                                                              "kprobe_int3_handler",
                                                              "kprobe_ftrace_handler",
                                                              "arch_rethook_trampoline_callback"};
  if (kNamed.count(name)) return "stap refuses probes on it (exception and NMI paths)";
  if (LockFamily(name) || name.starts_with("atomic_") || name.starts_with("atomic64_") ||
      name.starts_with("arch_atomic") || name.ends_with("nmi_enter") ||
      name.ends_with("nmi_exit") || name.starts_with("kprobe_") ||
      name.ends_with("_kprobe_handler"))
    return "stap refuses probes on it (lock, atomic and kprobe machinery)";
  if (name.starts_with("__pfx_") || name.starts_with("__cfi_"))
    return "it is padding, not a function";
  return "";
}

uint32_t StripBtfModifiers(const struct btf* btf, uint32_t type) {
  for (int guard = 0; guard < 64 && type; ++guard) {
    const btf_type* t = btf__type_by_id(btf, type);
    if (!t || !(btf_is_typedef(t) || btf_is_mod(t))) break;
    type = t->type;
  }
  return type;
}

void KernelFunctionIndex::Free::operator()(struct btf* b) const { btf__free(b); }

KernelFunctionIndex::~KernelFunctionIndex() = default;

std::unique_ptr<KernelFunctionIndex> KernelFunctionIndex::Load(const std::string& btf_path,
                                                               const std::string& tracefs_root,
                                                               bool running) {
  std::unique_ptr<KernelFunctionIndex> index(new KernelFunctionIndex);
  std::string path = btf_path.empty() ? kVmlinuxBtf : btf_path;
  if (access(path.c_str(), R_OK) != 0) {
    index->error_ = "cannot read kernel BTF `" + path + "`: " + std::strerror(errno);
    return index;
  }
  index->btf_.reset(btf__parse(path.c_str(), nullptr));
  if (!index->btf_) {
    index->error_ = "cannot parse kernel BTF `" + path + "`: " + std::strerror(errno);
    return index;
  }
  std::unordered_set<std::string> traceable;
  std::string root = tracefs_root.empty() ? FindTracefs() : tracefs_root;
  index->running_ = running;
  index->filtered_ = running && !root.empty() && ReadTraceableFunctions(root, &traceable);
  std::unordered_set<std::string> blacklist;
  if (running) blacklist = ReadBlacklist();
  const struct btf* b = index->btf_.get();
  uint32_t count = btf__type_cnt(b);
  std::unordered_map<std::string_view, std::string> refused;
  for (uint32_t id = 1; id < count; ++id) {
    const btf_type* t = btf__type_by_id(b, id);
    if (!btf_is_func(t)) continue;
    std::string_view name = btf__name_by_offset(b, t->name_off);
    std::string why;
    if (index->filtered_ && !traceable.count(std::string(name)))
      why = "ftrace cannot trace it (inlined everywhere, notrace, or init code)";
    else if (blacklist.count(std::string(name)))
      why = "it is on the kernel's kprobe blacklist";
    else
      why = StapRefusal(name);
    if (!why.empty()) {
      refused.emplace(name, std::move(why));
      continue;
    }
    index->functions_.push_back({name, t->type});
  }
  auto by_name = [](const KernelFunction& a, const KernelFunction& c) { return a.name < c.name; };
  std::sort(index->functions_.begin(), index->functions_.end(), by_name);
  // BTF lists a static function once however many copies it has.
  index->functions_.erase(std::unique(index->functions_.begin(), index->functions_.end(),
                                      [](const KernelFunction& a, const KernelFunction& c) {
                                        return a.name == c.name;
                                      }),
                          index->functions_.end());
  index->refused_.assign(refused.begin(), refused.end());
  std::sort(index->refused_.begin(), index->refused_.end());
  return index;
}

std::vector<const KernelFunction*> KernelFunctionIndex::Match(std::string_view glob) const {
  std::vector<const KernelFunction*> out;
  if (!HasGlob(glob)) {
    auto it =
        std::lower_bound(functions_.begin(), functions_.end(), glob,
                         [](const KernelFunction& f, std::string_view n) { return f.name < n; });
    if (it != functions_.end() && it->name == glob) out.push_back(&*it);
    return out;
  }
  for (const KernelFunction& f : functions_)
    if (GlobMatch(glob, f.name)) out.push_back(&f);
  return out;
}

std::vector<std::string_view> KernelFunctionIndex::Names() const {
  std::vector<std::string_view> names;
  names.reserve(functions_.size());
  for (const KernelFunction& f : functions_) names.push_back(f.name);
  return names;
}

std::string KernelFunctionIndex::Refusal(std::string_view name) const {
  auto it = std::lower_bound(refused_.begin(), refused_.end(), name,
                             [](const std::pair<std::string_view, std::string>& r,
                                std::string_view n) { return r.first < n; });
  return it != refused_.end() && it->first == name ? it->second : "";
}

namespace {

// A value of BTF type `id` as a register holds it: its size (0 when it is no scalar) and
// whether it is signed.
KernelParam Value(const struct btf* b, uint32_t name_off, uint32_t id) {
  KernelParam p{name_off ? btf__name_by_offset(b, name_off) : "", BtfCType(b, id), 8, id, false};
  int resolved = btf__resolve_type(b, id);
  const btf_type* t = resolved > 0 ? btf__type_by_id(b, static_cast<uint32_t>(resolved)) : nullptr;
  int64_t size = btf__resolve_size(b, id);
  if (!t || size <= 0 || size > 8) {
    p.size = 0;
  } else if (btf_is_int(t) || btf_is_enum(t) || btf_is_enum64(t) || btf_is_ptr(t)) {
    p.size = static_cast<uint32_t>(size);
    p.is_signed = btf_is_int(t) && (btf_int_encoding(t) & BTF_INT_SIGNED);
  } else {
    p.size = 0;  // a small struct or union in registers: not a long
  }
  return p;
}

}  // namespace

std::vector<KernelParam> KernelFunctionIndex::Params(const KernelFunction& f) const {
  std::vector<KernelParam> out;
  const struct btf* b = btf_.get();
  const btf_type* proto = btf__type_by_id(b, f.proto);
  if (!proto || !btf_is_func_proto(proto)) return out;
  const btf_param* p = btf_params(proto);
  for (uint32_t i = 0; i < btf_vlen(proto); ++i) {
    if (p[i].type == 0) continue;  // `...`
    out.push_back(Value(b, p[i].name_off, p[i].type));
  }
  return out;
}

KernelParam KernelFunctionIndex::Return(const KernelFunction& f) const {
  const struct btf* b = btf_.get();
  const btf_type* proto = btf__type_by_id(b, f.proto);
  if (!proto || !btf_is_func_proto(proto) || proto->type == 0) return {"return", "", 0, 0, false};
  KernelParam r = Value(b, 0, proto->type);
  r.name = "return";
  return r;
}

}  // namespace btap::sema
