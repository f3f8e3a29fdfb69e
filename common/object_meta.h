// The `.btap.meta` section of a compiled object (.bo): what the runtime needs and the
// ELF cannot say — probes to attach and their order, output formats, globals to print
// at exit, limits, the script's name and hash, and a digest of every other section.
// Written by codegen, read by the runtime (and btaprun), which validates every byte
// before trusting it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/kernel_terms.h"

namespace btap::meta {

inline constexpr char kSectionName[] = ".btap.meta";
inline constexpr uint32_t kVersion = 15;
// A read-only section of its own holding one 64-bit flag: 1 when uprobe programs that
// may sleep are loaded sleepable (with per-task scratch), 0 otherwise. The runtime sets
// it before the object loads, and the verifier prunes the branch not taken.
inline constexpr char kSleepSection[] = ".rodata.btap_sleep";
// Kernel variables placed from DWARF are at link-time addresses; the kernel moves at boot
// (KASLR) as a whole. The object's kKernelSlide variable starts as minus the link-time
// address of kKernelAnchor, and the runtime adds that symbol's address in /proc/kallsyms.
inline constexpr char kKernelSlide[] = "__btap_kernel_slide";
inline constexpr char kKernelAnchor[] = "start_kernel";
// A CONFIG_ option a probe body reads (kconfig_value()): kKconfigPrefix + its name, a long
// that the runtime sets from the running kernel's configuration (y 1, m 2, a number as
// itself, unset 0), keeping the compiling kernel's value where that cannot be read.
inline constexpr char kKconfigPrefix[] = "__btap_kconfig_";
// A kernel symbol's address a probe body reads (the tapsets' __btap_ksym("NAME")):
// kKsymPrefix + its name, a long the runtime sets from /proc/kallsyms at load.
inline constexpr char kKsymPrefix[] = "__btap_ksym_";
// The namespaces of the process running the session, which the ns_* functions see ids
// in: kNsFactRows rows of kNsFactColumns longs that the runtime fills at load (the object
// keeps a fourth row, left 0, so that codegen bounds a row by a mask). Row 0 is
// its uid_map and row 1 its gid_map (the number of extents, then first, lower, count of
// each, as /proc/self/uid_map lists them); row 2 its pid namespace's inode.
inline constexpr char kNsFacts[] = "__btap_ns_facts";
inline constexpr uint32_t kNsFactRows = 3, kNsFactColumns = 16;
// Where a kernel module's section was loaded (a module variable's base): kModuleSectionPrefix
// and the hex of "MODULE SECTION", a long the runtime sets from /sys/module/MODULE/sections.
inline constexpr char kModuleSectionPrefix[] = "__btap_msec_";
// The file a process("PATH") probe matches (its processes run it): kExePrefix and a
// number, {u64 inode number, u64 device as the kernel encodes it (MKDEV), PATH and a NUL}.
// The runtime stat()s PATH where it loads the object and fills the first two.
inline constexpr char kExePrefix[] = "__btap_exe_";
// Where sched_process_exit fires after exit_mm: a hash map from process id (u32) to the
// bits (u64) of the kExePrefix files the process runs, kept by the object's programs from
// exec and fork on; the runtime adds the processes already running when it attaches.
inline constexpr char kExeProcsMap[] = "btap_exe_procs";
inline constexpr uint32_t kExeProcs = 32768;
// Their scratch space, a task storage map; where the kernel cannot let uprobes sleep
// the runtime makes it a one-element array that no program reaches.
inline constexpr char kTaskScratchMap[] = "btap_task_scratch";

enum class ValueType : uint8_t { Long = 1, String = 2, Stats = 3 };

// How a probe is attached; the values are part of the format.
enum class ProbeKind : uint8_t {
  Begin = 1,
  End = 2,
  Error = 3,
  Timer = 4,         // perf software clock (or the interpreter, when user-side)
  TimerProfile = 5,  // every CPU's clock
  Perf = 6,          // perf.type().config(); kernel.data() (see HwBreakpoint)
  Tracepoint = 7,    // raw tracepoint, by event name
  Kprobe = 8,
  Kretprobe = 9,
  Uprobe = 10,
  Uretprobe = 11,
  ProcessBegin = 12,
  ProcessEnd = 13,
  Netfilter = 14,  // a BPF netfilter program; numbers: protocol family, hook, priority
  // A file the runtime serves (user-side): target is its path under the session's folder;
  // numbers: maxsize (0: the default), umask, 1 for a write probe.
  Procfs = 15,
  Lsm = 16,  // a BPF LSM program (section lsm/HOOK), target the hook's name
};

// The procfs file whose write probes are stap's input.char and input.line
// (tapsets/input.stp): the runtime runs them on each byte of its standard input and
// serves no such file.
inline constexpr char kInputFile[] = "__stdin";

// A netfilter probe's target when its point named no priority: the runtime takes the free
// priority nearest to numbers[2] (stap's default, 0) rather than that one only.
inline constexpr char kNetfilterNearest[] = "nearest";

// A kernel.data watchpoint is a Perf probe of type 5 (PERF_TYPE_BREAKPOINT), numbers[1]
// its address (0: by symbol), and this target: "kernel.data:" then "w" or "rw", ":", its
// length, ":" and the symbol ("" for an address).
inline constexpr char kHwBreakpointPrefix[] = "kernel.data:";
inline std::string HwBreakpointTarget(bool rw, int length, std::string_view symbol) {
  return std::string(kHwBreakpointPrefix) + (rw ? "rw:" : "w:") + std::to_string(length) + ":" +
         std::string(symbol);
}
struct HwBreakpoint {
  bool rw = false;
  int length = 1;
  std::string symbol;
};
// False when `target` is no watchpoint's.
inline bool ParseHwBreakpoint(std::string_view target, HwBreakpoint* out) {
  if (!target.starts_with(kHwBreakpointPrefix)) return false;
  target.remove_prefix(sizeof kHwBreakpointPrefix - 1);
  size_t colon = target.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view access = target.substr(0, colon);
  if (access != "w" && access != "rw") return false;
  out->rw = access == "rw";
  target.remove_prefix(colon + 1);
  if (target.size() < 2 || target[1] != ':' || target[0] < '1' || target[0] > '8') return false;
  out->length = target[0] - '0';
  out->symbol = std::string(target.substr(2));
  return true;
}

struct Probe {
  std::string program;     // the BPF program's name in the object ("" for user-side probes
                           // that have no program)
  std::string point;       // the resolved probe point, for messages and -l style output
  uint8_t family = 0;      // a ProbeKind
  bool user_side = false;  // run by the runtime's interpreter (begin/end/error/timers)
  int64_t sequence = 0;    // begin/end/error order
  int64_t period_ns = 0;   // timers
  int64_t randomize_ns = 0;
  std::string target;  // tracepoint "sys:name", process path, perf counter...
  int64_t numbers[3] = {0, 0, 0};
  // Uprobes: the probed file's GNU build id (hex), which the runtime checks before it
  // attaches at a compiled file offset.
  std::string build_id;
  // Uprobes: a user read may fault pages in, so the program is loaded sleepable where
  // the kernel allows it (runtime/attach/uprobe.cpp sets kSleepSection's flag then).
  bool may_sleep = false;
  // Kernel functions: the same handler as an fentry (fexit for a return probe) program,
  // which the runtime loads instead of `program` where the kernel can (kprobe.cpp); "" when
  // the handler needs the kprobe's registers.
  std::string fentry_program;
  // Where the script names the point ("file:line:col"; "" for user-side probes), for
  // the runtime's messages about a point this kernel lacks.
  std::string where;
  // The runtime's own program (the -c/-x target tree's tracker): attached with the
  // script's probes, never listed (-L) or reported as a probe point (-v).
  bool internal = false;
  // A mark of btap's HelperSDT library (python probes): the mark's name, "" otherwise. The
  // runtime attaches it in its own copy of the library (common/helper_sdt.h), whatever
  // `target` and `numbers` say; `python_filter` holds the point's module, function and
  // file globs, one a line, which the runtime hands to the tracer.
  std::string helper_mark;
  std::string helper_args;  // the mark's operands as compiled: the runtime's copy must agree
  std::string python_filter;

