// kernel.function("pattern")[.call|.exported][.return[.maxactive(N)]] and
// module("m").function("pattern") (`.label("L")`, `.inline` and statements: from DWARF): matched
// and checked here against the kernel's probeable functions (listing expands them, with their
// parameters from BTF); attaching and $vars come in later passes.
#include <bpf/btf.h>
#include <algorithm>

#include "common/kallsyms.h"
#include "semantic/machine/kernel_dwarf.h"
#include "semantic/machine/kernel_functions.h"
#include "semantic/probe_family.h"
#include "semantic/probes/kernel_dwarf_probes.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

// At most this many functions per probe point (a body that reads $vars is a program per
// function).
constexpr size_t kMaxFunctions = 2000;

// Kernel functions that do not return: a kretprobe there never fires, and stap refuses it.
bool NeverReturns(std::string_view name) {
  for (std::string_view n :
       {"do_exit", "do_group_exit", "make_task_dead", "kthread_exit", "__x64_sys_exit",
        "__x64_sys_exit_group", "rewind_stack_and_make_dead", "panic", "__stack_chk_fail"})
    if (name == n) return true;
  return false;
}

}  // namespace

// $vars from BTF: on x86-64 the first six parameters arrive in rdi, rsi, rdx, rcx, r8
// and r9 (pt_regs offsets below); a return probe has $return in rax. Listing shows every
// parameter; a probe reads the ones registers hold.
void AddBtfArgs(const KernelFunctionIndex& index, const KernelFunction& f, bool listing,
                ProbeSpec& spec) {
  auto add = [&](const KernelParam& p, uint32_t offset) {
    TargetArg a;
    a.name = p.name;
    a.c_type = p.c_type;
    a.source = TargetArg::Source::Register;
    a.offset = offset;
    a.size = p.size;
    a.is_signed = p.is_signed;
    a.btf_type = p.type;
    if (!index.module().empty()) a.btf = index.btf();
    spec.args.push_back(std::move(a));
  };
  if (spec.is_return) {
    KernelParam r = index.Return(f);
    // Parameters too: a return probe reads them as @entry values (LowerTargets).
    if (!r.c_type.empty()) add(r, kReturnRegisterOffset);
  }
  // Registers go by size class: a struct of 9-16 bytes passed by value takes two, a larger
  // one goes to memory and takes none, and a struct returned in memory takes rdi for its
  // address. A parameter with no register of its own is not readable (listing shows it).
  const struct btf* btf = index.btf();
  auto bytes = [&](uint32_t type) { return btf ? btf__resolve_size(btf, type) : 8; };
  auto in_memory = [&](uint32_t type) {
    const btf_type* t = btf ? btf__type_by_id(btf, StripBtfModifiers(btf, type)) : nullptr;
    return t && btf_is_composite(t) && bytes(type) > 16;
  };
  KernelParam ret = index.Return(f);
  size_t reg = ret.type && in_memory(ret.type) ? 1 : 0;
  bool one_register_each = reg == 0;
  size_t params = 0;
  for (const KernelParam& p : index.Params(f)) {
    int64_t size = bytes(p.type);
    size_t regs = in_memory(p.type) ? 0 : size > 8 ? 2 : 1;
    bool readable = regs == 1 && p.size && reg < std::size(kArgRegisterOffsets);
    if (listing || readable) add(p, readable ? kArgRegisterOffsets[reg] : 0);
    if (regs && reg + regs <= std::size(kArgRegisterOffsets)) reg += regs;
    one_register_each &= readable;
    ++params;
  }
  // Then the n-th register is the fentry program's n-th argument.
  if (one_register_each) spec.tracing_slots = static_cast<int>(params);
}

