// DWARF of user programs through libdw: the function index, prologue ends, scopes and
// the evaluation of location expressions into value computations (see debuginfo.h).
#include "semantic/machine/debuginfo.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <set>

#include "semantic/probe_family.h"

namespace btap::sema {

LocExpr LocExpr::Binary(Op op, LocExpr a, LocExpr b) {
  if (a.op == Op::Const && b.op == Op::Const) {
    int64_t x = a.value, y = b.value;
    switch (op) {
      case Op::Add:
        return Constant(x + y);
      case Op::Sub:
        return Constant(x - y);
      case Op::Mul:
        return Constant(x * y);
      default:
        break;
    }
  }
  if (op == Op::Add && b.op == Op::Const && b.value == 0) return a;
  LocExpr e{op, 0, 8, {}};
  e.kids.push_back(std::move(a));
  e.kids.push_back(std::move(b));
  return e;
}

namespace {

bool FileMatches(std::string_view pattern, std::string_view file) {
  if (pattern.empty()) return true;
  if (GlobMatch(pattern, file)) return true;
  std::string tail = "*/" + std::string(pattern);
  return GlobMatch(tail, file);
}

Location Unavailable(std::string why) {
  Location l;
  l.why = std::move(why);
  return l;
}

std::string OpName(unsigned atom) {
  char buf[32];
  snprintf(buf, sizeof buf, "DW_OP 0x%x", atom);
  return buf;
}

}  // namespace

DebugInfo::~DebugInfo() {
  if (eh_cfi_) dwarf_cfi_end(eh_cfi_);  // dwarf_getcfi_elf's is ours; dwarf_getcfi's is not
  if (dwfl_)
    dwfl_end(dwfl_);  // with the Dwarf it relocated
  else if (dwarf_)
    dwarf_end(dwarf_);
  if (elf_) elf_end(elf_);
  if (main_elf_) elf_end(main_elf_);
  if (fd_ >= 0) close(fd_);
  if (main_fd_ >= 0) close(main_fd_);
}

std::unique_ptr<DebugInfo> DebugInfo::Open(const ElfImage& image, std::string* error) {
  std::vector<std::string> tried;
  std::string file = FindDebugFile(image, &tried);
  if (file.empty()) {
    std::string where;
    for (size_t i = 0; i < tried.size() && i < 4; ++i) where += (i ? ", " : "") + tried[i];
    *error = "no debug information for `" + image.path() + "`" +
             (where.empty() ? "" : " (looked in the file itself, " + where + ")") +
             "; install its debug symbols or rebuild it with -g";
    return nullptr;
  }
  elf_version(EV_CURRENT);
  std::unique_ptr<DebugInfo> d(new DebugInfo);
  d->path_ = file;
  d->fd_ = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (d->fd_ < 0 || !(d->elf_ = elf_begin(d->fd_, ELF_C_READ_MMAP, nullptr))) {
    *error = "cannot read debug information in `" + file + "`: " + strerror(errno);
    return nullptr;
  }
  d->dwarf_ = dwarf_begin_elf(d->elf_, DWARF_C_READ, nullptr);
  if (!d->dwarf_) {
    *error = "cannot read DWARF in `" + file + "`: " + dwarf_errmsg(-1);
    return nullptr;
  }
  Elf* unwind = d->elf_;
  if (file != image.path()) {
    d->main_fd_ = open(image.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (d->main_fd_ >= 0) d->main_elf_ = elf_begin(d->main_fd_, ELF_C_READ_MMAP, nullptr);
    if (d->main_elf_) unwind = d->main_elf_;
  }
  d->eh_cfi_ = dwarf_getcfi_elf(unwind);
  d->debug_cfi_ = dwarf_getcfi(d->dwarf_);
  return d;
}

bool DebugInfo::Die(Dwarf_Off off, Dwarf_Die* out) { return dwarf_offdie(dwarf_, off, out); }

namespace {

// The file a declaration names. libdw before 0.191 reads DW_AT_decl_file 0 as "no file",
// as DWARF 4 meant it; in DWARF 5 it is the line table's first file, the unit's own, which
// Clang names there when the compile named its source by a relative path (`cc -g x.c`).
const char* DeclFile(Dwarf_Die* die) {
  if (const char* file = dwarf_decl_file(die)) return file;
  Dwarf_Attribute attr;
  Dwarf_Word index = 1;
  if (dwarf_formudata(dwarf_attr_integrate(die, DW_AT_decl_file, &attr), &index) != 0 || index)
    return nullptr;
  Dwarf_Die cu;
  Dwarf_Half version = 0;
  Dwarf_Files* files = nullptr;
  size_t count = 0;
  if (!dwarf_diecu(die, &cu, nullptr, nullptr) ||
      dwarf_cu_die(cu.cu, &cu, &version, nullptr, nullptr, nullptr, nullptr, nullptr) == nullptr ||
      version < 5 || dwarf_getsrcfiles(&cu, &files, &count) != 0 || count == 0)
    return nullptr;
  return dwarf_filesrc(files, 0, nullptr, nullptr);
}

struct Indexer {
  std::vector<DebugFunction>& out;
  Dwarf_Off frame = 0;

  void Add(Dwarf_Die* die, bool inlined) {
    Dwarf_Addr entry = 0;
    if (dwarf_entrypc(die, &entry) != 0) {
      // Split (hot/cold) functions have only DW_AT_ranges: the first range is the entry.
      Dwarf_Addr base = 0, start = 0, end = 0;
      if (dwarf_ranges(die, 0, &base, &start, &end) <= 0 || !start) return;
      entry = start;
    }
    const char* name = dwarf_diename(die);
    if (!name) return;
    DebugFunction f;
    f.name = name;
    // An inlined instance is listed by its function's declaration, as stap does.
    const char* file = DeclFile(die);
    int line = 0;
    dwarf_decl_line(die, &line);
    f.line = line;
    f.file = file ? file : "";
    f.entry = entry;
    f.die = dwarf_dieoffset(die);
    f.inlined = inlined;
    f.external = dwarf_hasattr_integrate(die, DW_AT_external);
    f.noreturn = dwarf_hasattr_integrate(die, DW_AT_noreturn);
    f.frame = inlined ? frame : f.die;
    out.push_back(std::move(f));
  }

  void Walk(Dwarf_Die* parent) {
    ForEachChildDie(parent, [&](Dwarf_Die* child) {
      switch (dwarf_tag(child)) {
        case DW_TAG_subprogram: {
          if (dwarf_hasattr(child, DW_AT_declaration)) break;
          Dwarf_Off outer = frame;
          frame = dwarf_dieoffset(child);
          Add(child, false);
          Walk(child);
          frame = outer;
          break;
        }
        case DW_TAG_inlined_subroutine:
          Add(child, true);
          Walk(child);
          break;
        case DW_TAG_lexical_block:
        case DW_TAG_namespace:
          Walk(child);
          break;
        default:
          break;
      }
    });
  }
};

}  // namespace

const std::vector<Dwarf_Die>& DebugInfo::Units() {
  if (units_read_) return units_;
  units_read_ = true;
  Dwarf_Off off = 0, next = 0;
  size_t header = 0;
  for (; dwarf_nextcu(dwarf_, off, &next, &header, nullptr, nullptr, nullptr) == 0; off = next) {
    Dwarf_Die cu;
    if (dwarf_offdie(dwarf_, off + header, &cu)) units_.push_back(cu);
  }
  return units_;
}

const std::vector<DebugFunction>& DebugInfo::functions() {
  if (indexed_) return functions_;
  indexed_ = true;
  Indexer ix{functions_};
  for (Dwarf_Die cu : Units()) ix.Walk(&cu);
  std::stable_sort(functions_.begin(), functions_.end(),
                   [](const DebugFunction& a, const DebugFunction& b) {
                     return a.entry != b.entry ? a.entry < b.entry : a.inlined < b.inlined;
                   });
  return functions_;
}

std::vector<DebugFunction> DebugInfo::UnitFunctions(Dwarf_Die* cu) {
  std::vector<DebugFunction> out;
  Indexer ix{out};
  ix.Walk(cu);
  return out;
}

// Whether the compiler described variables with location lists anywhere in the unit:
// optimised code, whose parameters are valid at the entry and not always after it.
bool DebugInfo::HasLocationLists(Dwarf_Die* cu) {
  Dwarf_Off off = dwarf_dieoffset(cu);
  if (auto it = loclist_units_.find(off); it != loclist_units_.end()) return it->second;
  bool found = false;
  std::function<bool(Dwarf_Die*)> walk = [&](Dwarf_Die* parent) {
    return ForEachChildDie(parent, [&](Dwarf_Die* c) {
      int tag = dwarf_tag(c);
      Dwarf_Attribute a;
      if ((tag == DW_TAG_formal_parameter || tag == DW_TAG_variable) &&
          dwarf_attr(c, DW_AT_location, &a)) {
        unsigned form = dwarf_whatform(&a);
        if (form == DW_FORM_sec_offset || form == DW_FORM_loclistx || form == DW_FORM_data4)
          return false;
      }
      return !dwarf_haschildren(c) || walk(c);
    });
  };
  found = !walk(cu);
  loclist_units_[off] = found;
  return found;
}

// Where entry probes go, as stap places them: in units without location lists (code
// built without optimisation) after the prologue, at the line-table row that follows
// the function's first; in optimised units at the entry itself, where the location
// lists describe the parameters (past it, a branch may leave before the probe).
uint64_t DebugInfo::ProbeAddress(const DebugFunction& f) {
  if (f.inlined) return f.entry;
  Dwarf_Die die, cu;
  if (!Die(f.die, &die) || !dwarf_diecu(&die, &cu, nullptr, nullptr)) return f.entry;
  if (HasLocationLists(&cu)) return f.entry;
  Dwarf_Lines* lines = nullptr;
  size_t n = 0;
  if (dwarf_getsrclines(&cu, &lines, &n) != 0) return f.entry;
  Dwarf_Addr high = 0;
  if (dwarf_highpc(&die, &high) != 0) high = f.entry + 1;
  // Rows are sorted by address; find the first row at the entry.
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    Dwarf_Addr a = 0;
    dwarf_lineaddr(dwarf_onesrcline(lines, mid), &a);
    if (a < f.entry)
      lo = mid + 1;
    else
      hi = mid;
  }
  // The previous sequence may end at this entry: its end row sorts first.
  auto ends = [&](size_t i) {
    bool end = false;
    dwarf_lineendsequence(dwarf_onesrcline(lines, i), &end);
    return end;
  };
  Dwarf_Addr at = 0;
  while (lo < n && ends(lo) && dwarf_lineaddr(dwarf_onesrcline(lines, lo), &at) == 0 &&
         at == f.entry)
    ++lo;
  if (lo + 1 >= n || dwarf_lineaddr(dwarf_onesrcline(lines, lo), &at) != 0 || at != f.entry)
    return f.entry;
  Dwarf_Addr next = 0;
  dwarf_lineaddr(dwarf_onesrcline(lines, lo + 1), &next);
  return next > f.entry && next < high && !ends(lo + 1) ? next : f.entry;
}

std::vector<uint64_t> DebugInfo::LineAddresses(std::string_view file, int line, uint64_t low,
                                               uint64_t high) {
  std::set<uint64_t> out;
  // A function's code is all in its unit's line table.
  std::vector<Dwarf_Die> one(1);
  bool ranged = high > low && dwarf_addrdie(dwarf_, low, &one[0]);
  for (Dwarf_Die cu : ranged ? one : Units()) {
    Dwarf_Lines* lines = nullptr;
    size_t n = 0;
    if (dwarf_getsrclines(&cu, &lines, &n) == 0) {
      int previous = -1;
      for (size_t i = 0; i < n; ++i) {
        Dwarf_Line* row = dwarf_onesrcline(lines, i);
        int no = 0;
        Dwarf_Addr a = 0;
        bool stmt = false, end = false;
        dwarf_lineno(row, &no);
        dwarf_lineaddr(row, &a);
        dwarf_linebeginstatement(row, &stmt);
        dwarf_lineendsequence(row, &end);
        const char* src = dwarf_linesrc(row, nullptr, nullptr);
        bool here = no == line && stmt && !end && src && FileMatches(file, src) &&
                    (high <= low || (a >= low && a < high));
        if (here && previous != line) out.insert(a);
        previous = end ? -1 : no;
      }
    }
  }
  return {out.begin(), out.end()};
}

std::vector<DebugLabel> LabelsIn(Dwarf_Die* function) {
  std::vector<DebugLabel> out;
  auto walk = [&](auto& self, Dwarf_Die* scope, int depth) -> void {
    if (depth > 64) return;
    ForEachChildDie(scope, [&](Dwarf_Die* d) {
      int tag = dwarf_tag(d);
      if (tag == DW_TAG_lexical_block) return self(self, d, depth + 1);
      Dwarf_Addr at = 0;
      const char* name = dwarf_diename(d);
      if (tag != DW_TAG_label || !name || dwarf_lowpc(d, &at) != 0) return;
      int line = 0;
      dwarf_decl_line(d, &line);
      out.push_back({name, at, line});
    });
  };
  walk(walk, function, 0);
  return out;
}

std::vector<int> DebugInfo::FunctionLines(const DebugFunction& f, uint64_t high) {
  // The address ranges of the functions inlined into f (outside any other inlined
  // function), each with the line of f that calls it: the call's own rows lie in the
  // callee's range (`vfs_read`'s `fsnotify_access(file)` line), and stay f's.
  struct Inlined {
    uint64_t start, end;
    int call_line;
  };
  std::vector<Inlined> inlined;
  Dwarf_Die die;
  if (Die(f.die, &die)) {
    auto walk = [&](auto& self, Dwarf_Die* scope, int depth) -> void {
      if (depth > 64) return;
      ForEachChildDie(scope, [&](Dwarf_Die* d) {
        int tag = dwarf_tag(d);
        if (tag == DW_TAG_inlined_subroutine) {
          Dwarf_Attribute attr;
          Dwarf_Word call_line = 0;
          if (dwarf_attr(d, DW_AT_call_line, &attr)) dwarf_formudata(&attr, &call_line);
          Dwarf_Addr base = 0, start = 0, end = 0;
          for (ptrdiff_t o = 0; (o = dwarf_ranges(d, o, &base, &start, &end)) > 0;)
            inlined.push_back({start, end, static_cast<int>(call_line)});
        } else if (tag == DW_TAG_lexical_block || tag == DW_TAG_try_block ||
                   tag == DW_TAG_catch_block) {
          self(self, d, depth + 1);
        }
      });
    };
    walk(walk, &die, 0);
  }
  auto owns = [&](int line, uint64_t a) {
    return std::none_of(inlined.begin(), inlined.end(), [&](const Inlined& r) {
      return a >= r.start && a < r.end && line != r.call_line;
    });
  };
  std::set<int> out;
  ForEachRow(f.entry, high, f.file, [&](int line, uint64_t a) {
    if (owns(line, a)) out.insert(line);
  });
  return {out.begin(), out.end()};
}

std::vector<int> DebugInfo::LinesIn(uint64_t low, uint64_t high, std::string_view file) {
  std::set<int> out;
  ForEachRow(low, high, file, [&](int line, uint64_t) { out.insert(line); });
  return {out.begin(), out.end()};
}

void DebugInfo::ForEachRow(uint64_t low, uint64_t high, std::string_view file,
                           const std::function<void(int, uint64_t)>& visit) {
  // The unit holding `low` (every unit where no address ranges say which, as LineAddresses).
  std::vector<Dwarf_Die> one(1);
  bool ranged = dwarf_addrdie(dwarf_, low, &one[0]) != nullptr;
  for (Dwarf_Die cu : ranged ? one : Units()) {
    Dwarf_Lines* lines = nullptr;
    size_t n = 0;
    if (dwarf_getsrclines(&cu, &lines, &n) != 0) continue;
    for (size_t i = 0; i < n; ++i) {
      Dwarf_Line* row = dwarf_onesrcline(lines, i);
      int no = 0;
      Dwarf_Addr a = 0;
      dwarf_lineno(row, &no);
      dwarf_lineaddr(row, &a);
      if (a < low || a >= high) continue;
      const char* src = file.empty() ? nullptr : dwarf_linesrc(row, nullptr, nullptr);
      if (file.empty() || (src && FileMatches(file, src))) visit(no, a);
    }
  }
}

// stap's order: scope by scope from the innermost block around `at` out to the
// function, each in DIE order (parameters and locals as declared); then parameters only
// the abstract origin lists (optimised away entirely); then, when asked, the unit's
// variables.
std::vector<DebugVariable> DebugInfo::Variables(const DebugFunction& f, uint64_t at, bool globals) {
  std::vector<DebugVariable> out;
  Dwarf_Die fn;
  if (!Die(f.die, &fn)) return out;
  std::set<std::string> seen;
  auto add = [&](Dwarf_Die* d, bool param, bool global) {
    const char* name = dwarf_diename(d);
    if (!name || !seen.insert(name).second) return;
    out.push_back({name, *d, param, global});
  };
  // The blocks that hold `at`, outermost first (no walk over the whole unit).
  std::vector<Dwarf_Die> scopes{fn};
  for (bool deeper = true; deeper && scopes.size() < 64;) {
    deeper = !ForEachChildDie(&scopes.back(), [&](Dwarf_Die* c) {
      if (dwarf_tag(c) != DW_TAG_lexical_block || dwarf_haspc(c, at) != 1) return true;
      scopes.push_back(*c);
      return false;
    });
  }
  for (auto scope = scopes.rbegin(); scope != scopes.rend(); ++scope)
    ForEachChildDie(&*scope, [&](Dwarf_Die* c) {
      int tag = dwarf_tag(c);
      if (tag == DW_TAG_formal_parameter)
        add(c, true, false);
      else if (tag == DW_TAG_variable && !dwarf_hasattr(c, DW_AT_declaration))
        add(c, false, false);
    });
  Dwarf_Attribute origin_attr;
  Dwarf_Die origin;
  if (dwarf_attr(&fn, DW_AT_abstract_origin, &origin_attr) &&
      dwarf_formref_die(&origin_attr, &origin))
    ForEachChildDie(&origin, [&](Dwarf_Die* c) {
      if (dwarf_tag(c) == DW_TAG_formal_parameter) add(c, true, false);
    });
  if (!globals) return out;
  Dwarf_Die cu;
  if (!dwarf_diecu(&fn, &cu, nullptr, nullptr)) return out;
  std::vector<Dwarf_Die>& unit = unit_variables_[dwarf_dieoffset(&cu)];
  if (unit.empty())
    ForEachChildDie(&cu, [&](Dwarf_Die* c) {
      // Definitions only: an `extern` declaration in a header has the name but no place.
      if (dwarf_tag(c) == DW_TAG_variable && !dwarf_hasattr(c, DW_AT_declaration))
        unit.push_back(*c);
    });
  for (Dwarf_Die& v : unit) add(&v, false, true);
  return out;
}

std::optional<Dwarf_Die> DebugInfo::Global(std::string_view name, std::string_view cu_pattern) {
  std::vector<Dwarf_Die> found = Globals(name, cu_pattern, true);
  if (found.empty()) return std::nullopt;
  return found.front();
}

std::vector<Dwarf_Die> DebugInfo::Globals(std::string_view name, std::string_view cu_pattern,
                                          bool first) {
  std::vector<Dwarf_Die> defined;
  std::optional<Dwarf_Die> declared;
  for (Dwarf_Die cu : Units()) {
    const char* cu_name = dwarf_diename(&cu);
    if (!cu_pattern.empty() && !(cu_name && FileMatches(cu_pattern, cu_name))) continue;
    ForEachChildDie(&cu, [&](Dwarf_Die* c) {
      const char* n = dwarf_tag(c) == DW_TAG_variable ? dwarf_diename(c) : nullptr;
      if (!n || name != n) return true;
      if (!dwarf_hasattr_integrate(c, DW_AT_location)) {
        if (!declared) declared = *c;
        return true;
      }
      defined.push_back(*c);
      return false;
    });
    if (first && !defined.empty()) break;
  }
  if (defined.empty() && declared) defined.push_back(*declared);
  return defined;
}

std::optional<Dwarf_Die> DebugInfo::Type(std::string_view name) {
  int tag = DW_TAG_typedef;
  std::string_view want = name;
  for (auto [prefix, t] : {std::pair<std::string_view, int>{"struct ", DW_TAG_structure_type},
                           {"union ", DW_TAG_union_type},
                           {"enum ", DW_TAG_enumeration_type}})
    if (name.substr(0, prefix.size()) == prefix) tag = t, want = name.substr(prefix.size());
  std::optional<Dwarf_Die> found;
  for (Dwarf_Die cu : Units()) {
    ForEachChildDie(&cu, [&](Dwarf_Die* c) {
      int t = dwarf_tag(c);
      bool fits = t == tag || (tag == DW_TAG_typedef && t == DW_TAG_base_type);
      if (!fits || dwarf_hasattr(c, DW_AT_declaration)) return true;
      const char* n = dwarf_diename(c);
      if (n && want == n) found = *c;
      return !found;
    });
    if (found) return found;
  }
  return std::nullopt;
}

// ---- Location expressions ----

Location DebugInfo::Locate(const DebugFunction& f, Dwarf_Die* var, uint64_t at) {
  Dwarf_Attribute attr;
  if (dwarf_attr_integrate(var, DW_AT_const_value, &attr)) {
    Dwarf_Sword v = 0;
    Dwarf_Word u = 0;
    Location l;
    l.kind = Location::Kind::Value;
    if (dwarf_formsdata(&attr, &v) == 0)
      l.expr = LocExpr::Constant(v);
    else if (dwarf_formudata(&attr, &u) == 0)
      l.expr = LocExpr::Constant(int64_t(u));
    else
      return Unavailable("its constant value is not a number");
    return l;
  }
  if (!dwarf_attr_integrate(var, DW_AT_location, &attr)) return Unavailable("optimized out");
  Dwarf_Op* ops = nullptr;
  size_t len = 0;
  int n = dwarf_getlocation_addr(&attr, at, &ops, &len, 1);
  if (n < 0) return Unavailable(std::string("unreadable location: ") + dwarf_errmsg(-1));
  if (n == 0 || len == 0) return Unavailable("not available at this address (optimized out)");
  return Evaluate(&attr, ops, len, f, at, 0);
}

std::optional<LocExpr> DebugInfo::Cfa(uint64_t at, std::string* why) {
  for (Dwarf_CFI* cfi : {eh_cfi_, debug_cfi_}) {
    if (!cfi) continue;
    Dwarf_Frame* frame = nullptr;
    if (dwarf_cfi_addrframe(cfi, at, &frame) != 0) continue;
    Dwarf_Op* ops = nullptr;
    size_t n = 0;
    std::optional<LocExpr> out;
    if (dwarf_frame_cfa(frame, &ops, &n) == 0) {
      DebugFunction none;
      Location l = Evaluate(nullptr, ops, n, none, at, 3);
      if (l.kind == Location::Kind::Memory)
        out = l.expr;
      else
        *why = "its frame's address (CFA) is not computable: " + l.why;
    }
    free(frame);
    if (out) return out;
  }
  if (why->empty()) *why = "no call-frame information for this address";
  return std::nullopt;
}

std::optional<LocExpr> DebugInfo::FrameBase(const DebugFunction& f, uint64_t at, std::string* why,
                                            int depth) {
  Dwarf_Die fn;
  Dwarf_Attribute attr;
  if (!Die(f.frame, &fn) || !dwarf_attr_integrate(&fn, DW_AT_frame_base, &attr)) {
    *why = "its function has no frame base";
    return std::nullopt;
  }
  Dwarf_Op* ops = nullptr;
  size_t len = 0;
  if (dwarf_getlocation_addr(&attr, at, &ops, &len, 1) <= 0 || len == 0) {
    *why = "its function's frame base is not available here";
    return std::nullopt;
  }
  Location l = Evaluate(&attr, ops, len, f, at, depth + 1);
  if (l.kind == Location::Kind::Memory) return l.expr;
  if (l.kind == Location::Kind::Register) return l.expr;
  *why = "its function's frame base: " + l.why;
  return std::nullopt;
}

Location DebugInfo::Evaluate(Dwarf_Attribute* attr, const Dwarf_Op* ops, size_t n,
                             const DebugFunction& f, uint64_t at, int depth) {
  using Op = LocExpr::Op;
  if (depth > 4) return Unavailable("its location expression nests too deeply");
  std::vector<LocExpr> st;
  std::vector<Location::Piece> pieces;
  enum class Mode { Memory, Register, Value } mode = Mode::Memory;
  LocExpr reg;
  auto pop = [&](LocExpr* out) {
    if (st.empty()) return false;
    *out = std::move(st.back());
    st.pop_back();
    return true;
  };
  auto current = [&](Location* out) {
    if (mode == Mode::Register) {
      out->kind = Location::Kind::Register;
      out->expr = reg;
    } else if (!st.empty()) {
      out->kind = mode == Mode::Value ? Location::Kind::Value : Location::Kind::Memory;
      out->expr = st.back();
    } else {
      out->kind = Location::Kind::Unavailable;
      out->why = "optimized out";
    }
  };
  auto binary = [&](Op op) {
    LocExpr b, a;
    if (!pop(&b) || !pop(&a)) return false;
    st.push_back(LocExpr::Binary(op, std::move(a), std::move(b)));
    return true;
  };
  for (size_t i = 0; i < n; ++i) {
    unsigned atom = ops[i].atom;
    uint64_t a = ops[i].number, b = ops[i].number2;
    bool ok = true;
    if (atom >= DW_OP_lit0 && atom <= DW_OP_lit31) {
      st.push_back(LocExpr::Constant(atom - DW_OP_lit0));
      continue;
    }
    if (atom >= DW_OP_reg0 && atom <= DW_OP_reg31) {
      mode = Mode::Register;
      reg = LocExpr::Register(int(atom - DW_OP_reg0));
      continue;
    }
    if (atom >= DW_OP_breg0 && atom <= DW_OP_breg31) {
      st.push_back(LocExpr::Binary(Op::Add, LocExpr::Register(int(atom - DW_OP_breg0)),
                                   LocExpr::Constant(int64_t(a))));
      continue;
    }
    switch (atom) {
      case DW_OP_regx:
        mode = Mode::Register;
        reg = LocExpr::Register(int(a));
        break;
      case DW_OP_bregx:
        st.push_back(
            LocExpr::Binary(Op::Add, LocExpr::Register(int(a)), LocExpr::Constant(int64_t(b))));
        break;
      case DW_OP_addr:
        st.push_back(LocExpr::Binary(Op::Add, LocExpr{Op::LoadBias, 0, 8, {}},
                                     LocExpr::Constant(int64_t(a))));
        break;
      case DW_OP_addrx:
      case DW_OP_GNU_addr_index:
      case DW_OP_constx:
      case DW_OP_GNU_const_index: {
        // DWARF 5: an index into .debug_addr, which libdw resolves through the attribute.
        Dwarf_Attribute result;
        Dwarf_Addr value = 0;
        if (!attr || dwarf_getlocation_attr(attr, &ops[i], &result) != 0 ||
            dwarf_formaddr(&result, &value) != 0)
          return Unavailable("its location's address index cannot be resolved");
        bool address = atom == DW_OP_addrx || atom == DW_OP_GNU_addr_index;
        st.push_back(address ? LocExpr::Binary(Op::Add, LocExpr{Op::LoadBias, 0, 8, {}},
                                               LocExpr::Constant(int64_t(value)))
                             : LocExpr::Constant(int64_t(value)));
        break;
      }
      case DW_OP_convert:
      case DW_OP_GNU_convert: {
        // To a base type: narrow (and sign-extend) the value; 0 is the generic type.
        if (st.empty()) return Unavailable("its location expression is malformed");
        if (a == 0) break;
        Dwarf_Die type;
        Dwarf_Attribute enc_attr;
        Dwarf_Word enc = 0;
        if (!attr || dwarf_getlocation_die(attr, &ops[i], &type) != 0)
          return Unavailable("its location converts to a type that cannot be read");
        int64_t size = TypeSize(&type);
        dwarf_formudata(dwarf_attr(&type, DW_AT_encoding, &enc_attr), &enc);
        if (size <= 0 || size > 8 || enc == DW_ATE_float)
          return Unavailable("its location converts to a type wider than 8 bytes or floating");
        if (size < 8) {
          int shift = int(64 - size * 8);
          bool is_signed = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
          LocExpr v = st.back();
          st.pop_back();
          v = LocExpr::Binary(Op::Shl, std::move(v), LocExpr::Constant(shift));
          st.push_back(LocExpr::Binary(is_signed ? Op::Shra : Op::Shr, std::move(v),
                                       LocExpr::Constant(shift)));
        }
        break;
      }
      case DW_OP_const1u:
      case DW_OP_const2u:
      case DW_OP_const4u:
      case DW_OP_const8u:
      case DW_OP_const1s:
      case DW_OP_const2s:
      case DW_OP_const4s:
      case DW_OP_const8s:
      case DW_OP_constu:
      case DW_OP_consts:
        st.push_back(LocExpr::Constant(int64_t(a)));
        break;
      case DW_OP_fbreg: {
        std::string why;
        std::optional<LocExpr> fb = FrameBase(f, at, &why, depth);
        if (!fb) return Unavailable(why);
        st.push_back(LocExpr::Binary(Op::Add, *fb, LocExpr::Constant(int64_t(a))));
        break;
      }
      case DW_OP_call_frame_cfa: {
        std::string why;
        std::optional<LocExpr> cfa = Cfa(at, &why);
        if (!cfa) return Unavailable(why);
        st.push_back(*cfa);
        break;
      }
      case DW_OP_dup:
        ok = !st.empty();
        if (ok) st.push_back(st.back());
        break;
      case DW_OP_drop:
        ok = !st.empty();
        if (ok) st.pop_back();
        break;
      case DW_OP_over:
        ok = st.size() >= 2;
        if (ok) st.push_back(st[st.size() - 2]);
        break;
      case DW_OP_pick:
        ok = a < st.size();
        if (ok) st.push_back(st[st.size() - 1 - a]);
        break;
      case DW_OP_swap:
        ok = st.size() >= 2;
        if (ok) std::swap(st[st.size() - 1], st[st.size() - 2]);
        break;
      case DW_OP_rot:
        ok = st.size() >= 3;
        if (ok) std::rotate(st.end() - 3, st.end() - 1, st.end());
        break;
      case DW_OP_deref:
      case DW_OP_deref_size: {
        LocExpr addr;
        ok = pop(&addr);
        if (ok) st.push_back({Op::Deref, 0, atom == DW_OP_deref ? 8 : int(a), {std::move(addr)}});
        break;
      }
      case DW_OP_plus:
        ok = binary(Op::Add);
        break;
      case DW_OP_minus:
        ok = binary(Op::Sub);
        break;
      case DW_OP_mul:
        ok = binary(Op::Mul);
        break;
      case DW_OP_div:
        ok = binary(Op::Div);
        break;
      case DW_OP_mod:
        ok = binary(Op::Mod);
        break;
      case DW_OP_and:
        ok = binary(Op::And);
        break;
      case DW_OP_or:
        ok = binary(Op::Or);
        break;
      case DW_OP_xor:
        ok = binary(Op::Xor);
        break;
      case DW_OP_shl:
        ok = binary(Op::Shl);
        break;
      case DW_OP_shr:
        ok = binary(Op::Shr);
        break;
      case DW_OP_shra:
        ok = binary(Op::Shra);
        break;
      case DW_OP_plus_uconst: {
        LocExpr x;
        ok = pop(&x);
        if (ok) st.push_back(LocExpr::Binary(Op::Add, std::move(x), LocExpr::Constant(int64_t(a))));
        break;
      }
      case DW_OP_neg:
      case DW_OP_not: {
        LocExpr x;
        ok = pop(&x);
        if (ok) st.push_back({atom == DW_OP_neg ? Op::Neg : Op::Not, 0, 8, {std::move(x)}});
        break;
      }
      case DW_OP_stack_value:
        mode = Mode::Value;
        break;
      case DW_OP_implicit_value: {
        // The op's number2 points at the block's length, not at its bytes: libdw hands
        // out the bytes themselves.
        Dwarf_Block block;
        if (!attr || dwarf_getlocation_implicit_value(attr, &ops[i], &block) != 0)
          return Unavailable("its implicit value cannot be read from the DWARF");
        if (block.length > 8) return Unavailable("its implicit value is wider than 8 bytes");
        uint64_t v = 0;
        memcpy(&v, block.data, block.length);
        st.push_back(LocExpr::Constant(int64_t(v)));
        mode = Mode::Value;
        break;
      }
      case DW_OP_entry_value:
      case DW_OP_GNU_entry_value: {
        // The value a register had when the function was entered: in place there. Away
        // from the entry, as stap does, an extra probe at the entry saves it (kernel
        // probes: EntryReg, keyed by the call's frame address, so that a recursive call
        // has its own); user probes say so and how to do the same in the script.
        // The operand is a DWARF expression of its own, which libdw hands out as an
        // attribute of its own (the op's number2 is no pointer to it).
        Dwarf_Attribute inner;
        Dwarf_Op* inner_ops = nullptr;
        size_t inner_n = 0;
        bool single_reg = attr && dwarf_getlocation_attr(attr, &ops[i], &inner) == 0 &&
                          dwarf_getlocation(&inner, &inner_ops, &inner_n) == 0 && inner_n == 1 &&
                          inner_ops[0].atom >= DW_OP_reg0 && inner_ops[0].atom <= DW_OP_reg31;
        if (!single_reg)
          return Unavailable(
              "its value is computed from what the function was entered with "
              "(DW_OP_entry_value of an expression), which btap does not evaluate");
        if (f.inlined)
          return Unavailable(
              "its value is what the inlined function was entered with (DW_OP_entry_value), "
              "and an inlined copy has no entry of its own to read it at");
        if (at != f.entry && entry_values) {
          std::string why;
          std::optional<LocExpr> cfa = Cfa(at, &why);
          if (!cfa)
            return Unavailable(
                "its value is what a register held at the function's entry "
                "(DW_OP_entry_value), and " +
                why);
          st.push_back({Op::EntryReg,
                        inner_ops[0].atom - DW_OP_reg0,
                        8,
                        {std::move(*cfa), LocExpr::Constant(int64_t(f.entry))}});
          break;
        }
        if (at != f.entry)
          return Unavailable(
              "its value is what a register held at the function's entry (DW_OP_entry_value), "
              "which btap reads only in a probe at that entry; probe the function too and "
              "keep the value there, in a global indexed by tid()");
        st.push_back(LocExpr::Register(inner_ops[0].atom - DW_OP_reg0));
        break;
      }
      case DW_OP_piece: {
        Location piece;
        current(&piece);
        pieces.push_back({std::move(piece), int(a)});
        st.clear();
        mode = Mode::Memory;
        break;
      }
      case DW_OP_nop:
        break;
      case DW_OP_implicit_pointer:
      case DW_OP_GNU_implicit_pointer:
        return Unavailable("it points to an optimized-out value (DW_OP_implicit_pointer)");
      default:
        return Unavailable("its location uses " + OpName(atom) + ", which btap does not evaluate");
    }
    if (!ok) return Unavailable("its location expression is malformed (stack underflow)");
  }
  Location out;
  if (!pieces.empty()) {
    out.kind = Location::Kind::Pieces;
    out.pieces = std::move(pieces);
    return out;
  }
  current(&out);
  return out;
}

// ---- Types ----

bool PeelType(Dwarf_Die* type, Dwarf_Die* out) {
  Dwarf_Die t = *type;
  for (int i = 0; i < 16; ++i) {
    int tag = dwarf_tag(&t);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
        tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type) {
      *out = t;
      return true;
    }
    Dwarf_Attribute a;
    if (!dwarf_attr(&t, DW_AT_type, &a) || !dwarf_formref_die(&a, &t)) return false;
  }
  return false;
}

