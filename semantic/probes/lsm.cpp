// kernel.lsm("hook"): BPF LSM programs on the kernel's security hooks (BPF_PROG_TYPE_LSM,
// section `lsm/HOOK`). A hook is a BTF function `bpf_lsm_HOOK` of vmlinux; a pattern matches
// those names. The hook's parameters are the probe's $vars (the context is the trampoline's
// array of 8-byte arguments, as a BTF raw tracepoint's); the handler only observes: its
// program returns 0, so no hook is ever denied. Attaching needs `bpf` among the kernel's
// active LSMs (runtime/attach/lsm.cpp says so when it is not). A wildcard skips the hooks
// newer kernels refuse BPF programs on.
#include <bpf/btf.h>
#include <fnmatch.h>

#include <algorithm>

#include "semantic/machine/tracepoints.h"
#include "semantic/probe_family.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

constexpr std::string_view kHookPrefix = "bpf_lsm_";

// Hooks whose BPF programs newer kernels refuse to load (kernel/bpf/bpf_lsm.c's
// bpf_lsm_disabled_hooks, the union over the versions that have it): a wildcard leaves
// them out, so `kernel.lsm("*")` loads as a whole; named alone, the kernel decides (older
// kernels accept them, and a program that returns 0 leaves the hook's default result).
constexpr std::string_view kRefusedHooks[] = {
    "audit_rule_match",    "file_alloc_security", "getprocattr",        "getselfattr",
    "inode_copy_up_xattr", "inode_getsecurity",   "inode_listsecurity", "inode_need_killpriv",
    "ismaclabel",          "key_getsecurity",     "setprocattr",        "vm_enough_memory",
    "xfrm_decode_session",
};

bool RefusedByNewerKernels(std::string_view hook) {
  return std::find(std::begin(kRefusedHooks), std::end(kRefusedHooks), hook) !=
         std::end(kRefusedHooks);
}

class LsmProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::Lsm; }
  std::vector<std::string_view> Patterns() const override { return {"kernel.lsm(string)"}; }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    std::string pattern = parts[1].arg == ArgKind::String ? parts[1].string : "*";
    const struct btf* btf = ctx.kernel_btf ? ctx.kernel_btf() : nullptr;
    if (!btf) {
      if (!ctx.optional && !ctx.listing)
        ctx.diags.Report(Diag::ProbeParameter, parts[1].range,
                         {"no kernel BTF (/sys/kernel/btf/vmlinux) to find LSM hooks in"});
      return;
    }
    std::vector<std::pair<std::string, uint32_t>> hooks;  // name, FUNC id
    uint32_t n = btf__type_cnt(btf);
    for (uint32_t id = 1; id < n; ++id) {
      const btf_type* t = btf__type_by_id(btf, id);
      if (!btf_is_func(t)) continue;
      std::string_view name = btf__name_by_offset(btf, t->name_off);
      if (!name.starts_with(kHookPrefix)) continue;
      hooks.emplace_back(std::string(name.substr(kHookPrefix.size())), id);
    }
    std::sort(hooks.begin(), hooks.end());
    size_t before = out.size();
    bool wildcard = pattern.find_first_of("*?[") != std::string::npos;
    std::string left_out;  // refused hooks the wildcard matched
    for (const auto& [hook, id] : hooks) {
      if (fnmatch(pattern.c_str(), hook.c_str(), 0) != 0) continue;
      if (wildcard && RefusedByNewerKernels(hook)) {
        left_out += (left_out.empty() ? "`" : ", `") + hook + "`";
        continue;
      }
      ProbeSpec spec;
      spec.family = Family::Lsm;
      spec.target = hook;
      spec.point = "kernel.lsm(" + Quote(hook) + ")";
      spec.has_target_vars = true;
      if (ctx.target_variables) AddArgs(btf, id, spec);
      out.push_back(std::move(spec));
    }
    if (out.size() != before || ctx.optional || ctx.listing) return;
    if (!left_out.empty()) {
      ctx.diags.Report(
          Diag::ProbeParameter, parts[1].range,
          {"`" + pattern + "` matches only hooks newer kernels refuse BPF programs on (" +
           left_out + "), which a wildcard leaves out: name one alone to probe it"});
      return;
    }
    std::vector<std::string_view> names;
    for (const auto& h : hooks) names.push_back(h.first);
    ctx.diags.Report(
        Diag::ProbeParameter, parts[1].range,
        {"no LSM hook matches `" + pattern + "` (hooks are the kernel's `" +
         std::string(kHookPrefix) + "*` functions)" + DidYouMean(Similar(pattern, names))});
  }

 private:
  // The hook's parameters, each an 8-byte slot of the program's context.
  static void AddArgs(const struct btf* btf, uint32_t func, ProbeSpec& spec) {
    const btf_type* proto = btf__type_by_id(btf, btf__type_by_id(btf, func)->type);
    if (!proto || !btf_is_func_proto(proto)) return;
    const btf_param* p = btf_params(proto);
    for (uint16_t i = 0; i < btf_vlen(proto); ++i, ++p) {
      const char* name = btf__name_by_offset(btf, p->name_off);
      TargetArg arg;
      arg.name = name && *name ? name : "arg" + std::to_string(i + 1);
      arg.c_type = BtfCType(btf, p->type);
      arg.btf_type = p->type;
      arg.index = i;
      int64_t size = btf__resolve_size(btf, p->type);
      arg.size = size > 0 && size <= 8 ? static_cast<uint32_t>(size) : 8;
      int resolved = btf__resolve_type(btf, p->type);
      if (const btf_type* t = resolved >= 0 ? btf__type_by_id(btf, resolved) : nullptr) {
        if (btf_is_int(t)) arg.is_signed = (btf_int_encoding(t) & BTF_INT_SIGNED) != 0;
        if (btf_is_any_enum(t)) arg.is_signed = btf_kflag(t);
      }
      spec.args.push_back(std::move(arg));
    }
  }
};

}  // namespace

const ProbeFamily& LsmFamily() {
  static const LsmProbes family;
  return family;
}

}  // namespace btap::sema
