// kernel.function probes: kprobes and kretprobes on kernel functions, found by name at
// load time in the running kernel, so that the object does not depend on the addresses of
// the kernel it was compiled against. A program that a wildcard's functions share (its
// probe's target lists them, one per line) is attached with one multi-kprobe link where
// the kernel has them, else with a kprobe per function; the cookie is the function's line.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <unordered_set>

#include "common/build_id.h"
#include "common/kallsyms.h"
#include "common/tracefs.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

std::string PointOf(const meta::Probe& probe, const std::string& function) {
  bool ret = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Kretprobe;
  std::string family = probe.point.rfind("kprobe.", 0) == 0 ? "kprobe" : "kernel";
  return family + ".function(\"" + function + "\")" + (ret ? ".return" : "");
}

bool AttachMulti(bpf_program* program, const meta::Probe& probe,
                 const std::vector<std::string>& names, std::vector<bpf_link*>& links,
                 std::vector<std::string>& missing, std::string* error) {
  std::vector<std::string> kept = names;
  std::vector<__u64> cookies;
  for (size_t i = 0; i < names.size(); ++i) cookies.push_back(i);
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::vector<const char*> syms;
    for (const std::string& n : kept) syms.push_back(n.c_str());
    LIBBPF_OPTS(bpf_kprobe_multi_opts, opts);
    opts.syms = syms.data();
    opts.cookies = cookies.data();
    opts.cnt = syms.size();
    opts.retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Kretprobe;
    if (syms.empty()) return true;
    if (bpf_link* link = bpf_program__attach_kprobe_multi_opts(program, nullptr, &opts)) {
      links.push_back(link);
      return true;
    }
    int err = errno;
    if (attempt == 1 || (err != ENOENT && err != EINVAL && err != ESRCH)) {
      *error = "cannot attach `" + probe.point + "` (" + std::to_string(kept.size()) +
               " functions): " + std::strerror(err);
      return false;
    }
    // Some function is not in this kernel (the object was compiled for another): keep
    // the ones ftrace knows, and say which went.
    std::unordered_set<std::string> traceable;
    if (!ReadTraceableFunctions(FindTracefs(), &traceable)) {
      *error = "cannot attach `" + probe.point + "`: " + std::strerror(err) +
               " (and this kernel's list of traceable functions cannot be read)";
      return false;
    }
    std::vector<std::string> present;
    std::vector<__u64> present_cookies;
    for (size_t i = 0; i < kept.size(); ++i) {
      if (traceable.count(kept[i])) {
        present.push_back(kept[i]);
        present_cookies.push_back(cookies[i]);
      } else {
        missing.push_back(PointOf(probe, kept[i]));
      }
    }
    kept = std::move(present);
    cookies = std::move(present_cookies);
  }
  return true;
}

// A name that several functions share (static functions of different files): the kernel
// refuses it as ambiguous (EADDRNOTAVAIL), so each copy is probed at its address, found
// in kallsyms, with the name's cookie. 0 when no copy could be probed, with `err` set.
size_t AttachEveryCopy(bpf_program* program, const std::string& name, bool retprobe,
                       uint64_t cookie, std::vector<bpf_link*>& links, int* err) {
  size_t attached = 0;
  for (uint64_t address : KernelTextAddresses(name)) {
    LIBBPF_OPTS(bpf_kprobe_opts, opts);
    opts.retprobe = retprobe;
    opts.bpf_cookie = cookie;
    opts.offset = address;  // with no name: an absolute address
    if (bpf_link* link = bpf_program__attach_kprobe_opts(program, nullptr, &opts)) {
      links.push_back(link);
      ++attached;
    } else {
      *err = errno;  // a copy ftrace cannot trace; the others still count
    }
  }
  return attached;
}

// kernel.statement(ADDR).absolute, and statements and inline instances from DWARF: the
// address is the compiling kernel's, so the object runs only where that kernel (the same
// build id) runs.
bool SameKernel(const meta::Probe& probe, std::string* error) {
  std::string here = RunningKernelBuildId();
  if (here == probe.build_id) {
    // An absolute address compiled on this kernel is of the boot it was compiled in.
    std::vector<uint64_t> text = KernelTextAddresses("_stext");
    if (probe.numbers[2] == 0 || text.empty() || text[0] == static_cast<uint64_t>(probe.numbers[2]))
      return true;
    *error = "cannot attach `" + probe.point +
             "`: the kernel has been booted again since the script was compiled, and its code "
             "moved (KASLR); compile the script again";
    return false;
  }
  *error = "cannot attach `" + probe.point + "`: it was compiled for the kernel with build id " +
           probe.build_id + " (an address in its code), and this kernel's is " +
           (here.empty() ? "unknown" : here) + "; compile the script again for this kernel";
  return false;
}

