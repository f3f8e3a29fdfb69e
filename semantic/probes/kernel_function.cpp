// kernel.function("pattern")[.call|.return] and module("m").function("pattern"): matched
// and checked here against the kernel's probeable functions (listing expands them, with
// their parameters from BTF); attaching and $vars come in later passes.
#include "semantic/kernel_functions.h"
#include "semantic/probe_family.h"
#include "semantic/suggest.h"

namespace btap::sema {
namespace {

class KernelFunctionProbes : public ProbeFamily {
 public:
  Family id() const override { return Family::KernelFunction; }
  std::vector<std::string_view> Patterns() const override {
    return {"kernel.function(string)",
            "kernel.function(string).call",
            "kernel.function(string).return",
            "kernel.function(string).inline",
            "module(string).function(string)",
            "module(string).function(string).call",
            "module(string).function(string).return"};
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
    spec.is_return = parts.size() == 3 && parts[2].name == "return";
    spec.target_vars_later = true;
    // Module functions and source-file patterns need module BTF or DWARF: later.
    bool plain = parts[0].name == "kernel" && parts[1].arg == ArgKind::String &&
                 spec.function.find_first_of("@:+") == std::string::npos;
    if (!plain || !ctx.kernel_functions) {
      out.push_back(std::move(spec));
      return;
    }
    const KernelFunctionIndex& index = ctx.kernel_functions();
    if (!index.error().empty()) {
      if (!ctx.optional) ctx.diags.Report(Diag::ProbeParameter, parts[1].range, {index.error()});
      return;
    }
    std::vector<const KernelFunction*> found = index.Match(spec.function);
    if (found.empty()) {
      if (ctx.optional && !ctx.listing) return;
      if (ctx.listing && HasGlob(spec.function)) return;
      std::string why = index.Refusal(spec.function);
      ctx.diags.Report(
          Diag::ProbeParameter, parts[1].range,
          {why.empty() ? "no kernel function matches `" + spec.function + "`" +
                             DidYouMean(Similar(spec.function, index.Names()))
                       : "cannot probe kernel function `" + spec.function + "`: " + why});
      return;
    }
    if (!ctx.listing) {
      out.push_back(std::move(spec));
      return;
    }
    // Listing: one point per function, with its parameters from BTF for -L.
    std::string suffix = parts.size() == 3 ? "." + parts[2].name : "";
    for (const KernelFunction* f : found) {
      ProbeSpec each = spec;
      each.function = std::string(f->name);
      each.point = "kernel.function(\"" + each.function + "\")" + suffix;
      if (ctx.target_variables) {
        if (each.is_return)
          if (std::string ret = index.ReturnType(*f); !ret.empty())
            each.args.push_back({"return", ret});
        for (KernelParam& p : index.Params(*f)) each.args.push_back({p.name, p.c_type});
      }
      out.push_back(std::move(each));
    }
  }
};

}  // namespace

const ProbeFamily& KernelFunctionFamily() {
  static const KernelFunctionProbes family;
  return family;
}

}  // namespace btap::sema
