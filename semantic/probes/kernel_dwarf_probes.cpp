// kernel.function probes that need the kernel's DWARF: source-file patterns
// (`f@net/ipv4/*.c`), `.inline` instances, `.label("L")` (C labels) and
// `kernel.statement("f@file.c:LINE")` (`.nearest`), each a kprobe at an exact address
// (`SYMBOL+OFFSET`); and the `@file:line` and local variables that listings show when DWARF
// is present.
#include "semantic/probes/kernel_dwarf_probes.h"

#include <set>

#include "semantic/machine/kernel_dwarf.h"
#include "semantic/machine/kernel_functions.h"
#include "semantic/probes/user_probes.h"

namespace btap::sema {
namespace {

std::string Located(const DebugFunction& f, int line) {
  return f.name + "@" + f.file + ":" + std::to_string(line ? line : f.line);
}

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// The `SYMBOL[+0xOFF]` spelling of a place `off` bytes into `symbol`.
std::string SymbolPlace(const std::string& symbol, uint64_t off) {
  return off ? symbol + "+" + Hex(off) : symbol;
}

}  // namespace

void AddDwarfVariables(KernelDwarf& kd, const DebugFunction& f, uint64_t at, bool listing,
                       ProbeSpec& spec, bool parameters_only) {
  DebugInfo* d = kd.dwarf();
  if (!d) return;
  std::set<std::string> have;
  for (const TargetArg& a : spec.args) have.insert(a.name);
  Dwarf_Die type;
  for (const DebugVariable& v : d->Variables(f, at, false)) {
    if (v.global || have.count(v.name) || (parameters_only && !v.parameter)) continue;
    Dwarf_Die var = v.die;
    // Listings show every variable in scope, as stap's; a probe keeps those it can read.
    if (!listing && d->Locate(f, &var, at).kind == Location::Kind::Unavailable) continue;
    TargetArg a;
    a.name = v.name;
    a.c_type = TypeOf(&var, &type) ? TypeName(&type) : "void";
    a.source = TargetArg::Source::Dwarf;
    spec.args.push_back(std::move(a));
    have.insert(v.name);
  }
}

bool ListWithDwarf(ResolveContext& ctx, std::string_view function, std::string_view prefix,
                   std::string_view suffix, ProbeSpec& spec, const std::string& module) {
  if (!ctx.listing || !ctx.kernel_dwarf || !ctx.module_dwarf) return false;
  KernelDwarf* kd = module.empty() ? ctx.kernel_dwarf() : ctx.module_dwarf(module);
  if (!kd || !kd->dwarf()) return false;
  std::vector<DebugFunction> fs = kd->Named(function);
  if (fs.empty()) return false;
  std::string head = module.empty()
                         ? std::string(prefix)
                         : std::string(prefix.starts_with("kprobe.") ? "kprobe.module" : "module") +
                               "(" + Quote(module) + ").function";
  spec.point = head + "(" + Quote(Located(fs[0], 0)) + ")" + std::string(suffix);
  if (ctx.target_variables && !spec.is_return)
    AddDwarfVariables(*kd, fs[0], fs[0].entry, true, spec);
  return true;
}

void ExpandKernelDwarf(ProbeSpec spec, const PointPart& name, std::span<const PointPart> suffixes,
                       bool statement, ResolveContext& ctx, std::vector<ProbeSpec>& out,
                       const std::string& module) {
  bool reported = false;
  auto error = [&](const std::string& message, const SourceRange* at = nullptr) {
    reported = true;
    if (!ctx.optional || ctx.listing)
      ctx.diags.Report(Diag::ProbeParameter, at ? *at : name.range, {message});
  };
  FunctionPattern pat;
  std::string why;
  if (!ParsePattern(name.string, &pat, &why)) return error(why);
  bool inlined = false, nearest = false;
  const PointPart* label = nullptr;
  for (const PointPart& p : suffixes) {
    inlined |= p.name == "inline";
    nearest |= p.name == "nearest";
    if (p.name == "label") label = &p;
  }
  if (label)
    if (std::string why = LabelSearch::BadFunction(pat, name.string); !why.empty())
      return error(why);
  std::string kind = module.empty() ? "kernel" : "module(\"" + module + "\")";
  std::string what = statement ? "`" + kind + ".statement(\"" + name.string + "\")`"
                     : label   ? "`.label`"
                     : inlined ? "`.inline`"
                     : name.string.find('@') != std::string::npos
                         ? "a source file in `" + name.string + "`"
                         : "`" + name.string + "`";
  KernelDwarf* kd = !module.empty()    ? (ctx.module_dwarf ? ctx.module_dwarf(module) : nullptr)
                    : ctx.kernel_dwarf ? ctx.kernel_dwarf()
                                       : nullptr;
  if (!kd || !kd->dwarf())
    return error(what + " needs the " + (module.empty() ? "kernel's" : "module's") +
                 " DWARF: " + (kd ? kd->error() : std::string("no kernel is known here")));
  if (statement && !pat.line_lo && !pat.relative && !pat.all_lines)
    return error(what + " needs a line: FUNC@FILE:LINE");
  if (spec.is_return && inlined) return error("`.inline` functions have no `.return`");
  std::vector<DebugFunction> fs;
  if (inlined || !pat.file.empty() || (label && HasGlob(pat.name)))
    fs = kd->Matching(pat.name, pat.file, inlined);
  else
    fs = kd->Named(pat.name);
  // Parameters come from the BTF of the kernel, or of the module.
  const KernelFunctionIndex* index = ctx.kernel_functions ? &ctx.kernel_functions() : nullptr;
  if (!module.empty()) {
    std::string why;
    std::vector<const KernelFunctionIndex*> in = ctx.kernel_modules
                                                     ? ctx.kernel_modules(module, &why)
                                                     : std::vector<const KernelFunctionIndex*>{};
    index = in.size() == 1 ? in[0] : nullptr;
  }
  size_t before = out.size();
  std::vector<int> lines_with_code;
  std::set<uint64_t> placed;
  bool whole = !statement && !inlined && !label;  // whole functions, probed by name
  LabelSearch labels(label ? label->string : "");
  std::string last_refusal;  // why the last function left out was
  bool wildcard =
      fs.size() > 1 || HasGlob(pat.name) || HasGlob(pat.file) || (label && HasGlob(label->string));
  for (const DebugFunction& f : fs) {
    DebugInfo* d = kd->dwarf();
    std::vector<std::pair<uint64_t, int>> at;  // address, line
    std::vector<std::string> at_label;         // with `.label`, each address's label
    if (label) {
      for (const DebugLabel& l : labels.In(*d, f)) {
        at.push_back({l.address, l.line});
        at_label.push_back(l.name);
      }
    } else if (!statement) {
      // An inline instance where it starts; a function at its first instruction, as its
      // BTF probes: by name, so that the kernel can share one multi-kprobe link.
      at.push_back({f.entry, 0});
    } else {
      Dwarf_Die die;
      Dwarf_Addr high = 0;
      if (!d->Die(f.die, &die) || dwarf_highpc(&die, &high) != 0) high = f.entry + 1;
      const std::string& file = pat.LineFile(f.file);
      std::vector<int> own =
          pat.all_lines || nearest ? d->FunctionLines(f, high) : std::vector<int>{};
      for (int line : pat.Lines(f.line, own)) {
        std::vector<uint64_t> found = d->LineAddresses(file, line, f.entry, high);
        int used = line;
        if (found.empty() && nearest)
          for (int l : own)
            if (l > line && !(found = d->LineAddresses(file, l, f.entry, high)).empty()) {
              used = l;
              break;
            }
        for (uint64_t a : found) at.push_back({a, used});
      }
      if (at.empty() && lines_with_code.empty()) lines_with_code = d->LinesIn(f.entry, high);
    }
    for (size_t i = 0; i < at.size(); ++i) {
      auto [address, line] = at[i];
      if (!placed.insert(address).second && !label) continue;  // labels may share one
      // The out-of-line function the address runs in, by the symbol the kernel knows.
      std::string symbol;
      uint64_t base = 0;
      if (!kd->Frame(f, &symbol, &base) || address < base) continue;
      std::string target = SymbolPlace(symbol, address - base);
      if (!module.empty()) target = module + ":" + target;  // the kernel's spelling
      // What the kernel cannot probe, or stap refuses: an error for one function, left
      // out of a wildcard.
      std::string refused = whole && index ? index->Refusal(symbol) : "";
      if (refused.empty() && whole && index) refused = index->Refusal(f.name);
      if (refused.empty() && kd->InitText(address))
        refused = module.empty() ? "it is init code, which runs once at boot (and is freed after)"
                                 : "it is the module's init or exit code, which runs once (and "
                                   "is freed after loading)";
      if (!refused.empty()) {
        if (!ctx.listing && !wildcard)
          error("cannot probe kernel function `" + symbol + "`: " + refused);
        last_refusal = "`" + symbol + "`: " + refused;
        continue;
      }
      // The kernel takes a name for one function only: a copy of several that share it
      // is `SYMBOL#K[+0xOFF]`, the K-th by address, which the runtime finds in kallsyms.
      bool copy = false;
      if (!ctx.listing) {
        std::vector<uint64_t> copies = kd->SymbolCopies(symbol);
        auto k = std::find(copies.begin(), copies.end(), base);
        if (copies.size() > 1 && (!module.empty() || k == copies.end())) {
          if (!wildcard)
            error("`" + symbol + "` names " + std::to_string(copies.size()) +
                  " functions of this kernel; a place inside one of them cannot be probed yet");
          continue;
        }
        if (copies.size() > 1) {
          target = SymbolPlace(symbol + "#" + std::to_string(k - copies.begin()), address - base);
          copy = true;
        }
      }
      ProbeSpec each = spec;
      each.function = f.name;
      each.target = target;
      each.die = f.die;
      each.address = address;
      each.has_target_vars = true;
      each.target_vars_later = false;
      // A function of a wildcard may share one multi-kprobe link with the others (and the
      // runtime may skip it); an exact address has its own kprobe.
      // (A module's function is named MODULE:NAME, which multi-kprobe links do not take.)
      each.numbers[0] = whole && wildcard && !copy && module.empty() ? 1 : 0;
      // Addresses and locations from DWARF are this build's: btaprun checks the build id.
      if (!ctx.listing && ctx.kernel_build_id) {
        std::string why;
        each.build_id = ctx.kernel_build_id(&why);
      }
      if (statement)
        each.point = kind + ".statement(" + Quote(Located(f, line)) + ")";
      else if (label)
        each.point = LabelSearch::Point(kind, f, at_label[i]);
      else
        each.point = kind + ".function(" + Quote(Located(f, 0)) + ")" + (inlined ? ".inline" : "") +
                     (spec.is_return ? ".return" : "");
      // Parameters from BTF where it knows the function (an out-of-line entry), the
      // rest from DWARF.
      bool btf = false;
      if (index && index->error().empty() && !f.inlined && !statement && !label)
        for (const KernelFunction* k : index->Match(f.name))
          if (ctx.target_variables) {
            AddBtfArgs(*index, *k, ctx.listing, each);
            btf = true;
          }
      if (ctx.target_variables && !spec.is_return) {
        AddDwarfVariables(*kd, f, address, ctx.listing, each);
      } else if (ctx.target_variables && !btf) {
        // A function BTF does not describe (a clone such as `.isra.0`): its parameters
        // where it starts (read there, as @entry values) and $return, from DWARF.
        AddDwarfVariables(*kd, f, f.entry, ctx.listing, each, true);
        Dwarf_Die die, type;
        if (d->Die(f.die, &die) && TypeOf(&die, &type)) {
          TargetArg r;
          r.name = "return";
          r.c_type = TypeName(&type);
          r.source = TargetArg::Source::Dwarf;
          each.args.insert(each.args.begin(), std::move(r));
        }
      }
      out.push_back(std::move(each));
    }
  }
  if (out.size() > before || ctx.listing || reported) return;
  if (label && !fs.empty() && last_refusal.empty())
    return error(labels.NoMatch(name.string, kd->dwarf()->path()), &label->range);
  if (!last_refusal.empty())
    return error("every function matching `" + name.string + "` is refused; the last, " +
                 last_refusal);
  if (fs.empty())
    return error(
        "no " +
        std::string(module.empty() ? "kernel function" : "function of module `" + module + "`") +
        " matches `" + name.string + "` in the " + (module.empty() ? "kernel's" : "module's") +
        " DWARF (`" + kd->dwarf()->path() + "`)");
  // The function's own lines (its unit's headers inline code of lower line numbers).
  std::string have;
  int shown = 0;
  for (int l : lines_with_code)
    if (l >= (fs.empty() ? 0 : fs[0].line) && shown++ < 12)
      have += (have.empty() ? "" : " ") + std::to_string(l);
  error("no code at `" + name.string + "`" +
        (have.empty() ? std::string() : "; lines with code there: " + have));
}

}  // namespace btap::sema
