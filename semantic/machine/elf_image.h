// What btap needs from a user program's ELF file, read with libelf alone: function symbols,
// load segments (uprobes attach by file offset), build id and debuglink, SDT notes and
// dynamic dependencies; and the lookups around it: programs, debug files, shared libraries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/sdt_note.h"

namespace btap::sema {

struct ElfSymbol {
  std::string name;
  uint64_t addr = 0;  // st_value (link-time virtual address)
  uint64_t size = 0;
  bool exported = false;  // defined GLOBAL/WEAK function in .dynsym
};

// One entry of .note.stapsdt (owner "stapsdt", type 3), as sys/sdt.h writes it, its
// addresses corrected for prelink (common/sdt_note.h).
using SdtNote = StapsdtNote;

// One operand of an SDT note, in x86-64 AT&T syntax.
struct SdtArg {
  enum class Kind : uint8_t { Register, Memory, Constant } kind = Kind::Constant;
  int size = 8;            // bytes (1, 2, 4, 8) from the `N@` prefix
  bool is_signed = false;  // negative size prefix
  bool is_float = false;   // `Nf@`: a floating-point value (newer sys/sdt.h)
  // DWARF number: rax 0, rdx 1, rcx 2, rbx 3, rsi 4, rdi 5, rbp 6, rsp 7, r8-r15 8-15,
  // rip 16, xmm0-xmm15 17-32 (not in pt_regs); for Memory the base, -1 when none.
  int reg = -1;
  int index_reg = -1;  // Memory with (base,index,scale)
  int scale = 1;
  int64_t value = 0;  // Constant: the value; Memory: displacement
  // Register: the named sub-register's width (%edi 4, %al 1) and whether it is one of
  // %ah/%bh/%ch/%dh (bits 8-15). The value is those bits; `size` may differ from reg_bytes.
  int reg_bytes = 8;
  bool high_byte = false;
  // Memory whose displacement names a symbol (`counter(%rip)`, `buf+8(%rip)`): the address
  // is that symbol's link-time address plus `value` (plus base and index registers, except
  // a %rip base, which only marks it PC-relative), relocated like the probe's pc. Look the
  // symbol up with ElfImage::SymbolAddress.
  std::string symbol;
};

// `text` split at `sep` (empty fields kept or not): $PATH, ld.so.conf lines, operands.
std::vector<std::string> SplitFields(std::string_view text, char sep, bool keep_empty);

// Parses an SDT argument string (x86-64 only). An empty string is a probe without
// arguments. On error returns false with a message naming the bad argument.
bool ParseSdtArgs(std::string_view text, std::vector<SdtArg>* out, std::string* error);

class ElfImage {
 public:
  // nullptr and a message ("cannot open `X`: No such file or directory", "`X` is not an ELF
  // file") on failure. Corrupt input never crashes it: what cannot be read is left out.
  static std::unique_ptr<ElfImage> Open(const std::string& path, std::string* error);

  const std::string& path() const { return path_; }  // realpath of what was opened
  bool is_dyn() const { return is_dyn_; }            // ET_DYN: PIE or shared library
  bool is_64() const { return is_64_; }              // ELFCLASS64
  uint16_t machine() const { return machine_; }      // e_machine

  // STT_FUNC and STT_GNU_IFUNC symbols defined in .symtab or .dynsym, deduplicated by
  // (name, addr), sorted by addr then name.
  const std::vector<ElfSymbol>& functions() const { return functions_; }
  // The function whose [addr, addr + size) holds addr; the first by name among aliases.
  const ElfSymbol* FunctionAt(uint64_t addr) const;
  // Link-time address of a defined function, data object or global untyped mark (the
  // linker's, such as _sinittext) named `name` (first found).
  std::optional<uint64_t> SymbolAddress(std::string_view name) const;
  // The PLT's stubs (x86-64 .plt, .plt.sec and .plt.got), each named by the function it
  // calls through the GOT, in address order: what `.plt` probes.
  const std::vector<ElfSymbol>& plt() const { return plt_; }
  // Through the PT_LOAD segment whose file image holds vaddr (not its .bss tail).
  std::optional<uint64_t> FileOffset(uint64_t vaddr) const;

  const std::string& build_id() const { return build_id_; }    // lower-case hex, "" if none
  const std::string& debuglink() const { return debuglink_; }  // "" if none
  uint32_t debuglink_crc() const { return debuglink_crc_; }
  bool has_debug_info() const { return has_debug_info_; }  // .debug_info with content
  const std::vector<SdtNote>& sdt_notes() const { return sdt_notes_; }

  const std::vector<std::string>& needed() const { return needed_; }    // DT_NEEDED
  const std::vector<std::string>& runpath() const { return runpath_; }  // DT_RUNPATH, split
  const std::vector<std::string>& rpath() const { return rpath_; }      // DT_RPATH, split
  std::string interpreter() const { return interpreter_; }              // PT_INTERP or ""

 private:
  struct Segment {
    uint64_t vaddr, offset, filesz;
  };
  ElfImage() = default;
  static std::unique_ptr<ElfImage> Load(const std::string& path, std::string* error, bool symbols);
  void Index();

  std::string path_;
  bool is_dyn_ = false, is_64_ = false, has_debug_info_ = false;
  uint16_t machine_ = 0;
  std::vector<ElfSymbol> functions_;
  std::vector<ElfSymbol> plt_;
  std::vector<uint64_t> max_end_;                          // running max of addr + size
  std::vector<std::pair<std::string, uint64_t>> objects_;  // data symbols, sorted by name
  std::vector<Segment> segments_;
  std::string build_id_, debuglink_, interpreter_;
  uint32_t debuglink_crc_ = 0;
  std::vector<SdtNote> sdt_notes_;
  std::vector<std::string> needed_, runpath_, rpath_;

  friend class ElfReader;
};

// A program name looked up like a shell does: a name with a '/' is used as is (made
// absolute; any regular file, as shared libraries need not be executable); otherwise the
// first regular executable file in $PATH's directories (default
// "/usr/local/bin:/usr/bin:/bin"), else, as stap, the name in the current directory (any
// regular file). "" if not found.
std::string FindProgram(std::string_view name);

// Whether a process("…")/library path is a glob (stap's `*`, `?` and `[`).
bool HasGlobChars(std::string_view path);
// The regular files a glob matches (relative patterns from the current directory),
// symlinks resolved, deduplicated and sorted: what process("/usr/lib/*/libc.so.*") probes.
std::vector<std::string> GlobPrograms(std::string_view pattern);

// Where the DWARF of `image` lives: the image itself when it has .debug_info; else
// <debug_root>/.build-id/xx/rest.debug; else the debuglink name in the image's directory,
// its .debug/ subdirectory and <debug_root>/<image's directory>/, the first whose CRC32
// matches. "" when none; `tried` receives the candidates looked at, for an error message.
std::string FindDebugFile(const ElfImage& image, std::vector<std::string>* tried = nullptr,
                          std::string_view debug_root = "/usr/lib/debug");

// The shared libraries of process("exe").library("PATTERN"): PATTERN is a path (with '/',
// may be a glob), or a file name or glob matched against the DT_NEEDED names (and resolved
// file names) of the exe's dependencies, walked breadth first and resolved like ld.so does
// (DT_RPATH, LD_LIBRARY_PATH, DT_RUNPATH with $ORIGIN, /etc/ld.so.conf, standard dirs).
// Resolved absolute paths, deduplicated, in discovery order.
std::vector<std::string> FindLibraries(const ElfImage& exe, std::string_view pattern);

}  // namespace btap::sema
