// The elaborated program (pass 2's output): resolved probes, globals and functions with
// their types. AST nodes point into it (Symbol::var, Call::callee); it owns the symbols.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/source.h"
#include "frontend/ast.h"

struct btf;

namespace btap::sema {

using ast::Type;
std::string_view TypeName(Type t);

enum class VarKind : uint8_t { Local, Param, Global };

struct Variable {
  std::string_view name;
  VarKind kind = VarKind::Local;
  Type type = Type::Unknown;
  int arity = -1;  // -1: not yet known; 0: scalar; N: array with N keys
  std::vector<Type> key_types;
  SourceRange decl;         // declaration, or first use of a local
  SourceRange type_origin;  // where the value type was first inferred
  std::vector<SourceRange> key_origins;
  ast::Global* global = nullptr;
  FileId file = kNoFile;  // the file that declares it
  bool from_tapset = false;
  bool written = false;
  bool read = false;
  bool used = false;  // reachable from a kept probe or function
  // Written other than by adding to an element (`++`, `--`, `+=`, `-=`, `<<<`) or
  // deleting: the runtime may merge two elements of such an array only when this is false.
  bool assigned = false;
};

struct Function {
  std::string_view name;
  ast::Function* decl = nullptr;
  int intrinsic = -1;  // index into the intrinsic table, for `__btap_*` built-ins
  Type ret = Type::Unknown;
  SourceRange ret_origin;
  std::vector<Variable*> params;
  std::vector<Variable*> locals;
  bool from_tapset = false;
  bool used = false;
  bool visited = false;  // symbols resolved
  // On a cycle of calls: only probes that run in user space may reach it, and codegen
  // makes it a function of its own, called (not inlined).
  bool recursive = false;
};

// Probe families: each has its own file under semantic/probes/ (matching and parameter
// rules) and, later, one under runtime/ (attaching).
enum class Family : uint8_t {
  Begin,
  End,
  Error,
  Never,
  Timer,
  TimerProfile,
  Perf,
  Tracepoint,
  KernelFunction,
  Kprobe,
  ProcessFunction,
  ProcessStatement,
  ProcessMark,
  ProcessBegin,
  ProcessEnd,
  Syscall,    // __syscall(N)[.return]: the syscall tapset's dispatch on raw_syscalls
  Netfilter,  // netfilter.hook(...).pf(...): a BPF netfilter program on the hook
  Procfs,     // procfs("PATH").read/.write: a file the runtime serves, handled in user space
  Lsm,        // kernel.lsm("HOOK"): a BPF LSM program on a security hook
};
std::string_view FamilyName(Family f);
// Probes in user programs (uprobes), whose $vars come from the program's DWARF.
// Probes on kernel functions (kprobes): kernel.function and kprobe.function.
inline bool IsKernelFunction(Family f) {
  return f == Family::KernelFunction || f == Family::Kprobe;
}

inline bool IsUserSpace(Family f) {
  return f == Family::ProcessFunction || f == Family::ProcessStatement || f == Family::ProcessMark;
}

// x86-64 pt_regs offsets: the registers that carry a function's first six arguments
// (rdi, rsi, rdx, rcx, r8, r9), and rax, which carries its return value.
inline constexpr uint32_t kArgRegisterOffsets[] = {112, 104, 96, 88, 72, 64};
inline constexpr uint32_t kReturnRegisterOffset = 80;

struct TargetArg {
  std::string name;    // without `$`; "@name@file.c" for an @var (kernel_dwarf_vars.cpp)
  std::string c_type;  // "struct task_struct*"
  // Where the value is (tracepoints): the argument's position in the raw tracepoint's
  // arguments (BTF prototype), or its place in the tracefs record (format file).
  uint32_t index = 0;
  uint32_t offset = 0;
  uint32_t size = 8;
  bool is_signed = false;
  bool is_array = false;    // stored inline in the record: its value is its address
  bool is_dynamic = false;  // `__data_loc`: the record holds (length << 16 | offset)
  // Syscalls: `offset` is the register's place in pt_regs, `size` the C type's width.
  // Dwarf: a kernel variable that DWARF locates at the probe's address; `value` computes
  // it (or its address, `in_memory`) from the registers and kernel memory (pass 2b).
  enum class Source : uint8_t { Field, Register, SyscallNr, Return, Dwarf } source = Source::Field;
  ast::Expr* value = nullptr;
  bool in_memory = false;
  uint32_t btf_type = 0;            // kernel functions: its type in the kernel's BTF (for ->member)
  const struct btf* btf = nullptr;  // a module function's: the module's split BTF
};

// One concrete probe point, with the parameters its family checked.
struct ProbeSpec {
  Family family = Family::Never;
  std::string point;         // canonical spelling: timer.ms(100), kernel.trace("sched:x")
  int64_t sequence = 0;      // begin/end/error ordering
  int64_t period_ns = 0;     // timers
  int64_t randomize_ns = 0;  // timers
  // perf: type, config, sample period; syscall: number; procfs: maxsize (0: the
  // default), umask, 1 for a write probe
  int64_t numbers[3] = {0, 0, 0};
  std::string target;    // tracepoint, function pattern, process or procfs path
  std::string function;  // process(...).function("...") pattern
  std::string syscall;   // syscalls: the call's name ("" for every call)
  bool is_return = false;
  bool has_target_vars = false;    // $vars are known (tracepoints)
  bool target_vars_later = false;  // $vars resolved by a later pass (debug info)
  bool args_from_format = false;   // tracepoint $vars are tracefs record fields, not BTF args
  // kernel.trace("syscalls:sys_enter_NAME") (1) or sys_exit_NAME (2) run as a body of the
  // raw_syscalls dispatch (numbers[0]: NAME's number), its record fields read from the
  // registers as the kernel fills them (semantic/probes/tracepoint.cpp).
  int raw_syscall = 0;
  // process(...).syscall[.return]: every call (numbers[0] -1) of the processes `process`
  // names: a PID, a program's PATH, or "" for every process (the -c/-x target's tree).
  bool process_syscall = false;
  std::string process;
  bool process_is_pid = false;  // process(PID): `process` (or process.begin/.end's `target`)
  std::vector<TargetArg> args;
  // process(...) function, statement and mark probes: the probe's link-time address in
  // the object `target`, the DWARF function it is in (0: known from the symbol table
  // only), and for SDT marks the note's provider, name and argument spec.
  uint64_t address = 0;
  uint64_t die = 0;
  uint64_t call_address = 0;  // return probes: where their @entry values are taken
  uint64_t call_offset = 0;   // (after the prologue) and its file offset
  std::string sdt_provider, sdt_name, sdt_args;
  // python2/python3 points (2 or 3): a HelperSDT mark whose $$parms, $$locals, $$vars
  // and $$return are the strings the interpreter passed (semantic/probes/python.cpp).
  int python = 0;
  std::string python_filter;  // its module, function and file globs (PythonPoint::filter)
  bool plt = false;           // a .plt probe: a PLT stub, `function` the name it calls ($$name)
  std::string build_id;       // of `target`, for the runtime to check before attaching
  // Kernel functions whose every parameter takes one register: how many there are, which
  // is how many 8-byte arguments an fentry program sees (-1 otherwise).
  int tracing_slots = -1;
};

// Probes whose $vars are a BTF prototype's arguments, each an 8-byte slot of the program's
// context (`index`): BTF raw tracepoints and LSM hooks.
inline bool HasSlotArgs(const ProbeSpec& s) {
  return (s.family == Family::Tracepoint && !s.args_from_format) || s.family == Family::Lsm;
}

struct Probe {
  ProbeSpec spec;
  std::string origin;  // the probe point as the user wrote it (stap's `/* <- ... */`)
  std::string listed;  // the name -l shows: the alias-level point, or the concrete one
  std::set<std::string_view> handler_writes;  // for @probewrite in alias bodies
  ast::Probe* decl = nullptr;
  ast::Block* body = nullptr;  // alias prologue + handler + epilogue, privately copied
  ast::Expr* condition = nullptr;
  std::vector<Variable*> locals;
  FileId file = kNoFile;
  bool from_tapset = false;
  // Optional (`?`, `!`) or a wildcard's match at some level of its aliases: its point
  // may be missing where the object loads.
  bool may_be_absent = false;
  SourceRange point_range;  // the point as the script wrote it
  size_t order = 0;         // position in script order
};

// Facts of the running kernel that kernel-side process tracking needs, filled by pass 2
// only when a script uses them (process probes, ppid()).
struct KernelFacts {
  int64_t task_real_parent = -1;       // offsetof(struct task_struct, real_parent); -1: unknown
  int64_t task_tgid = -1;              // offsetof(struct task_struct, tgid)
  std::vector<int64_t> fork_syscalls;  // clone, clone3, fork, vfork: where processes start
  bool target_tree = false;            // process probes follow a -c/-x target's tree of processes
  // The link-time address of meta::kKernelAnchor in the vmlinux whose DWARF placed a
  // kernel variable at a fixed address; 0 when none did.
  uint64_t dwarf_anchor = 0;
  // The kernel BTF that kernel $vars and @cast are typed with (member accesses), read on
  // first use; the Machine that owns it outlives code generation.
  std::function<const struct btf*()> btf;
  // The split BTF of kernel module `name` (over `btf`'s), for `@cast(p, "T", "kernel:M")`;
  // null when that kernel has no such module or its BTF cannot be read.
  std::function<const struct btf*(std::string_view name)> module_btf;
  // The compiling (or -r) kernel's CONFIG_ values ("y", "m", "250"; "" when unset).
  std::function<std::string(std::string_view)> config;
  // The compiling (or -r) kernel's base release ("6.18.0"), stap's kernel_v.
  std::string release;
};

struct Program {
  KernelFacts kernel;
  std::vector<Variable*> globals;  // declaration order
  std::vector<Function*> functions;
  std::vector<Probe*> probes;
  std::vector<ast::EmbeddedDecl*> embedded;  // top-level `%{ %}` blocks of the files in use

  // Storage; pointers above stay valid.
  std::deque<Variable> variable_store;
  std::deque<Function> function_store;
  std::deque<Probe> probe_store;

  Variable* NewVariable() { return &variable_store.emplace_back(); }
  Function* NewFunction() { return &function_store.emplace_back(); }
  Probe* NewProbe() { return &probe_store.emplace_back(); }
};

}  // namespace btap::sema
