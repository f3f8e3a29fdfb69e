// process("PATH"|PID)[.library("LIB")].function("PATTERN")/.statement("…")/.mark("…"):
// finds the program (like a shell), its functions (DWARF, else the symbol table), lines
// and SDT notes, and makes one probe per address with its file offset for the uprobe.
#include "semantic/probes/user_probes.h"

#include <elf.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <set>

#include "semantic/machine/debuginfo.h"
#include "semantic/machine/user_binary.h"
#include "semantic/suggest.h"

namespace btap::sema {

bool ParsePattern(std::string_view text, FunctionPattern* out, std::string* error) {
  size_t at = text.find('@');
  out->name = std::string(text.substr(0, at));
  if (out->name.empty()) out->name = "*";
  if (at == std::string_view::npos) return true;
  std::string_view rest = text.substr(at + 1);
  size_t colon = rest.rfind(':');
  // stap's FUNC@FILE+N (a file name may have a `+` of its own: c++/...)
  if (size_t plus = rest.rfind('+');
      colon == std::string_view::npos && plus != std::string_view::npos && plus + 1 < rest.size() &&
      rest.find_first_not_of("0123456789-", plus + 1) == std::string_view::npos) {
    colon = plus;
    out->relative = true;
  }
  out->file = std::string(rest.substr(0, colon));
  if (colon == std::string_view::npos) return true;
  std::string_view lines = rest.substr(colon + 1);
  if (lines == "*") {
    out->all_lines = true;
    return true;
  }
  size_t dash = lines.find('-');
  try {
    out->line_lo = std::stoi(std::string(lines.substr(0, dash)));
    out->line_hi = dash == std::string_view::npos ? out->line_lo
                                                  : std::stoi(std::string(lines.substr(dash + 1)));
  } catch (...) {
    *error = "bad line number `" + std::string(lines) + "` in `" + std::string(text) +
             "`; expected FUNC@FILE:LINE, FUNC@FILE:FIRST-LAST or FUNC@FILE+LINES";
    return false;
  }
  if (out->line_hi < out->line_lo || out->line_hi - out->line_lo > 10000) {
    *error = "bad line range `" + std::string(lines) + "` in `" + std::string(text) + "`";
    return false;
  }
  return true;
}

std::string LabelSearch::BadFunction(const FunctionPattern& pat, std::string_view function) {
  if (pat.line_lo || pat.relative || pat.all_lines)
    return "`.label` takes a function without a line: `" + std::string(function) + "`";
  return {};
}

std::vector<DebugLabel> LabelSearch::In(DebugInfo& d, const DebugFunction& f) {
  std::vector<DebugLabel> out;
  Dwarf_Die die;
  if (!d.Die(f.die, &die)) return out;
  for (DebugLabel& l : LabelsIn(&die)) {
    if (auto [at, added] = seen_.insert(l.name); added) names_.push_back(*at);
    if (GlobMatch(pattern_, l.name)) out.push_back(std::move(l));
  }
  return out;
}

std::string LabelSearch::Point(std::string_view prefix, const DebugFunction& f,
                               std::string_view label) {
  return std::string(prefix) + ".function(" +
         Quote(f.name + "@" + f.file + ":" + std::to_string(f.line)) + ").label(" + Quote(label) +
         ")";
}

std::string LabelSearch::NoMatch(std::string_view function, std::string_view where) const {
  std::vector<std::string> similar = Similar(pattern_, names_);
  return "no label matches `" + pattern_ + "` in the functions `" + std::string(function) +
         "` matches in `" + std::string(where) + "`" +
         (names_.empty()    ? std::string(" (their out-of-line copies have no labels with code; "
                                             "inlined copies' labels are not probed)")
          : similar.empty() ? std::string()
                            : DidYouMean(similar));
}

std::vector<int> FunctionPattern::Lines(int declared, const std::vector<int>& with_code) const {
  std::vector<int> out;
  // The function's own lines: code its unit inlines into it from above it is not its.
  if (all_lines) {
    for (int line : with_code)
      if (line >= declared) out.push_back(line);
    return out;
  }
  for (int line = first(declared); line <= last(declared); ++line) out.push_back(line);
  return out;
}

namespace {

std::string Hex(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

struct Request {
  std::span<const PointPart> parts;
  ResolveContext& ctx;
  std::string prefix;  // process("…")[.library("…")]
  const PointPart* what = nullptr;
  bool is_return = false;
  std::string variant;  // "", "call", "inline", "exported", "nearest"
  int64_t pid = 0;

  void Error(const std::string& message) const {
    if (!ctx.optional || ctx.listing)
      ctx.diags.Report(Diag::ProbeParameter, what->range, {message});
  }
};

// Fills the $vars that -L shows: $return first for returns, then parameters and locals.
void ListVariables(UserBinary& bin, const DebugFunction& f, ProbeSpec& spec) {
  DebugInfo* d = bin.dwarf();
  Dwarf_Die die, type;
  if (spec.is_return && d->Die(f.die, &die)) {
    if (TypeOf(&die, &type)) spec.args.push_back({"return", TypeName(&type)});
  }
  // Those that can be read here (stap leaves out the others).
  uint64_t at = spec.is_return ? spec.call_address : spec.address;
  for (const DebugVariable& v : d->Variables(f, at, false)) {
    if (v.global) continue;
    Dwarf_Die var = v.die;
    if (d->Locate(f, &var, at).kind == Location::Kind::Unavailable) continue;
    spec.args.push_back({v.name, TypeOf(&var, &type) ? TypeName(&type) : "void"});
  }
}

bool Place(UserBinary& bin, const Request& r, ProbeSpec& spec) {
  std::optional<uint64_t> offset = bin.elf()->FileOffset(spec.address);
  if (!offset) {
    r.Error("address " + Hex(spec.address) + " of `" + spec.point +
            "` is in no loadable segment of `" + bin.path() + "`");
    return false;
  }
  spec.target = bin.path();
  spec.build_id = bin.elf()->build_id();
  spec.numbers[0] = static_cast<int64_t>(*offset);
  spec.numbers[2] = r.pid;
  spec.target_vars_later = true;
  return true;
}

// Functions that never return to their caller: a return probe plants its trampoline in
// place of the return address, and on these the traced program's stack is left holding
// it (a test program computed a wrong result). The C library's start-up and exit paths,
// and whatever the DWARF declares noreturn.
bool NeverReturns(std::string_view name, bool declared_noreturn) {
  static const std::set<std::string_view> kNames = {"_start",
                                                    "__libc_start_main",
                                                    "__libc_start_call_main",
                                                    "exit",
                                                    "_exit",
                                                    "_Exit",
                                                    "abort",
                                                    "__assert_fail",
                                                    "__stack_chk_fail",
                                                    "pthread_exit",
                                                    "longjmp",
                                                    "siglongjmp",
                                                    "__longjmp_chk",
                                                    "__cxa_throw",
                                                    "__cxa_rethrow",
                                                    "_Unwind_Resume"};
  return declared_noreturn || kNames.count(name);
}

// stap refuses these return probes with a warning; a pattern that merely matches one
// skips it quietly (one warning per named function).
bool RefuseReturn(const Request& r, std::string_view name, bool declared_noreturn, bool named) {
  if (!r.is_return || !NeverReturns(name, declared_noreturn)) return false;
  if (named && !r.ctx.listing)
    r.ctx.diags.Report(Diag::ReturnNeverReturns, r.what->range, {std::string(name)});
  return true;
}

void Functions(UserBinary& bin, const Request& r, std::vector<ProbeSpec>& out) {
  FunctionPattern pat;
  std::string error;
  if (!ParsePattern(r.what->string, &pat, &error)) return r.Error(error);
  DebugInfo* dwarf = bin.dwarf();
  std::set<uint64_t> placed;
  std::vector<std::string_view> names;
  size_t before = out.size();
  std::set<std::string> described;  // by the DWARF; the other functions by their symbols
  bool refused = false;             // return probes on functions that never return
  if (dwarf) {
    std::set<std::string> exported;
    if (r.variant == "exported")
      for (const ElfSymbol& s : bin.elf()->functions())
        if (s.exported) exported.insert(s.name);
    for (const DebugFunction& f : dwarf->functions()) {
      names.push_back(f.name);
      described.insert(f.name);
      if (!GlobMatch(pat.name, f.name)) continue;
      if (!pat.file.empty() && !GlobMatch(pat.file, f.file) && !GlobMatch("*/" + pat.file, f.file))
        continue;
      // A line in .function() does not select (as in stap); .statement() probes lines.
      if (f.inlined && (r.is_return || r.variant == "call" || r.variant == "exported")) continue;
      if (!f.inlined && r.variant == "inline") continue;
      if (r.variant == "exported" && (!f.external || !exported.count(f.name))) continue;
      if (RefuseReturn(r, f.name, f.noreturn, !HasGlob(pat.name))) {
        refused = true;
        continue;
      }
      ProbeSpec spec;
      spec.family = Family::ProcessFunction;
      spec.is_return = r.is_return;
      spec.function = f.name;
      spec.die = f.die;
      spec.address = r.is_return ? f.entry : dwarf->ProbeAddress(f);
      if (!placed.insert(spec.address).second) continue;
      if (r.is_return) {
        spec.call_address = dwarf->ProbeAddress(f);
        std::optional<uint64_t> call = bin.elf()->FileOffset(spec.call_address);
        if (!call) continue;  // Place() below reports the function's own address
        spec.call_offset = *call;
      }
      spec.point = r.prefix + ".function(" +
                   Quote(f.name + "@" + f.file + ":" + std::to_string(f.line)) + ")" +
                   (r.is_return ? ".return" : "");
      if (!Place(bin, r, spec)) continue;
      if (r.ctx.target_variables) ListVariables(bin, f, spec);
      out.push_back(std::move(spec));
    }
  } else if (!pat.file.empty()) {
    return r.Error("`" + r.what->string +
                   "` names a source file, which needs debug information: " + bin.dwarf_error());
  }
  // Functions the DWARF does not describe (start-up code, assembly; all of a program
  // without DWARF), by their symbols.
  if (pat.file.empty() && r.variant != "inline")
    for (const ElfSymbol& s : bin.elf()->functions()) {
      if (described.count(s.name)) continue;
      names.push_back(s.name);
      // `f.cold` is the unlikely part of `f`, reached by jumps: never a probe point.
      bool fragment = s.name.find(".cold") != std::string::npos;
      if (fragment || !s.addr || !GlobMatch(pat.name, s.name)) continue;
      if (r.variant == "exported" && !s.exported) continue;
      if (RefuseReturn(r, s.name, false, !HasGlob(pat.name))) {
        refused = true;
        continue;
      }
      ProbeSpec spec;
      spec.family = Family::ProcessFunction;
      spec.is_return = r.is_return;
      spec.function = s.name;
      spec.address = s.addr;
      if (!placed.insert(spec.address).second) continue;
      spec.point = r.prefix + ".function(" + Quote(s.name) + ")" + (r.is_return ? ".return" : "");
      if (!Place(bin, r, spec)) continue;
      spec.call_address = s.addr;  // no prologue is known: @entry values at the entry
      spec.call_offset = static_cast<uint64_t>(spec.numbers[0]);
      out.push_back(std::move(spec));
    }
  if (out.size() > before || r.ctx.listing || refused) return;
  std::vector<std::string> similar = Similar(pat.name, names);
  r.Error("no function matches `" + r.what->string + "` in `" + bin.path() + "`" +
          (similar.empty() ? std::string() : DidYouMean(similar)));
}

void Statements(UserBinary& bin, const Request& r, std::vector<ProbeSpec>& out) {
  FunctionPattern pat;
  std::string error;
  if (!ParsePattern(r.what->string, &pat, &error)) return r.Error(error);
  DebugInfo* dwarf = bin.dwarf();
  if (!dwarf) return r.Error("`.statement` needs debug information: " + bin.dwarf_error());
  if (!pat.line_lo && !pat.relative && !pat.all_lines)
    return r.Error("`.statement(\"" + r.what->string + "\")` needs a line: FUNC@FILE:LINE");
  std::set<uint64_t> placed;
  size_t before = out.size();
  std::vector<int> lines;
  for (const DebugFunction& f : dwarf->functions()) {
    if (f.inlined || !GlobMatch(pat.name, f.name)) continue;
    Dwarf_Die die;
    Dwarf_Addr low = f.entry, high = 0;
    if (!dwarf->Die(f.die, &die) || dwarf_highpc(&die, &high) != 0) high = low + 1;
    const std::string& file = pat.LineFile(f.file);
    bool nearest = r.variant == "nearest";
    std::vector<int> own =
        pat.all_lines || nearest ? dwarf->FunctionLines(f, high) : std::vector<int>{};
    for (int line : pat.Lines(f.line, own)) {
      std::vector<uint64_t> at = dwarf->LineAddresses(file, line, low, high);
      if (at.empty() && nearest) {
        // The nearest following line with code in the function.
        for (int l : own)
          if (l > line) {
            at = dwarf->LineAddresses(file, l, low, high);
            if (!at.empty()) break;
          }
      }
      for (uint64_t a : at) {
        if (!placed.insert(a).second) continue;
        ProbeSpec spec;
        spec.family = Family::ProcessStatement;
        spec.function = f.name;
        spec.die = f.die;
        spec.address = a;
        spec.point = r.prefix + ".statement(" +
                     Quote(f.name + "@" + f.file + ":" + std::to_string(line)) + ")";
        if (!Place(bin, r, spec)) continue;
        if (r.ctx.target_variables) ListVariables(bin, f, spec);
        out.push_back(std::move(spec));
      }
    }
    if (out.size() == before && lines.empty()) lines = dwarf->LinesIn(low, high);
  }
  if (out.size() > before || r.ctx.listing) return;
  std::string have;
  for (size_t i = 0; i < lines.size() && i < 12; ++i)
    have += (i ? " " : "") + std::to_string(lines[i]);
  r.Error("no code at `" + r.what->string + "` in `" + bin.path() + "`" +
          (have.empty() ? std::string() : "; lines with code there: " + have));
}

void Marks(UserBinary& bin, const Request& r, std::string_view provider,
           std::vector<ProbeSpec>& out) {
  size_t before = out.size();
  std::vector<std::string_view> names;
  std::set<std::pair<std::string, uint64_t>> placed;
  for (const SdtNote& n : bin.elf()->sdt_notes()) {
    names.push_back(n.name);
    if (!GlobMatch(r.what->string, n.name) || !GlobMatch(provider, n.provider)) continue;
    if (!placed.insert({n.provider + ":" + n.name, n.pc}).second) continue;
    ProbeSpec spec;
    spec.family = Family::ProcessMark;
    spec.address = n.pc;
    spec.sdt_provider = n.provider;
    spec.sdt_name = n.name;
    spec.sdt_args = n.args;
    spec.point = r.prefix + (provider == "*" ? "" : ".provider(" + Quote(n.provider) + ")") +
                 ".mark(" + Quote(n.name) + ")";
    if (n.semaphore) {
      std::optional<uint64_t> sem = bin.elf()->FileOffset(n.semaphore);
      if (sem) spec.numbers[1] = static_cast<int64_t>(*sem);
    }
    if (!Place(bin, r, spec)) continue;
    std::vector<SdtArg> args;
    std::string error;
    if (r.ctx.target_variables && ParseSdtArgs(n.args, &args, &error))
      for (size_t i = 0; i < args.size(); ++i)
        spec.args.push_back({"arg" + std::to_string(i + 1), "long"});
    out.push_back(std::move(spec));
  }
  if (out.size() > before || r.ctx.listing) return;
  std::vector<std::string> similar = Similar(r.what->string, names);
  r.Error("no SDT probe `" + r.what->string + "` in `" + bin.path() + "`" +
          (bin.elf()->sdt_notes().empty() ? std::string(" (it has no .note.stapsdt)")
           : similar.empty()              ? std::string()
                                          : DidYouMean(similar)));
}

// The C labels `label` matches in the functions `r.what` matches: a probe at each, with
// the $vars in scope there, as a statement probe's.
void Labels(UserBinary& bin, const Request& r, const PointPart& label,
            std::vector<ProbeSpec>& out) {
  FunctionPattern pat;
  std::string error;
  if (!ParsePattern(r.what->string, &pat, &error)) return r.Error(error);
  if (std::string why = LabelSearch::BadFunction(pat, r.what->string); !why.empty())
    return r.Error(why);
  DebugInfo* dwarf = bin.dwarf();
  if (!dwarf) return r.Error("`.label` needs debug information: " + bin.dwarf_error());
  size_t before = out.size();
  LabelSearch search(label.string);
  for (const DebugFunction& f : dwarf->functions()) {
    if (f.inlined || !GlobMatch(pat.name, f.name)) continue;
    if (!pat.file.empty() && !GlobMatch(pat.file, f.file) && !GlobMatch("*/" + pat.file, f.file))
      continue;
    for (const DebugLabel& l : search.In(*dwarf, f)) {
      ProbeSpec spec;
      spec.family = Family::ProcessStatement;
      spec.function = f.name;
      spec.die = f.die;
      spec.address = l.address;
      spec.point = LabelSearch::Point(r.prefix, f, l.name);
      if (!Place(bin, r, spec)) continue;
      if (r.ctx.target_variables) ListVariables(bin, f, spec);
      out.push_back(std::move(spec));
    }
  }
  if (out.size() > before || r.ctx.listing) return;
  r.Error(search.NoMatch(r.what->string, bin.path()));
}

// The PLT stubs of one object whose function name matches: a call through the PLT enters
// its stub, and a return probe there returns to the caller of the library function.
void Plt(UserBinary& bin, const Request& r, std::vector<ProbeSpec>& out) {
  std::string pattern = r.what->arg == ArgKind::String ? r.what->string : "*";
  std::vector<std::string_view> names;
  size_t before = out.size();
  for (const ElfSymbol& s : bin.elf()->plt()) {
    names.push_back(s.name);
    if (!GlobMatch(pattern, s.name)) continue;
    if (RefuseReturn(r, s.name, false, !HasGlob(pattern))) continue;
    ProbeSpec spec;
    spec.family = Family::ProcessFunction;
    spec.is_return = r.is_return;
    spec.function = s.name;
    spec.plt = true;
    spec.address = s.addr;
    spec.point = r.prefix + ".plt(" + Quote(s.name) + ")" + (r.is_return ? ".return" : "");
    if (!Place(bin, r, spec)) continue;
    spec.call_address = s.addr;
    spec.call_offset = static_cast<uint64_t>(spec.numbers[0]);
    out.push_back(std::move(spec));
  }
  // A pattern (the bare `.plt` too) may match no stub of some object, as stap's.
  if (out.size() > before || r.ctx.listing || HasGlob(pattern)) return;
  std::vector<std::string> similar = Similar(pattern, names);
  r.Error("no PLT entry `" + pattern + "` in `" + bin.path() + "`" +
          (names.empty()     ? std::string(" (it calls nothing through a PLT)")
           : similar.empty() ? std::string()
                             : DidYouMean(similar)));
}

}  // namespace

namespace {

// One program: its functions, statements or marks, or those of its libraries.
void ResolveProgram(const std::string& exe, std::span<const PointPart> parts, ResolveContext& ctx,
                    std::vector<ProbeSpec>& out) {
  const PointPart& proc = parts[0];
  Request r{parts, ctx, {}, nullptr, false, {}, 0};
  if (proc.arg == ArgKind::Number) r.pid = proc.number;
  size_t i = 1;
  std::vector<std::string> objects{exe};
  r.prefix = "process(" + Quote(exe) + ")";
  if (proc.arg == ArgKind::Number) r.prefix = "process(" + std::to_string(proc.number) + ")";
  UserBinary& main = ctx.binaries->Get(exe);
  if (!main.elf()) {
    r.what = &proc;
    r.Error(main.error());
    return;
  }
  if (main.elf()->machine() != EM_X86_64 || !main.elf()->is_64()) {
    r.what = &proc;
    r.Error("`" + exe +
            "` is not an x86-64 program; btap reads registers and DWARF of x86-64 only");
    return;
  }
  if (parts[i].name == "library") {
    r.what = &parts[i];
    objects = FindLibraries(*main.elf(), parts[i].string);
    if (objects.empty()) {
      std::string needed;
      for (const std::string& n : main.elf()->needed()) needed += (needed.empty() ? "" : " ") + n;
      r.Error("no library of `" + exe + "` matches `" + parts[i].string + "`" +
              (needed.empty() ? std::string(" (it needs none)") : "; it needs: " + needed));
      return;
    }
    ++i;
  }
  std::string provider = "*";
  if (parts[i].name == "provider") provider = parts[i++].string;
  r.what = &parts[i];
  r.is_return = parts.back().name == "return";
  if (parts.size() > i + 1 && parts.back().name != "return") r.variant = parts.back().name;
  for (const std::string& object : objects) {
    UserBinary& bin = ctx.binaries->Get(object);
    if (!bin.elf()) {
      r.Error(bin.error());
      continue;
    }
    std::string prefix = r.prefix;
    if (object != exe) r.prefix = "process(" + Quote(object) + ")";
    if (parts.back().name == "label")
      Labels(bin, r, parts.back(), out);
    else if (r.what->name == "plt")
      Plt(bin, r, out);
    else if (r.what->name == "function")
      Functions(bin, r, out);
    else if (r.what->name == "statement")
      Statements(bin, r, out);
    else
      Marks(bin, r, provider, out);
    r.prefix = prefix;
  }
}

}  // namespace

void ResolveUserProbe(std::span<const PointPart> parts, ResolveContext& ctx,
                      std::vector<ProbeSpec>& out) {
  const PointPart& proc = parts[0];
  Request r{parts, ctx, {}, &proc, false, {}, 0};
  if (proc.arg == ArgKind::Number) {
    char buf[PATH_MAX];
    std::string link = "/proc/" + std::to_string(proc.number) + "/exe";
    ssize_t n = proc.number <= 0 ? -1 : readlink(link.c_str(), buf, sizeof buf - 1);
    if (n <= 0) {
      r.Error("no process " + std::to_string(proc.number) + " (cannot read " + link + ")");
      return;
    }
    ResolveProgram(std::string(buf, n), parts, ctx, out);
    return;
  }
  // `process` alone is the target's program (-c, -x), as in stap.
  if (proc.arg == ArgKind::None) {
    std::string exe = ctx.target_program.empty() ? "" : FindProgram(ctx.target_program);
    if (exe.empty()) {
      if (ctx.listing) return;
      if (!ctx.target_program_error.empty())
        r.Error("`process` without a path names -x's program: " + ctx.target_program_error);
      else if (ctx.target_program.empty())
        r.Error("`process` without a path names the target's program: give -c CMD or -x PID");
      else
        r.Error("cannot find the target's program `" + ctx.target_program + "`");
      return;
    }
    ResolveProgram(exe, parts, ctx, out);
    return;
  }
  // As stap: a glob probes every regular file it matches, each as its own process("…").
  if (HasGlobChars(proc.string)) {
    std::vector<std::string> matches = GlobPrograms(proc.string);
    if (matches.empty() && !ctx.listing) r.Error("no file matches `" + proc.string + "`");
    // Objects of another architecture (/usr/lib32/...) are left out with a warning, as
    // long as the glob matches an x86-64 one.
    auto foreign = [&](const std::string& exe) {
      const ElfImage* elf = ctx.binaries->Get(exe).elf();
      return elf && (elf->machine() != EM_X86_64 || !elf->is_64());
    };
    if (!std::all_of(matches.begin(), matches.end(), foreign)) {
      std::erase_if(matches, [&](const std::string& exe) {
        if (!foreign(exe)) return false;
        if (!ctx.listing)
          ctx.diags.Report(Diag::GlobSkipsForeignObject, proc.range, {exe, proc.string});
        return true;
      });
    }
    for (const std::string& exe : matches) ResolveProgram(exe, parts, ctx, out);
    return;
  }
  std::string exe = FindProgram(proc.string);
  if (exe.empty()) {
    r.Error(proc.string.find('/') == std::string::npos
                ? "cannot find `" + proc.string + "` in $PATH or the current directory"
                : "cannot find executable `" + proc.string + "`");
    return;
  }
  ResolveProgram(exe, parts, ctx, out);
}

bool ValidProcessPart(const PointPart& proc, ResolveContext& ctx) {
  if (proc.arg == ArgKind::String && proc.string.empty()) {
    ctx.diags.Report(Diag::ProbeParameter, proc.range, {"empty process path"});
    return false;
  }
  if (proc.arg == ArgKind::Number && (proc.number <= 0 || proc.number > INT32_MAX)) {
    ctx.diags.Report(Diag::ProbeParameter, proc.range,
                     {"process id " + std::to_string(proc.number) + " is not a process"});
    return false;
  }
  return true;
}

std::string ResolveProcessPath(const PointPart& proc, ResolveContext& ctx) {
  if (ctx.listing) return proc.string;
  if (HasGlobChars(proc.string)) {
    // (The file is compared by inode: one pattern would need one per match.)
    if (!ctx.optional)
      ctx.diags.Report(Diag::ProbeParameter, proc.range,
                       {"a wildcard in `process(\"" + proc.string +
                        "\")` is not supported for .begin, .end, .thread.* and .syscall "
                        "points yet: name the executable"});
    return "";
  }
  std::string exe = FindProgram(proc.string);
  if (exe.empty() && !ctx.optional)
    ctx.diags.Report(Diag::ProbeParameter, proc.range,
                     {proc.string.find('/') == std::string::npos
                          ? "cannot find `" + proc.string + "` in $PATH or the current directory"
                          : "cannot find executable `" + proc.string + "`"});
  return exe;
}

}  // namespace btap::sema