namespace {

class KernelFunctionProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::KernelFunction; }
  std::vector<std::string_view> Patterns() const override {
    return {"kernel.function(string)",
            "kernel.function(string).call",
            "kernel.function(string).exported",
            "kernel.function(string).return",
            "kernel.function(string).call.return",
            "kernel.function(string).exported.return",
            "kernel.function(string).return.maxactive(number)",
            "kernel.function(string).call.return.maxactive(number)",
            "kernel.function(string).exported.return.maxactive(number)",
            "kernel.function(string).inline",
            "kernel.function(string).label(string)",
            "kernel.statement(string)",
            "kernel.statement(string).nearest",
            "module(string).function(string)",
            "module(string).function(string).call",
            "module(string).function(string).return",
            "module(string).function(string).inline",
            "module(string).function(string).label(string)",
            "module(string).statement(string)",
            "module(string).statement(string).nearest"};
  }

  void Resolve(const PatternDef&, std::span<const PointPart> parts, ResolveContext& ctx,
               std::vector<ProbeSpec>& out) const override {
    ProbeSpec spec;
    spec.family = Family::KernelFunction;
    spec.point = PointSpelling(parts);
    if (parts[0].name == "module") spec.target = parts[0].string;
    spec.function = parts[1].string;
    if (parts[1].arg == ArgKind::String && parts[1].string.empty()) {
      ctx.diags.Report(Diag::ProbeParameter, parts[1].range, {"empty function name"});
      return;
    }
    for (const PointPart& part : parts.subspan(2)) spec.is_return |= part.name == "return";
    spec.target_vars_later = true;
    bool plain =
        parts[1].arg == ArgKind::String && spec.function.find_first_of("@:+") == std::string::npos;
    bool statement = parts[1].name == "statement";
    bool inlined = parts.size() > 2 && parts[2].name == "inline";
    bool label = parts.size() > 2 && parts[2].name == "label";
    // Source files, lines, inline instances and labels come from the kernel's (the
    // module's) DWARF.
    if ((statement || inlined || label || spec.function.find('@') != std::string::npos) &&
        parts[1].arg == ArgKind::String) {
      if (parts[0].name == "module" && HasGlob(parts[0].string)) {
        ctx.diags.Report(Diag::ProbeParameter, parts[0].range,
                         {"a source file, a line, `.inline` or `.label` is read from one module's "
                          "DWARF: "
                          "name the module without wildcards"});
        return;
      }
      std::string module = parts[0].name == "module" ? parts[0].string : "";
      std::replace(module.begin(), module.end(), '-', '_');
      ExpandKernelDwarf(std::move(spec), parts[1], parts.subspan(2), statement, ctx, out, module);
      return;
    }
    if (!plain || !ctx.kernel_functions) {
      // Listing prints only points it resolved; a probe says it cannot be compiled yet.
      if (!ctx.listing) out.push_back(std::move(spec));
      return;
    }
    ExpandKernelFunctions(std::move(spec), parts[1], parts.subspan(2), "kernel.function", true, ctx,
                          out, parts[0].name == "module" ? &parts[0] : nullptr);
  }
};

}  // namespace

