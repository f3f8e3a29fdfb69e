// SystemTap printf format strings: `%[flag][width][.precision][l]conv`, shared by pass 2
// (argument checks) and the runtime (formatting).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace btap {

struct DecodeTable;  // common/decode_names.h

// Addresses the runtime turns into symbols: only codegen writes these directives, as
// `%{symname}s` and so on, for the tapset functions whose text is made in user space.
// Their argument is a string of hex addresses separated by spaces. Kernel addresses are
// looked up in /proc/kallsyms (files and lines in the kernel's DWARF, when it is
// installed); user addresses (the `u` modes) in the ELF and DWARF of the objects mapped
// into the process that the record's latest `%{task}d` names.
enum class Symbolic : uint8_t {
  None,
  Name,      // {symname}: symname(addr)
  Data,      // {symdata}: symdata(addr), "name+0xoff/0xsize [module]"
  Caller,    // {caller}: caller(), "name 0xaddr"
  Syms,      // {syms}: print_syms(), a line " 0xaddr : symdata\n" per address
  Full,      // {backtrace}: print_backtrace(), the same for a captured stack
  Simple,    // {sbacktrace}: sprint_backtrace(), a line "name+0xoff [module]\n" per address
  Brief,     // {backtrace_brief}: a line "name+0xoff\n" per address
  Fuller,    // {backtrace_fileline}: Full with " at file:line" after the size
  File,      // {symfile}: the source file of addr
  Line,      // {symline}: its line
  FileLine,  // {symfileline}: "file:line"
  Module,    // {modname}: the module that holds addr
  // The same shapes for user addresses, in the order above: {usymname} ... {umodname}.
  UName,
  UData,
  UCaller,
  USyms,
  UFull,
  USimple,
  UBrief,
  UFuller,
  UFile,
  ULine,
  UFileLine,
  UModule,
};

// The kernel shape of a mode, and whether it looks up user addresses.
constexpr bool UserSymbolic(Symbolic s) { return s >= Symbolic::UName; }
constexpr Symbolic KernelShape(Symbolic s) {
  return UserSymbolic(s) ? static_cast<Symbolic>(static_cast<uint8_t>(s) -
                                                 static_cast<uint8_t>(Symbolic::UName) + 1)
                         : s;
}

// The name written between the braces (empty for None).
std::string SymbolicName(Symbolic s);

struct FormatDirective {
  enum class Arg : uint8_t { None, Long, String };
  std::string_view text;  // the literal text before this directive, or the whole directive
  bool literal = false;   // plain text (including `%%` as a single '%')
  char flag = 0;          // one of 0 + - space #
  int width = -1;         // -1 absent, -2 `*`
  int precision = -1;     // -1 absent, -2 `*`
  char conversion = 0;    // d i u o x X c s p b m M
  Arg arg = Arg::None;    // what the conversion consumes
  Symbolic symbolic = Symbolic::None;  // `%{mode}s` (internal formats only)
  // A group (internal formats only): `%{(}` starts one, and `%[flag][width][.prec]{)}s`
  // ends it, printing the text formatted in between as its `%s` would print a string of
  // that text cut to the session's string length. Neither takes an argument. Pass 2
  // writes them where printf takes over the sprintf that made a printed string.
  enum class Group : uint8_t { None, Open, Close } group = Group::None;
  // How a `%s` of print folding's (internal formats only) makes text of its string:
  // `%{quoted}s`: a string that starts with byte 1 is the rest as user_string_quoted()
  // makes it (C-escaped, between double quotes), any other string as it is;
  // `%{argv}s`: bytes that btap_user_argv_raw() wrote, as __get_argv() formats them.
  // Either text is cut to the session's string length, as the kernel's would be.
  // `%{task}d` prints nothing: its number is the process whose address space the
  // record's later user-symbolic directives look up (0: none, addresses stay hex).
  // `%{mem}s` and `%{memhex}s` are printf's `%m` and `%M`: their string is the bytes the
  // handler read, printed as they are or as two lowercase hex digits each, in the width.
  // `%{hist}s` is a histogram a kernel probe prints: its string is 4 bytes of padding, the
  // shape as four longs (kind, start, stop, interval), then the value merged over the CPUs
  // (common/stats.h's slots); it prints the table print() of the histogram writes.
  // `%{decode:MODE:KNOWN:TABLE}d` prints its number as the names TABLE gives it, by
  // common/decode_names.h's rules (bpflib's btap_decode), cut to the session's string
  // length, then as `%s` (with the directive's flag, width and precision) prints a string.
  enum class Rendering : uint8_t {
    AsIs,
    Quoted,
    ArgList,
    Task,
    Memory,
    MemoryHex,
    Histogram,
    Decode
  } rendering = Rendering::AsIs;
  std::string_view decode = {};                          // `%{decode:SPEC}d`'s SPEC
  std::shared_ptr<const DecodeTable> decode_table = {};  // and its table, parsed
};

// Splits `format` into literal runs and directives; on a malformed directive returns
// false with a message and the byte offset of the bad directive. `internal` accepts the
// `%{mode}s` directives and groups that btap writes (scripts cannot).
bool ParseFormat(std::string_view format, std::vector<FormatDirective>& out, std::string* error,
                 size_t* error_offset, bool internal = false);

}  // namespace btap
