// The probeable kernel functions (see kernel_functions.h).
#include "semantic/machine/kernel_functions.h"

#include <bpf/btf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
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

// A module file's functions in its .init.* and .exit.* sections: code that runs once at
// load or unload (and is freed after loading), as stap refuses it. Empty for a file that
// is no ELF (/sys/kernel/btf/MODULE: its ftrace list leaves such code out already).
std::unordered_set<std::string> InitExitFunctions(const std::string& path) {
  std::unordered_set<std::string> names;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return names;
  elf_version(EV_CURRENT);
  Elf* elf = elf_begin(fd, ELF_C_READ_MMAP, nullptr);
  size_t strndx = 0;
  if (elf && elf_kind(elf) == ELF_K_ELF && elf_getshdrstrndx(elf, &strndx) == 0) {
    std::unordered_set<size_t> once;  // indexes of .init.* / .exit.* sections
    for (Elf_Scn* scn = nullptr; (scn = elf_nextscn(elf, scn));) {
      GElf_Shdr sh;
      const char* name = gelf_getshdr(scn, &sh) ? elf_strptr(elf, strndx, sh.sh_name) : nullptr;
      if (name && (std::strncmp(name, ".init", 5) == 0 || std::strncmp(name, ".exit", 5) == 0))
        once.insert(elf_ndxscn(scn));
    }
    for (Elf_Scn* scn = nullptr; !once.empty() && (scn = elf_nextscn(elf, scn));) {
      GElf_Shdr sh;
      if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize) continue;
      Elf_Data* data = elf_getdata(scn, nullptr);
      for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; ++i) {
        GElf_Sym sym;
        if (!gelf_getsym(data, static_cast<int>(i), &sym) ||
            GELF_ST_TYPE(sym.st_info) != STT_FUNC || !once.count(sym.st_shndx))
          continue;
        if (const char* n = elf_strptr(elf, sh.sh_link, sym.st_name)) names.insert(n);
      }
    }
  }
  if (elf) elf_end(elf);
  close(fd);
  return names;
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

KernelFunctionIndex::~KernelFunctionIndex() = default;

std::unique_ptr<KernelFunctionIndex> KernelFunctionIndex::Load(const std::string& btf_path,
                                                               const std::string& tracefs_root,
                                                               bool running, BtfSource btf) {
  std::unique_ptr<KernelFunctionIndex> index(new KernelFunctionIndex);
  index->btf_ = btf ? btf(&index->error_) : ParseKernelBtf(btf_path, &index->error_);
  if (!index->btf_) return index;
  index->running_ = running;
  index->Index(1, tracefs_root);
  return index;
}

std::unique_ptr<KernelFunctionIndex> KernelFunctionIndex::LoadModule(
    const KernelFunctionIndex& vmlinux, const std::string& module, const std::string& btf_path,
    const std::string& tracefs_root, bool running) {
  std::unique_ptr<KernelFunctionIndex> index(new KernelFunctionIndex);
  index->module_ = module;
  index->running_ = running;
  if (!vmlinux.btf_) {
    index->error_ = vmlinux.error_;
    return index;
  }
  index->btf_ = SharedBtf(btf__parse_split(btf_path.c_str(), vmlinux.btf_.get()), btf__free);
  if (!index->btf_) {
    index->error_ = "cannot read the BTF of module `" + module + "` from `" + btf_path +
                    "`: " + std::strerror(errno);
    return index;
  }
  index->base_types_ = btf__type_cnt(vmlinux.btf_.get());
  index->init_exit_ = InitExitFunctions(btf_path);
  index->Index(index->base_types_, tracefs_root);
  return index;
}

void KernelFunctionIndex::Index(uint32_t first, const std::string& tracefs_root) {
  std::unordered_set<std::string> traceable;
  std::string root = running_ ? (tracefs_root.empty() ? FindTracefs() : tracefs_root) : "";
  filtered_ = !root.empty() && ReadTraceableFunctions(root, &traceable, module_);
  std::unordered_set<std::string> blacklist;
  if (running_) blacklist = ReadBlacklist();
  const struct btf* b = btf_.get();
  uint32_t count = btf__type_cnt(b);
  std::unordered_map<std::string_view, std::string> refused;
  for (uint32_t id = first; id < count; ++id) {
    const btf_type* t = btf__type_by_id(b, id);
    if (!btf_is_func(t)) continue;
    std::string_view name = btf__name_by_offset(b, t->name_off);
    std::string why;
    if (filtered_ && !traceable.count(std::string(name)))
      why = "ftrace cannot trace it (inlined everywhere, notrace, or init code)";
    else if (blacklist.count(std::string(name)))
      why = "it is on the kernel's kprobe blacklist";
    else if (init_exit_.count(std::string(name)))
      why = "it is the module's init or exit code, which runs once (and is freed after loading)";
    else
      why = StapRefusal(name);
    if (!why.empty()) {
      refused.emplace(name, std::move(why));
      continue;
    }
    functions_.push_back({name, t->type});
  }
  auto by_name = [](const KernelFunction& a, const KernelFunction& c) { return a.name < c.name; };
  std::sort(functions_.begin(), functions_.end(), by_name);
  // BTF lists a static function once however many copies it has.
  functions_.erase(std::unique(functions_.begin(), functions_.end(),
                               [](const KernelFunction& a, const KernelFunction& c) {
                                 return a.name == c.name;
                               }),
                   functions_.end());
  refused_.assign(refused.begin(), refused.end());
  std::sort(refused_.begin(), refused_.end());
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