// Expands `spec` over the probeable kernel functions its name matches: one probe per
// function, with its parameters from BTF when `with_vars` (kprobe.function has none).
void ExpandKernelFunctions(ProbeSpec spec, const PointPart& name,
                           std::span<const PointPart> suffixes, std::string_view prefix,
                           bool with_vars, ResolveContext& ctx, std::vector<ProbeSpec>& out,
                           const PointPart* module) {
  const KernelFunctionIndex& index = ctx.kernel_functions();
  if (!index.error().empty()) {
    if (!ctx.optional) ctx.diags.Report(Diag::ProbeParameter, name.range, {index.error()});
    return;
  }
  std::vector<const KernelFunctionIndex*> indexes = {&index};
  if (module) {
    std::string error;
    indexes = ctx.kernel_modules(module->string, &error);
    if (indexes.empty()) {
      ctx.Skipped(module->range, !error.empty() ? error
                                 : index.running()
                                     ? "no loaded kernel module matches `" + module->string + "`"
                                     : "no kernel module matches `" + module->string + "`");
      if (!(ctx.optional || (ctx.listing && HasGlob(module->string))))
        ctx.diags.Report(Diag::ProbeParameter, module->range,
                         {!error.empty()    ? error
                          : index.running() ? "no loaded kernel module matches `" + module->string +
                                                  "` (btap looks at the modules in /sys/kernel/btf)"
                                            : "no kernel module matches `" + module->string + "`"});
      return;
    }
  }
  std::string suffix;
  const PointPart* inline_part = nullptr;
  bool exported = false;
  for (const PointPart& part : suffixes) {
    suffix += "." + part.name;
    if (part.arg == ArgKind::Number) suffix += "(" + std::to_string(part.number) + ")";
    if (part.name == "inline") inline_part = &part;
    exported |= part.name == "exported";
    if (part.name == "maxactive" && !ctx.listing)
      ctx.diags.Report(Diag::MaxactiveNoEffect, part.range, {std::to_string(part.number)});
  }
  if (inline_part) {
    if (!ctx.listing)
      ctx.diags.Report(Diag::ProbeParameter, inline_part->range,
                       {"`.inline` needs the kernel's DWARF, which btap does not read yet"});
    return;
  }
  // Each match with the index (vmlinux's or its module's) it comes from.
  std::vector<std::pair<const KernelFunctionIndex*, const KernelFunction*>> found;
  for (const KernelFunctionIndex* in : indexes)
    for (const KernelFunction* f : in->Match(spec.function)) found.push_back({in, f});
  // A name BTF does not describe (a clone such as `.isra.0`) that the kernel's DWARF has.
  if (found.empty() && !module && with_vars && !HasGlob(spec.function) && !exported &&
      index.Refusal(spec.function).empty() && ctx.kernel_dwarf)
    if (KernelDwarf* kd = ctx.kernel_dwarf(); kd && kd->dwarf()) {
      if (!kd->Named(spec.function).empty())
        return ExpandKernelDwarf(std::move(spec), name, suffixes, false, ctx, out);
      // A function this kernel has only inlined: stap's kernel.function (not `.call`)
      // takes its inline instances, where each starts; a return has no place there.
      bool call = std::any_of(suffixes.begin(), suffixes.end(),
                              [](const PointPart& p) { return p.name == "call"; });
      if (!call && !kd->Matching(spec.function, "", true).empty()) {
        if (spec.is_return) {
          if (!ctx.optional || ctx.listing)
            ctx.diags.Report(Diag::ProbeParameter, name.range,
                             {"`" + spec.function +
                              "` is only inlined in this kernel, and an inlined function has no "
                              "`.return` to probe; probe its callers' returns instead"});
          return;
        }
        std::vector<PointPart> inlined(suffixes.begin(), suffixes.end());
        inlined.push_back(PointPart{.name = "inline"});
        size_t before = out.size();
        ExpandKernelDwarf(std::move(spec), name, inlined, false, ctx, out);
        // Named as the point was written, as stap names them.
        for (size_t i = before; i < out.size(); ++i)
          if (size_t at = out[i].point.rfind(".inline"); at != std::string::npos)
            out[i].point.erase(at, 7);
        return;
      }
    }
  if (found.empty()) {
    if (ctx.optional && !ctx.listing) {
      std::string why = module ? "" : index.Refusal(spec.function);
      ctx.Skipped(name.range, !why.empty() ? why
                              : module     ? "no function of module `" + module->string +
                                             "` matches `" + spec.function + "`"
                                       : "no kernel function matches `" + spec.function + "`");
      return;
    }
    if (ctx.listing && HasGlob(spec.function)) return;
    if (module) {
      std::vector<std::string_view> names;
      for (const KernelFunctionIndex* in : indexes) {
        if (std::string why = in->Refusal(spec.function); !why.empty()) {
          ctx.diags.Report(Diag::ProbeParameter, name.range,
                           {"cannot probe function `" + spec.function + "` of module `" +
                            in->module() + "`: " + why});
          return;
        }
        for (std::string_view n : in->Names()) names.push_back(n);
      }
      ctx.diags.Report(Diag::ProbeParameter, name.range,
                       {"no function of module `" + module->string + "` matches `" + spec.function +
                        "`" + DidYouMean(Similar(spec.function, names))});
      return;
    }
    std::string why = index.Refusal(spec.function);
    ctx.diags.Report(
        Diag::ProbeParameter, name.range,
        {why.empty() ? "no kernel function matches `" + spec.function + "`" +
                           DidYouMean(Similar(spec.function, index.Names()))
                     : "cannot probe kernel function `" + spec.function + "`: " + why});
    return;
  }
  if (exported) {
    if (!index.running()) {
      if (!ctx.listing)
        ctx.diags.Report(Diag::ProbeParameter, name.range,
                         {"`.exported` needs the symbols of the running kernel (kallsyms); "
                          "compiling for another kernel, btap does not know its exports"});
      return;
    }
    if (!KernelListsExports()) {
      if (!ctx.listing)
        ctx.diags.Report(Diag::ProbeParameter, name.range,
                         {"`.exported` cannot tell here: kallsyms lists no exported symbols (the "
                          "kernel has no modules, or lacks CONFIG_KALLSYMS_ALL)"});
      return;
    }
    std::erase_if(found, [](const auto& m) { return !KernelExports(m.second->name); });
    if (found.empty()) {
      if (!(ctx.optional || (ctx.listing && HasGlob(spec.function))))
        ctx.diags.Report(Diag::ProbeParameter, name.range,
                         {"no exported kernel function matches `" + spec.function + "`"});
      return;
    }
  }
  if (!ctx.listing && found.size() > kMaxFunctions) {
    ctx.diags.Report(Diag::ProbeParameter, name.range,
                     {"`" + spec.function + "` matches " + std::to_string(found.size()) +
                      " kernel functions; btap probes at most " + std::to_string(kMaxFunctions) +
                      " with one probe point for now"});
    return;
  }
  bool wildcard = HasGlob(spec.function) || (module && HasGlob(module->string));
  for (const auto& [in, f] : found) {
    if (spec.is_return && NeverReturns(f->name)) {
      if (!HasGlob(spec.function) && !ctx.listing)
        ctx.diags.Report(Diag::KernelReturnNeverReturns, name.range, {std::string(f->name)});
      continue;
    }
    ProbeSpec each = spec;
    each.function = std::string(f->name);
    each.target = each.function;
    each.point = std::string(prefix) + "(\"" + each.function + "\")" + suffix;
    if (!in->module().empty()) {  // kprobes name a module's function `MODULE:NAME`
      each.target = in->module() + ":" + each.function;
      std::string head = prefix.starts_with("kprobe.") ? "kprobe.module" : "module";
      each.point = head + "(\"" + in->module() + "\").function(\"" + each.function + "\")" + suffix;
    }
    each.has_target_vars = true;
    each.numbers[0] = wildcard ? 1 : 0;  // the runtime may skip it
    each.target_vars_later = false;
    if (ctx.target_variables && with_vars) AddBtfArgs(*in, *f, ctx.listing, each);
    // With the kernel's DWARF, listings say where each function is (and -L its locals).
    // (Every function of a 6.1 kernel, 41,000: 1.8 s with `-l`, 9 s with `-L`.)
    if (ctx.listing && with_vars)
      ListWithDwarf(ctx, each.function, prefix, suffix, each, in->module());
    out.push_back(std::move(each));
  }
}

const ProbeFamily& KernelFunctionFamily() {
  static const KernelFunctionProbes family;
  return family;
}

}  // namespace btap::sema