bool AttachAbsolute(bpf_program* program, const meta::Probe& probe, const std::string& address,
                    std::vector<bpf_link*>& links, std::string* error) {
  LIBBPF_OPTS(bpf_kprobe_opts, opts);
  opts.retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Kretprobe;
  opts.offset = std::strtoull(address.c_str(), nullptr, 16);  // with no name: absolute
  if (bpf_link* link = bpf_program__attach_kprobe_opts(program, nullptr, &opts)) {
    links.push_back(link);
    return true;
  }
  int err = errno;
  *error = "cannot attach `" + probe.point + "`: " + std::strerror(err);
  if (err == EINVAL || err == EILSEQ || err == ENOENT)
    *error +=
        " (the kernel cannot probe that address: not the start of an instruction, or "
        "in code kprobes may not probe)";
  return false;
}

}  // namespace

bool KernelHasKprobes() {
  if (access("/sys/bus/event_source/devices/kprobe/type", R_OK) == 0) return true;
  std::string root = FindTracefs();
  return !root.empty() && access((root + "/kprobe_events").c_str(), F_OK) == 0;
}

// Multi-kprobe links need kernel 5.18 and fprobe (CONFIG_FPROBE, which some distribution
// kernels leave out): a program that expects them must load, and a link over no function
// must be refused for having none (EINVAL), not for the kind (EOPNOTSUPP).
bool KernelHasKprobeMulti() {
  static const bool has = [] {
    const bpf_insn code[] = {
        {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
        {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
    };
    LIBBPF_OPTS(bpf_prog_load_opts, load);
    load.expected_attach_type = BPF_TRACE_KPROBE_MULTI;
    int fd = bpf_prog_load(BPF_PROG_TYPE_KPROBE, nullptr, "GPL", code, 2, &load);
    if (fd < 0) return false;
    LIBBPF_OPTS(bpf_link_create_opts, link);
    int link_fd = bpf_link_create(fd, 0, BPF_TRACE_KPROBE_MULTI, &link);
    int err = errno;
    if (link_fd >= 0) close(link_fd);
    close(fd);
    return link_fd < 0 && err == EINVAL;
  }();
  return has;
}

bool PrepareKprobe(bpf_object* object, meta::Probe& probe, bool fentry) {
  bpf_program* kprobe = bpf_object__find_program_by_name(object, probe.program.c_str());
  bpf_program* copy = probe.fentry_program.empty()
                          ? nullptr
                          : bpf_object__find_program_by_name(object, probe.fentry_program.c_str());
  if (copy && fentry && UseFentry(probe)) {
    if (kprobe) bpf_program__set_autoload(kprobe, false);
    probe.program = probe.fentry_program;  // the program that attaches
    return true;
  }
  if (copy) bpf_program__set_autoload(copy, false);
  if (kprobe && probe.numbers[1] > 1 && KernelHasKprobeMulti())
    bpf_program__set_expected_attach_type(kprobe, BPF_TRACE_KPROBE_MULTI);
  return false;
}

bool AttachKprobe(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::vector<std::string>& missing, std::string* error) {
  if (program && bpf_program__type(program) == BPF_PROG_TYPE_TRACING)
    return AttachFentry(program, probe, links, error);
  // An absolute address: of one kernel only, which is checked first.
  if (!probe.build_id.empty() && !SameKernel(probe, error)) return false;
  if (!KernelHasKprobes()) {
    *error = "cannot attach `" + probe.point +
             "`: this kernel cannot probe functions: it was built without kprobes "
             "(CONFIG_KPROBES); kernel.function probes need a kernel that has them";
    return false;
  }
  std::vector<std::string> names = TargetLines(probe.target);
  if (!names.empty() && names[0].rfind("0x", 0) == 0)
    return AttachAbsolute(program, probe, names[0], links, error);
  if (probe.numbers[1] > 1 && bpf_program__expected_attach_type(program) == BPF_TRACE_KPROBE_MULTI)
    return AttachMulti(program, probe, names, links, missing, error);
  bool wildcard = probe.numbers[0] == 1 || names.size() > 1;
  for (size_t i = 0; i < names.size(); ++i) {
    LIBBPF_OPTS(bpf_kprobe_opts, opts);
    opts.retprobe = static_cast<meta::ProbeKind>(probe.family) == meta::ProbeKind::Kretprobe;
    opts.bpf_cookie = i;
    // `SYMBOL+0xOFF`: an exact address inside a function (statements, inline instances
    // from DWARF), which the kernel checks is an instruction boundary.
    std::string symbol = names[i];
    if (size_t plus = symbol.find('+'); plus != std::string::npos) {
      opts.offset = std::strtoull(symbol.c_str() + plus + 1, nullptr, 0);
      symbol.resize(plus);
    }
    // `SYMBOL#K`: the K-th (by address) of the functions that share the name, placed by
    // DWARF on this same build (checked above); KASLR keeps their order.
    if (size_t hash = symbol.find('#'); hash != std::string::npos) {
      size_t k = std::strtoull(symbol.c_str() + hash + 1, nullptr, 10);
      symbol.resize(hash);
      std::vector<uint64_t> copies = KernelTextAddresses(symbol);
      std::sort(copies.begin(), copies.end());
      if (k >= copies.size()) {
        *error = "cannot attach `" + probe.point + "`: this kernel has " +
                 std::to_string(copies.size()) + " functions named `" + symbol +
                 "` in /proc/kallsyms, not the " + std::to_string(k + 1) +
                 " the script was compiled for (run as root, with kernel.kptr_restrict below 2)";
        return false;
      }
      opts.offset += copies[k];  // with no name: an absolute address
      if (bpf_link* link = bpf_program__attach_kprobe_opts(program, nullptr, &opts)) {
        links.push_back(link);
        continue;
      }
      *error = "cannot attach `" + probe.point + "`: " + std::strerror(errno);
      return false;
    }
    bpf_link* link = bpf_program__attach_kprobe_opts(program, symbol.c_str(), &opts);
    if (link) {
      links.push_back(link);
      continue;
    }
    int err = errno;
    if (err == EADDRNOTAVAIL) {
      size_t copies = KernelTextAddresses(names[i]).size();
      if (AttachEveryCopy(program, names[i], opts.retprobe, i, links, &err)) continue;
      if (wildcard && copies) {  // as a function this kernel cannot trace, below
        missing.push_back(names.size() > 1 ? PointOf(probe, names[i]) : probe.point);
        continue;
      }
      *error = "cannot attach `" + (names.size() > 1 ? PointOf(probe, names[i]) : probe.point) +
               "`: " + std::to_string(copies) + " functions of this kernel are named `" + names[i] +
               "`, and none of them could be probed: " + std::strerror(err);
      if (!copies)
        *error = "cannot attach `" + probe.point + "`: " + std::strerror(EADDRNOTAVAIL) +
                 " (its name is ambiguous, and kallsyms gives no addresses)";
      return false;
    }
    // A wildcard's function that this kernel lacks (the object was compiled for another).
    if (wildcard && (err == ENOENT || err == EINVAL)) {
      missing.push_back(names.size() > 1 ? PointOf(probe, names[i]) : probe.point);
      continue;
    }
    // A function of a module that is not loaded (`MODULE:NAME`), where the session cannot
    // watch modules load (session_modules.cpp arms such probes otherwise): btap runs
    // without it, and says so.
    if (size_t colon = names[i].find(':');
        (err == ENOENT || err == EINVAL) && colon != std::string::npos &&
        access(("/sys/module/" + names[i].substr(0, colon)).c_str(), F_OK) != 0) {
      missing.push_back((names.size() > 1 ? PointOf(probe, names[i]) : probe.point) + " (module `" +
                        names[i].substr(0, colon) + "` is not loaded)");
      continue;
    }
    *error = "cannot attach `" + (names.size() > 1 ? PointOf(probe, names[i]) : probe.point) +
             "`: " + std::strerror(err);
    if (err == ENOENT || err == EINVAL)
      *error += " (this kernel has no traceable function `" + names[i] +
                "`; was the script compiled for another kernel?)";
    return false;
  }
  return true;
}

}  // namespace btap::runtime
