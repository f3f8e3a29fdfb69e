// DWARF of a user program or library (elfutils libdw): its functions with their probe
// addresses, source lines, and the variables in scope at an address with their location
// expressions turned into value computations (LocExpr) that pass 2 writes as the script.
#pragma once

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "semantic/machine/elf_image.h"

namespace btap::sema {

// A value computed from the probed task's registers and memory: what a DWARF location
// expression means at one address.
struct LocExpr {
  enum class Op : uint8_t {
    Const,     // value
    Reg,       // the DWARF register `value`
    LoadBias,  // where the object was loaded: run-time address = link-time + bias
    Deref,     // `size` bytes at kids[0], zero-extended
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    And,
    Or,
    Xor,
    Shl,
    Shr,   // logical
    Shra,  // arithmetic
    Neg,
    Not,
    // The DWARF register `value` as the function was entered with it (DW_OP_entry_value),
    // read away from the entry: kids[0] is the frame's address (CFA) here, kids[1] the
    // function's entry address. Kernel probes save it at the entry (entry_values).
    EntryReg,
  };
  Op op = Op::Const;
  int64_t value = 0;
  int size = 8;
  std::vector<LocExpr> kids;

  static LocExpr Constant(int64_t v) { return {Op::Const, v, 8, {}}; }
  static LocExpr Register(int r) { return {Op::Reg, r, 8, {}}; }
  static LocExpr Binary(Op op, LocExpr a, LocExpr b);
};

// Where a variable is at one address.
struct Location {
  enum class Kind : uint8_t {
    Unavailable,
    Memory,
    Register,
    Value,
    Pieces
  } kind = Kind::Unavailable;
  LocExpr expr;  // Memory: the address; Register: a Reg; Value: the value itself
  struct Piece;
  std::vector<Piece> pieces;  // Pieces: the value's bytes, low to high
  std::string why;            // Unavailable: what the expression needs that we lack
};
struct Location::Piece {
  Location where;
  int size = 0;  // bytes
};

// One probe-able function: an out-of-line function, or one inlined instance of one.
struct DebugFunction {
  std::string name;
  std::string file;  // the declaring source file, as the compiler recorded it
  int line = 0;
  uint64_t entry = 0;   // its first instruction (link-time address)
  Dwarf_Off die = 0;    // the subprogram or inlined_subroutine
  Dwarf_Off frame = 0;  // the out-of-line subprogram whose frame it runs in
  bool inlined = false;
  bool external = false;
  bool noreturn = false;  // declared never to return (`_Noreturn`, `[[noreturn]]`)
};

// A variable visible at an address.
struct DebugVariable {
  std::string name;
  Dwarf_Die die;
  bool parameter = false;
  bool global = false;  // the compilation unit's (`$name` finds it; `$$vars` leaves it out)
};

class DebugInfo {
 public:
  ~DebugInfo();
  DebugInfo(const DebugInfo&) = delete;
  DebugInfo& operator=(const DebugInfo&) = delete;

  // The DWARF of `image` (itself, .gnu_debuglink or build-id); nullptr and a message
  // naming the places looked at when there is none.
  static std::unique_ptr<DebugInfo> Open(const ElfImage& image, std::string* error);
  // The DWARF of a relocatable object (a kernel module's .ko), relocated by libdwfl, which
  // lays its sections out from address 0 (relocatable_debuginfo.cpp).
  static std::unique_ptr<DebugInfo> OpenRelocatable(const std::string& path, std::string* error);
  // In a relocatable object: the function symbol that holds `address` and where it starts.
  bool SymbolAt(uint64_t address, std::string* name, uint64_t* start);
  // Its GNU build id ("" when it has none).
  std::string BuildId();
  bool relocatable() const { return dwfl_ != nullptr; }
  // In a relocatable object: the addresses of its function symbols named `name`.
  std::vector<uint64_t> SymbolAddresses(std::string_view name);
  // In a relocatable object: the section that holds `address` and the offset in it.
  bool SectionOffset(uint64_t address, std::string* section, uint64_t* offset);

  const std::string& path() const { return path_; }
  // Every function with code, in address order (inlined instances after their caller's).
  const std::vector<DebugFunction>& functions();
  // The functions of one compilation unit, in DIE order (the kernel's DWARF is read a unit
  // at a time, never indexed whole).
  std::vector<DebugFunction> UnitFunctions(Dwarf_Die* cu);
  // The compilation unit that holds `address` (.debug_aranges), false when none does.
  bool UnitAt(uint64_t address, Dwarf_Die* cu) { return dwarf_addrdie(dwarf_, address, cu); }
  // The compilation units' DIEs, read once.
  const std::vector<Dwarf_Die>& Units();
  // Where an entry probe goes: after the prologue, where parameters are in place (an
  // inlined instance: its first address).
  uint64_t ProbeAddress(const DebugFunction& function);
  // Addresses of the statements of FILE:LINE (FILE a glob over the recorded names),
  // each the lowest address of a line-table row sequence. With a range, only the unit
  // that holds `low` is read.
  std::vector<uint64_t> LineAddresses(std::string_view file, int line, uint64_t low, uint64_t high);
  // The lines that have code in [low, high), for `.statement` suggestions; with `file`
  // (a glob over the recorded names), only that file's.
  std::vector<int> LinesIn(uint64_t low, uint64_t high, std::string_view file = {});
  // The lines of `f`'s own that have code in [f.entry, high), in order: line-table rows of
  // its file at addresses in no function inlined into it, but for the line that calls it
  // (a header's lines, or a same-file inline function's, are not `f`'s; its calls of
  // them, and its lines after a lambda or a nested function, are).
  std::vector<int> FunctionLines(const DebugFunction& f, uint64_t high);

