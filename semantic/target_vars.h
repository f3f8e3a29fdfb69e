// The target-variable pass's lowering of one user-space probe (internal to semantic/):
// C values from DWARF written as script expressions (target_vars.cpp), pretty printing
// and the walk over the probe's body (target_walk.cpp).
#pragma once

#include <elfutils/libdw.h>

#include <optional>
#include <span>

#include <string>
#include <string_view>
#include <vector>

#include "frontend/ast.h"
#include "semantic/machine/debuginfo.h"

struct btf;

namespace btap::sema {

struct Elab;
struct Probe;
class UserBinary;

// A C value being lowered: in user memory at `expr`, or the value `expr` itself.
struct TValue {
  Dwarf_Die type{};
  bool typed = false;
  bool in_memory = true;
  ast::Expr* expr = nullptr;
  int bit_size = 0, bit_offset = 0;  // a bitfield, counted from the low bit at `expr`
};

class TargetLowering {
 public:
  // `headers_only`: outside user-space probes, only `@cast`s to types from user headers.
  TargetLowering(Elab& e, Probe& p, UserBinary& bin, bool headers_only = false);
  // Lowers every target expression of the probe's body and condition.
  void Run();

 private:
  // One target expression: sets t->lowered, or reports (quiet: only says whether it can).
  bool Lower(ast::TargetBase* t, bool quiet);
  // Whether this walk lowers `t` (not a kernel type's `@cast`; with headers_only_, only a
  // header type's).
  bool Handles(ast::TargetBase* t) const;
  bool Base(ast::TargetBase* t, TValue* v, std::string* why, bool* done);
  ast::Expr* Pretty(const TValue& v, int depth);  // never fails: what it cannot read is `?`
  ast::Expr* VarsString(std::string_view which, int depth);
  ast::Expr* MarkArg(int n, std::string* why);
  ast::Expr* Entry(ast::Expr* value);
  ast::Expr* Sprintf(const std::string& text, const std::vector<ast::Expr*>& args);

  // Expressions
  template <typename T>
  T* Node() {
    T* n = arena().New<T>();
    n->kind = T::kKind;
    n->range = range_;
    return n;
  }
  Arena& arena();
  ast::Expr* Num(int64_t v);
  ast::Expr* Str(std::string_view s);
  ast::Expr* Bin(ast::Tok op, ast::Expr* a, ast::Expr* b);
  ast::Expr* Reg(int dwarf);
  ast::Expr* Bias();
  ast::Expr* Load(ast::Expr* address, int size, bool is_signed);
  ast::Expr* CallFn(std::string_view name, std::vector<ast::Expr*> args);
  ast::Expr* Extend(ast::Expr* v, int bits, bool is_signed);
  ast::Expr* FromLoc(const LocExpr& l);

  // C values
  bool FromLocation(const Location& loc, TValue* v, std::string* why);
  bool FromVariable(const DebugVariable& var, uint64_t at, TValue* v, std::string* why);
  ast::Expr* Scalar(const TValue& v, std::string* why);
  ast::Expr* Final(const TValue& v, std::string* why);
  bool Dereference(TValue* v, std::string* why);
  bool Member(TValue* v, std::string_view name, std::string* why);
  // `cast_base`: the first `[i]` on an @cast, which indexes from the cast's address.
  bool Index(TValue* v, ast::Expr* index, std::string* why, bool cast_base = false);
  static bool IsCharArray(const TValue& v, int64_t* length);
  static std::string Article(const std::string& type);

  Elab& e_;
  Probe& p_;
  UserBinary& bin_;
  DebugInfo* dwarf_ = nullptr;
  bool headers_only_ = false;
  const DebugFunction* f_ = nullptr;
  uint64_t pc_ = 0;       // where the probe's variables are read
  uint64_t call_pc_ = 0;  // return probes: where their @entry values are read
  SourceRange range_;     // of the expression being lowered: generated nodes carry it
  int quiet_ = 0;         // inside a branch this kernel's @defined rules out
};

// The pass (listed in elaborate.cpp).
void LowerTargets(Elab& e);

// A condition that `@defined` of what is not there decides for good (through `!`, `&&`
// and `||`), or nullopt. A true @defined of a kernel member chain may still be left to the
// loading kernel, so only false ones decide: the branch ruled out is never compiled, and
// its target variables need not exist (stap's `@defined($x) ? $x : $y`). With `here`, true
// ones decide too, as they do in the compiling kernel: codegen compiles a branch they rule
// out only when it compiles here (Lowering::LoadTimeCondition), so what it names that this
// kernel lacks is no error.
std::optional<bool> Settled(const ast::Expr* e, bool here = false);
// Values of the kernel variables that DWARF locates (kernel_dwarf_vars.cpp).
void KernelDwarfTargets(Elab& e, Probe& p);
// @var in the other kernel-side probes (tracepoints, timers, perf, kprobe.*): the kernel's
// variables at fixed addresses, from its DWARF (kernel_dwarf_vars.cpp).
void KernelAtVars(Elab& e, Probe& p);
// The name of the argument an @var's value is placed in: "@NAME[@FILE]", and ",MODULE"
// when it names a module.
inline std::string AtVarKey(const ast::AtVar& v) {
  std::string key = "@" + std::string(v.target_name);
  if (v.has_module && !v.module.empty()) key += "," + std::string(v.module);
  return key;
}
// `$`/`$$` suffixes on kernel values, from BTF (kernel_pretty.cpp).
void KernelPrettyPrint(Elab& e, Probe& p);
// The same suffixes on a kernel `@cast(...)` chain, in any probe that runs in the kernel.
void KernelCastPrettyPrint(Elab& e, Probe& p);
// The BTF type a kernel value of `type` has after `chain` (members, indexes); 0 when BTF
// has no such member.
uint32_t KernelChainType(const struct btf* btf, uint32_t type,
                         std::span<const ast::TargetComponent> chain);
// The kernel type `@cast` names ("sock", "struct sock", "union u", a typedef); 0 when BTF
// has none.
uint32_t KernelTypeNamed(const struct btf* btf, std::string_view name);
struct KernelFacts;
// The parts of a kernel-side `@cast`'s module list ("kernel<linux/nfs_fs.h>:nfs:sunrpc"), in
// order, each without its `<header>`; "" is the kernel.
std::vector<std::string_view> KernelCastModules(std::string_view module);
// The type a kernel-side `@cast` names and, in `*btf`, the BTF that has it: `module` is ""
// or "kernel" (vmlinux), or stap's list "kernel:nfs:sunrpc", searched in its order (a
// module's split BTF has vmlinux's types too); 0 when none has it.
uint32_t KernelCastType(const KernelFacts& kernel, std::string_view module, std::string_view name,
                        const struct btf** btf);

}  // namespace btap::sema