bool TypeOf(Dwarf_Die* die, Dwarf_Die* out) {
  Dwarf_Attribute a;
  return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, out);
}

int64_t TypeSize(Dwarf_Die* type) {
  Dwarf_Die t;
  if (!PeelType(type, &t)) return -1;
  if (dwarf_tag(&t) == DW_TAG_pointer_type || dwarf_tag(&t) == DW_TAG_reference_type) return 8;
  Dwarf_Word size = 0;
  int64_t s = dwarf_aggregate_size(&t, &size) == 0 ? int64_t(size) : -1;
  return s;
}

std::string TypeName(Dwarf_Die* type) {
  if (!type) return "void";
  Dwarf_Die t = *type, next;
  const char* name = dwarf_diename(&t);
  bool has_next = TypeOf(&t, &next);
  switch (dwarf_tag(&t)) {
    case DW_TAG_base_type:
    case DW_TAG_typedef:
      return name ? name : "?";
    case DW_TAG_structure_type:
      return std::string("struct ") + (name ? name : "{...}");
    case DW_TAG_union_type:
      return std::string("union ") + (name ? name : "{...}");
    case DW_TAG_enumeration_type:
      return std::string("enum ") + (name ? name : "{...}");
    case DW_TAG_class_type:
      return std::string("class ") + (name ? name : "{...}");
    case DW_TAG_pointer_type:
      if (has_next && dwarf_tag(&next) == DW_TAG_subroutine_type) {
        // int (*)(int)
        Dwarf_Die ret;
        std::string params;
        ForEachChildDie(&next, [&](Dwarf_Die* c) {
          Dwarf_Die pt;
          if (dwarf_tag(c) == DW_TAG_formal_parameter && TypeOf(c, &pt))
            params += (params.empty() ? "" : ", ") + TypeName(&pt);
        });
        return (TypeOf(&next, &ret) ? TypeName(&ret) : "void") + " (*)(" +
               (params.empty() ? "void" : params) + ")";
      }
      return (has_next ? TypeName(&next) : "void") + "*";
    case DW_TAG_reference_type:
      return (has_next ? TypeName(&next) : "void") + "&";
    case DW_TAG_const_type:
      return (has_next ? TypeName(&next) : "void") + " const";
    case DW_TAG_volatile_type:
      return (has_next ? TypeName(&next) : "void") + " volatile";
    case DW_TAG_restrict_type:
    case DW_TAG_atomic_type:
      return has_next ? TypeName(&next) : "void";
    case DW_TAG_subroutine_type:
      return "void";  // only behind a pointer: "void*"-like, as stap prints it
    case DW_TAG_array_type: {
      std::string dims;
      ForEachChildDie(&t, [&](Dwarf_Die* sub) {
        if (dwarf_tag(sub) == DW_TAG_subrange_type) dims += "[]";  // stap never writes the bound
      });
      return (has_next ? TypeName(&next) : "void") + dims;
    }
    default:
      return name ? name : "?";
  }
}

}  // namespace btap::sema
