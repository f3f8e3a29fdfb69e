// kernel.function probes as fentry/fexit programs (codegen/lower_fentry.cpp): chosen before
// the object loads, for a function the kernel has once by that name, where this kernel
// attaches BPF trampolines and inlines bpf_get_func_arg (Linux 5.17+). Otherwise the
// probe's kprobe program loads, as it would without the fentry copy.
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>

#include "common/kallsyms.h"
#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

const struct btf* VmlinuxBtf() {
  static struct btf* btf = btf__load_vmlinux_btf();
  return libbpf_get_error(btf) ? nullptr : btf;
}

int FunctionBtfId(const std::string& name) {
  const struct btf* btf = VmlinuxBtf();
  return btf ? btf__find_by_name_kind(btf, name.c_str(), BTF_KIND_FUNC) : -1;
}

// Whether a trampoline attaches here: an fentry program that reads an argument the way
// the handlers do is loaded for `function` and attached, then closed. Asked once.
bool TrampolinesWork(int function_id) {
  static std::map<int, bool> known;  // only the first function is ever tried
  if (!known.empty()) return known.begin()->second;
  const bpf_insn code[] = {
      {BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, -8, 0},  // *(u64 *)(r10 - 8) = 0
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, 0},  // r2 = 0
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, -8},    // r3 = r10 - 8
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_func_arg},  // bpf_get_func_arg(ctx, 0, r3)
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  LIBBPF_OPTS(bpf_prog_load_opts, load);
  load.expected_attach_type = BPF_TRACE_FENTRY;
  load.attach_btf_id = static_cast<__u32>(function_id);
  int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, nullptr, "GPL", code, std::size(code), &load);
  bool works = false;
  if (fd >= 0) {
    int link = bpf_raw_tracepoint_open(nullptr, fd);
    works = link >= 0;
    if (link >= 0) close(link);
    close(fd);
  }
  known[function_id] = works;
  return works;
}

}  // namespace

bool UseFentry(const meta::Probe& probe) {
  if (probe.fentry_program.empty() || std::getenv("BTAP_NO_FENTRY")) return false;
  // A name that several functions share is probed at each copy, which only kprobes can.
  if (KernelTextAddresses(probe.target).size() != 1) return false;
  int id = FunctionBtfId(probe.target);
  return id > 0 && TrampolinesWork(id);
}

bool AttachFentry(bpf_program* program, const meta::Probe& probe, std::vector<bpf_link*>& links,
                  std::string* error) {
  if (bpf_link* link = bpf_program__attach_trace(program)) {
    links.push_back(link);
    return true;
  }
  *error = "cannot attach `" + probe.point + "` (fentry): " + std::strerror(errno);
  return false;
}

}  // namespace btap::runtime
