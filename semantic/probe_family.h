// Probe-point families as plug-ins. A family declares the patterns it accepts
// (`timer.ms(number).randomize(number)`), checks the parameters of a matched point and
// produces concrete probes; for listing (-l) it may expand a point into many.
#pragma once

#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/diagnostics.h"
#include "semantic/program.h"

namespace btap::sema {

class TracepointCatalog;
class SyscallTable;
class KernelFunctionIndex;
class BinaryCache;
class KernelDwarf;

enum class ArgKind : uint8_t { None, Number, String };

struct PatternPart {
  std::string_view name;
  ArgKind arg = ArgKind::None;
};

// A point component with its literal argument, as written or as a pattern requires.
struct PointPart {
  std::string name;
  ArgKind arg = ArgKind::None;
  int64_t number = 0;
  std::string string;
  SourceRange range;
  bool placeholder = false;  // listing: the argument was not given, spelled `(number)`
};

class ProbeFamily;

struct PatternDef {
  const ProbeFamily* family;
  std::vector<PatternPart> parts;
  std::string spelling;  // timer.ms(number)
};

// An optional point that matched nothing, and why (a module not loaded, a hook no BPF
// program reaches): said when nothing else is left to run.
struct SkippedPoint {
  SourceRange at;
  std::string point;
  std::string why;
};

// What families may consult while resolving: machine facts, loaded lazily.
struct ResolveContext {
  DiagnosticSink& diags;
  std::function<const TracepointCatalog&()> tracepoints;
  std::function<const SyscallTable&()> syscalls;
  std::function<const KernelFunctionIndex&()> kernel_functions;
  // The modules a glob names, each with its functions (see Machine::kernel_modules).
  std::function<std::vector<const KernelFunctionIndex*>(std::string_view, std::string*)>
      kernel_modules;
  BinaryCache* binaries = nullptr;  // user programs (process probes)
  bool optional = false;            // the point is optional (`?`): no match is no error
  bool listing = false;             // -l/-L: wildcards over arguments are allowed
  bool target_variables = true;     // false for -l: $vars are not shown
  bool privileged = false;          // guru mode (-g) or a tapset's probe
  // The kernel's build id, for probes at its absolute addresses ("" with the reason).
  std::function<const std::string&(std::string*)> kernel_build_id;
  // The kernel's DWARF, looked for on first call (unset where there is no machine).
  std::function<KernelDwarf*()> kernel_dwarf = nullptr;
  // A kernel module's DWARF, the same way.
  std::function<KernelDwarf*(const std::string&)> module_dwarf = nullptr;
  // The kernel's BTF (null when there is none), read on first call (netfilter $vars).
  std::function<const struct btf*()> kernel_btf = nullptr;
  // The kernel compiled for is the running one (false under `-r` for another kernel):
  // facts only the running kernel has (kallsyms) apply.
  bool running_kernel = true;
  // Where Skipped() keeps its reasons (none: they are dropped).
  std::vector<SkippedPoint>* skipped = nullptr;
  std::string point;  // the point being resolved, as written (for Skipped)
  // -l/-L: the point is one of a listed alias's own (`listing` is for the pattern only).
  bool in_listed_alias = false;
  // What `process` without a path names: -c's program, -x's executable, or "" (with why
  // in target_program_error when -x's executable could not be read).
  std::string target_program = {};
  std::string target_program_error = {};
  // Whether syscalls:* points can skip compat calls on raw_syscalls (Machine's
  // task_compat_status); unset: they cannot.
  std::function<bool()> task_compat_status = nullptr;

  // An optional point matches nothing, for this reason.
  void Skipped(SourceRange at, std::string why) const {
    if (skipped && optional && !listing) skipped->push_back({at, point, std::move(why)});
  }
};

class ProbeFamily {
 public:
  virtual ~ProbeFamily() = default;
  virtual Family id() const = 0;
  // Patterns in stap's spelling, e.g. "kernel.trace(string)".
  virtual std::vector<std::string_view> Patterns() const = 0;
  // Checks the parameters of `parts` (which match `pattern`) and appends concrete
  // probes; reports errors at the offending part. Listing calls this too.
  virtual void Resolve(const PatternDef& pattern, std::span<const PointPart> parts,
                       ResolveContext& ctx, std::vector<ProbeSpec>& out) const = 0;
};

// Expands a kernel-function probe over the probeable functions `name` matches
// (probes/kernel_function.cpp): one probe each, named `prefix("NAME")` plus the
// suffixes (`.call`, `.exported`, `.inline`, `.return`, `.maxactive(N)`) that follow,
// with $vars from BTF when `with_vars`.
// `module` (a `module(...)` part, or nullptr for vmlinux): its glob picks the modules
// whose functions are matched instead, named `module("M").function("NAME")`.
void ExpandKernelFunctions(ProbeSpec spec, const PointPart& name,
                           std::span<const PointPart> suffixes, std::string_view prefix,
                           bool with_vars, ResolveContext& ctx, std::vector<ProbeSpec>& out,
                           const PointPart* module = nullptr);

// Every family, in a fixed order; each family file defines one accessor.
std::span<const PatternDef> AllPatterns();

const ProbeFamily& BeginEndFamily();
const ProbeFamily& NeverFamily();
const ProbeFamily& TimerFamily();
const ProbeFamily& PerfFamily();
const ProbeFamily& TracepointFamily();
const ProbeFamily& KernelFunctionFamily();
const ProbeFamily& KprobeFamily();
const ProbeFamily& ProcessFamily();
const ProbeFamily& SyscallFamily();
const ProbeFamily& ProcessSyscallFamily();
const ProbeFamily& NetfilterFamily();
const ProbeFamily& ProcfsFamily();
const ProbeFamily& LsmFamily();

// Spelling helpers shared by families.
std::string Quote(std::string_view s);
std::string PartSpelling(const PointPart& p);
std::string PointSpelling(std::span<const PointPart> parts);
bool GlobMatch(std::string_view pattern, std::string_view text);
bool HasGlob(std::string_view s);

}  // namespace btap::sema