  bool operator==(const Probe&) const = default;
};

// The file a probe's target names: the whole target, or the first line of a group's (a
// shared user-probe program's file, its offsets on the lines after it).
inline std::string TargetFile(const Probe& p) { return p.target.substr(0, p.target.find('\n')); }

struct Global {
  std::string name;  // as the script spells it
  std::string map;   // the BPF map (or global-data symbol) holding it
  ValueType value = ValueType::Long;
  std::vector<ValueType> keys;       // empty for scalars
  bool print_at_exit = false;        // written but never read
  std::vector<uint32_t> key_widths;  // bytes of each key in the map's key (8 for a long)
  // Only ever added to (`++`, `+=`, `<<<`) or deleted from: elements whose keys print
  // the same (symbol text kept as addresses) add up into one.
  bool adds_only = false;

  bool operator==(const Global&) const = default;
};

struct Limits {
  uint32_t max_string_len = 0;
  uint32_t max_map_entries = 0;
  uint32_t max_errors = 0;
  uint32_t max_action = 0;

  bool operator==(const Limits&) const = default;
};

// Where a script reads a kernel struct member through a CO-RE relocation, keyed as libbpf
// names a relocation's spec ("struct task_struct.se.load").
struct CoreSite {
  std::string spec;
  std::string where;  // "file:line:col": the first read, an unguarded one if any
  // Every read sits under a condition on a load-time `@defined`, whose branch a kernel
  // that lacks the member drops: not named when one is missing.
  bool guarded = false;