  bool Die(Dwarf_Off off, Dwarf_Die* out);
  // The variables in scope at `at` (a link-time address inside `function`), from the
  // innermost block out, and with `globals` the compilation unit's variables.
  std::vector<DebugVariable> Variables(const DebugFunction& function, uint64_t at,
                                       bool globals = true);
  // Where `var` is at `at` (`function` gives the frame base).
  Location Locate(const DebugFunction& function, Dwarf_Die* var, uint64_t at);
  // A variable of the whole program: `name` in compilation units whose name matches
  // `cu` (a glob; empty for any).
  std::optional<Dwarf_Die> Global(std::string_view name, std::string_view cu);
  // Every definition of it (one per unit that has one, or only the first with `first`);
  // a declaration when no unit defines it.
  std::vector<Dwarf_Die> Globals(std::string_view name, std::string_view cu, bool first = false);
  // A named type (`struct foo`, `foo_t`, `int`) defined anywhere in the program.
  std::optional<Dwarf_Die> Type(std::string_view name);

  // DW_OP_entry_value of a register away from the function's entry evaluates to an
  // EntryReg (a kernel probe saves the register at the entry); otherwise it is unavailable.
  bool entry_values = false;

 private:
  // Calls visit(line, address) for each line-table row in [low, high), with `file` only
  // that file's.
  void ForEachRow(uint64_t low, uint64_t high, std::string_view file,
                  const std::function<void(int, uint64_t)>& visit);
  DebugInfo() = default;
  // `attr` holds the expression (DWARF 5 operations refer through it to addresses and types).
  Location Evaluate(Dwarf_Attribute* attr, const Dwarf_Op* ops, size_t n,
                    const DebugFunction& function, uint64_t at, int depth);
  std::optional<LocExpr> FrameBase(const DebugFunction& function, uint64_t at, std::string* why,
                                   int depth);
  std::optional<LocExpr> Cfa(uint64_t at, std::string* why);

  std::string path_;
  int fd_ = -1;
  int main_fd_ = -1;
  Elf* elf_ = nullptr;
  Elf* main_elf_ = nullptr;  // the image itself, for .eh_frame
  Dwarf* dwarf_ = nullptr;
  Dwarf_CFI* eh_cfi_ = nullptr;
  Dwarf_CFI* debug_cfi_ = nullptr;
  Dwfl* dwfl_ = nullptr;  // a relocatable object's: owns dwarf_ and debug_cfi_
  Dwfl_Module* module_ = nullptr;
  uint64_t bias_ = 0;  // libdwfl's addresses less DWARF's
  bool HasLocationLists(Dwarf_Die* cu);

  std::vector<Dwarf_Die> units_;
  bool units_read_ = false;
  std::map<Dwarf_Off, bool> loclist_units_;
  std::map<Dwarf_Off, std::vector<Dwarf_Die>> unit_variables_;
  bool indexed_ = false;
  std::vector<DebugFunction> functions_;
};

// A C label (DW_TAG_label) with code: where a `.label` probe goes.
struct DebugLabel {
  std::string name;
  uint64_t address = 0;  // link-time
  int line = 0;
};
// The labels of a function's DIE (its lexical blocks' too, not nested functions' or
// inlined callees'), in DIE order; those the compiler placed nowhere are left out.
std::vector<DebugLabel> LabelsIn(Dwarf_Die* function);

// Calls f(Dwarf_Die*) for each child of `parent` in DIE order; f may return false to
// stop. Returns false when f stopped the walk.
template <typename F>
bool ForEachChildDie(Dwarf_Die* parent, F&& f) {
  Dwarf_Die c;
  if (dwarf_child(parent, &c) != 0) return true;
  do {
    if constexpr (std::is_same_v<decltype(f(&c)), bool>) {
      if (!f(&c)) return false;
    } else {
      f(&c);
    }
  } while (dwarf_siblingof(&c, &c) == 0);
  return true;
}

// Types, as scripts and -L see them.
// The C spelling stap prints in -L: "int", "char const*", "struct point*", "int[4]".
std::string TypeName(Dwarf_Die* type);
// Strips typedefs and const/volatile qualifiers; false for `void`.
bool PeelType(Dwarf_Die* type, Dwarf_Die* out);
// The declared type of a variable or member (false for void).
bool TypeOf(Dwarf_Die* die, Dwarf_Die* out);
int64_t TypeSize(Dwarf_Die* type);  // bytes, or -1 when unknown

}  // namespace btap::sema