  bool operator==(const CoreSite&) const = default;
};

// A system call a probe names (`syscall.openat`), which the loading kernel must have: the
// dispatcher's number for it would otherwise never come.
struct NamedSyscall {
  std::string name;   // "openat"
  std::string point;  // as the script wrote it
  std::string where;  // "file:line:col"

  bool operator==(const NamedSyscall&) const = default;
};

// A slot of a program array (BPF_MAP_TYPE_PROG_ARRAY) that the runtime fills after the
// object loads and before any probe attaches: a dispatcher on raw_syscalls reaches the
// heavy syscalls:* bodies for the call's number there by tail call.
struct TailSlot {
  std::string map;      // the program array
  uint32_t slot = 0;    // its index there
  std::string program;  // the program it holds (loaded, never attached itself)
  std::string point;    // the probe point whose body the program runs, for messages

  bool operator==(const TailSlot&) const = default;
};

// A digest of one ELF section of the object (see DigestSection), so that a damaged
// object is refused before libbpf or the kernel reads it.

struct SectionDigest {
  std::string name;
  uint64_t digest = 0;

  bool operator==(const SectionDigest&) const = default;
};

struct Meta {
  std::string script_name;
  std::string script_hash;  // hex digest of everything that went into the object
  Limits limits;
  std::vector<std::string> formats;  // printf formats by id
  std::vector<Probe> probes;
  std::vector<Global> globals;
  // Where the script reads each kernel struct member through a CO-RE relocation: a
  // kernel that lacks the member gets a message naming the script line.
  std::vector<CoreSite> core_sites;
  // The preprocessor's kernel_v/kernel_vr/CONFIG_ decisions, checked again at load.
  std::vector<KernelTerm> kernel_terms;
  // The build id of the kernel whose DWARF placed the kernel and module variables the
  // programs read (@var; "" when none): another kernel refuses the object.
  std::string kernel_build_id;
  // The system calls the probes name, which a kernel must have to load the object.
  std::vector<NamedSyscall> syscalls;
  // The program arrays' contents.
  std::vector<TailSlot> tail_slots;
  // A kernel probe keeps symbol text as addresses (runtime/symbols.h's tags), which the
  // runtime makes into text where it reads an array's keys.
  bool symbol_tags = false;
  // Every section of the object, in section-header order: entry 0 (the null section)
  // also covers the ELF header; `.btap.meta`'s own entry covers only its section header
  // (a checksum ends its contents).
  std::vector<SectionDigest> sections;

  bool operator==(const Meta&) const = default;
};

// 64-bit FNV-1a, continuing from `h`. Damage, not tampering, is what it guards against:
// every step is a bijection of the state, so any single changed byte changes the result.
uint64_t Fnv1a(std::string_view bytes, uint64_t h = 14695981039346656037ull);

// What a section header says besides where the section lies in the file.
struct SectionHeader {
  uint32_t type = 0;
  uint64_t flags = 0;
  uint64_t address = 0;
  uint64_t size = 0;
  uint32_t link = 0;
  uint32_t info = 0;
  uint64_t addralign = 0;
  uint64_t entsize = 0;
};

// The digest of one section: its name and header, then its contents (none for
// SHT_NOBITS sections).
uint64_t DigestSection(std::string_view name, const SectionHeader& header,
                       std::string_view contents);

// Serialises `meta` (little-endian, length-prefixed; deterministic), ending with a
// checksum of the bytes before it.
std::vector<uint8_t> Encode(const Meta& meta);

// Parses and validates section bytes; on failure returns false with a message naming
// what was wrong and where (never reads out of bounds, whatever the bytes). Bytes that
// do not match their checksum are reported as a damaged object.
bool Decode(std::string_view bytes, Meta* meta, std::string* error);

}  // namespace btap::meta
