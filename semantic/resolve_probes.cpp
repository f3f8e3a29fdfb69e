// Pass 2a: probe points. Reads the probe declarations of the script and of pulled tapset
// files; matches each point against probe aliases (with suffixes and wildcards) and the
// family patterns; produces Program::probes, each with its own copy of the alias bodies
// and the handler, and reports `probe point mismatch` with the nearest candidates.
#include <algorithm>
#include <set>
#include <span>

#include "frontend/ast_printer.h"
#include "frontend/ast_walk.h"
#include "frontend/frontend.h"
#include "semantic/elab.h"
#include "semantic/probes/python.h"
#include "semantic/suggest.h"

namespace btap::sema {

std::vector<PointPart> PartsOf(const ast::ProbePoint* point) {
  std::vector<PointPart> parts;
  for (const ast::ProbePointComponent& c : point->components) {
    PointPart p;
    p.name = std::string(c.name);
    p.range = c.range;
    if (auto* n = ast::As<ast::NumberLit>(c.arg)) {
      p.arg = ArgKind::Number;
      p.number = n->value;
    } else if (auto* s = ast::As<ast::StringLit>(c.arg)) {
      p.arg = ArgKind::String;
      p.string = std::string(s->value);
    }
    if (c.arg) p.range = SourceRange::Join(p.range, c.arg->range);
    parts.push_back(std::move(p));
  }
  return parts;
}

namespace {

// stap probe points btap does not have, by a component's name and place: why, for the
// mismatch they would otherwise be.
std::string_view NotYet(std::string_view name, size_t at) {
  if (at > 0 && name == "plt") return "`.plt` probes are of process(\"PATH\") or `process` alone";
  if (at > 0 && name == "label")
    return "`.label` follows a function: process(\"PATH\").function(\"F\"), "
           "kernel.function(\"F\") or module(\"M\").function(\"F\")";
  return {};
}

constexpr int kMaxAliasDepth = 30;

// How a concrete point was reached through aliases.
struct Expansion {
  std::vector<const ast::Block*> prologues;  // innermost alias first
  std::vector<const ast::Block*> epilogues;  // innermost alias last
  std::vector<const ast::Expr*> conditions;
  std::string listed;
  // Some level of the expansion was optional (`?`, `!`) or a wildcard's match: the point
  // may be missing where the object loads without the script being wrong.
  bool may_be_absent = false;
};

struct Resolved {
  ProbeSpec spec;
  Expansion expansion;
};

// Whether an alias's name component `alias` accepts the user's `user`: the names match as
// globs and the arguments are alike (numbers equal, strings glob-matched). Tested on the
// AST, not on PartsOf's copy: every resolution step tests every alias's name.
bool ComponentFits(const PointPart& user, const ast::ProbePointComponent& alias) {
  if (!GlobMatch(user.name, alias.name)) return false;
  if (auto* n = ast::As<ast::NumberLit>(alias.arg))
    return user.arg == ArgKind::Number && user.number == n->value;
  if (auto* s = ast::As<ast::StringLit>(alias.arg))
    return user.arg == ArgKind::String && GlobMatch(user.string, s->value);
  return user.arg == ArgKind::None;
}

class ProbeResolver {
 public:
  ProbeResolver(Elab& e, bool privileged, const ast::Block* handler = nullptr)
      : e_(e), privileged_(privileged), handler_(handler) {}

  // Resolves `parts`; returns false when nothing matched (after reporting unless
  // `optional`). Errors in parameters are reported and count as matched.
  bool Resolve(const std::vector<PointPart>& parts, bool optional, const Expansion& exp, int depth,
               std::vector<Resolved>& out) {
    if (depth > kMaxAliasDepth) {
      e_.diags.Report(Diag::AliasTooDeep, parts[0].range, {std::to_string(kMaxAliasDepth)});
      return true;
    }
    if (!parts.empty() && (parts[0].name == "python2" || parts[0].name == "python3"))
      return ResolvePython(parts, optional, exp, depth, out);
    bool fit_empty = false;
    if (MatchAliases(parts, optional, exp, depth, out)) {
      // A listing pattern like `*` or `s*` names builtin points as well as aliases.
      if (e_.options.listing && depth == 0 && HasGlob(parts[0].name))
        MatchFamilies(parts, true, exp, depth, out, fit_empty);
      return true;
    }
    if (MatchFamilies(parts, optional, exp, depth, out, fit_empty)) return true;
    if (optional) return false;
    // A family took the point and found nothing (a PLT glob no stub matches): "incomplete"
    // would be wrong, as the point is whole.
    if (fit_empty)
      e_.diags.Report(Diag::ProbePointNoMatch, parts.back().range, {PointSpelling(parts)});
    else
      ReportMismatch(parts);
    return false;
  }

 private:
  // A python point: HelperSDT's mark for its event, its filters a prologue.
  bool ResolvePython(const std::vector<PointPart>& parts, bool optional, const Expansion& exp,
                     int depth, std::vector<Resolved>& out) {
    PythonPoint py;
    ParsePythonPoint(parts, e_.diags, &py);
    if (py.version == 0) return true;
    std::string why;
    std::string library = HelperSdtLibrary(&why);
    if (library.empty()) {
      if (!optional) e_.diags.Report(Diag::ProbeParameter, parts[0].range, {why});
      return !optional;
    }
    py.target[0].string = library;
    if (NeedsPythonDetails(exp)) py.target.back().string += "_details";
    FileId id = e_.sm.AddFile("<python probe>", py.prologue);
    frontend::ParseOptions parse;
    parse.privileged = true;
    ast::File* file = frontend::ParseFile(e_.sm, id, nullptr, parse, e_.arena, e_.diags);
    auto* decl = file && !file->decls.empty() ? ast::As<ast::Probe>(file->decls[0]) : nullptr;
    if (!decl) return true;  // (the prologue is btap's own: it parses)
    Expansion inner = exp;
    inner.prologues.insert(inner.prologues.begin(), decl->body);
    if (depth == 0) inner.listed = PointSpelling(parts);
    std::vector<Resolved> found;
    bool fit_empty = false;
    if (!MatchFamilies(py.target, optional, inner, depth, found, fit_empty)) return false;
    for (Resolved& r : found) {
      r.spec.python = py.version;
      r.spec.python_filter = py.filter;
      // The runtime finds the library and the mark's place on its own machine.
      r.spec.build_id.clear();
      r.spec.point = PointSpelling(parts);
      out.push_back(std::move(r));
    }
    return true;
  }

  void PullFor(const PointPart& first) {
    if (!HasGlob(first.name)) {
      e_.PullAliases(first.name, first.range);
      return;
    }
    for (std::string_view prefix : kSyscallPrefixes)
      if (GlobMatch(first.name, prefix)) e_.PullAliases(prefix, first.range);
    for (std::string_view prefix : e_.library.AliasPrefixes())
      if (GlobMatch(first.name, prefix)) e_.PullAliases(prefix);
  }

  // A wildcard's match that is a second name of a call (the kernel's `newstat` beside
  // stap's `stat`): left out, so that `syscall.*` fires once per call, as in stap.
  bool GlobHidden(const std::vector<PointPart>& parts,
                  std::span<const ast::ProbePointComponent> name) const {
    if (name.size() < 2 || !HasGlob(parts[1].name)) return false;
    if (name[0].name != "syscall" && name[0].name != "nd_syscall") return false;
    const std::vector<std::string>& hidden = e_.syscall_glob_hidden;
    return std::find(hidden.begin(), hidden.end(), name[1].name) != hidden.end();
  }

  // An optional reference (`x ?`, `x !`) makes all of the alias's points optional, at every
  // depth, as in stap.
  bool MatchAliases(const std::vector<PointPart>& parts, bool optional_use, const Expansion& exp,
                    int depth, std::vector<Resolved>& out) {
    PullFor(parts[0]);
    // Full-length matches win; otherwise the longest alias that leaves a suffix.
    size_t best = 0;
    // (Resolving an alias's points may pull in more aliases: `e_.aliases` grows, so the
    // matches keep what they need, not pointers into it.)
    std::vector<std::pair<AliasEntry, std::vector<PointPart>>> matches;
    for (const AliasEntry& a : e_.aliases) {
      std::span<const ast::ProbePointComponent> name = a.decl->names[a.name_index]->components;
      if (name.size() > parts.size() || name.size() < best) continue;
      if (GlobHidden(parts, name)) continue;
      bool ok = true;
      for (size_t i = 0; ok && i < name.size(); ++i) ok = ComponentFits(parts[i], name[i]);
      if (!ok) continue;
      if (name.size() > best) matches.clear(), best = name.size();
      matches.push_back({a, PartsOf(a.decl->names[a.name_index])});
    }
    if (matches.empty()) return false;
    bool any = false;
    for (auto& [alias, name] : matches) {
      std::vector<PointPart> suffix(parts.begin() + name.size(), parts.end());
      Expansion inner = exp;
      bool glob = std::any_of(parts.begin(), parts.end(),
                              [](const PointPart& p) { return HasGlob(p.name); });
      inner.may_be_absent |= glob;
      const ast::Alias* decl = alias.decl;
      if (decl->name_ops[alias.name_index] == ast::Tok::AddAssign) {
        inner.epilogues.insert(inner.epilogues.begin(), decl->body);
      } else {
        inner.prologues.insert(inner.prologues.begin(), decl->body);
        if (decl->epilogue) inner.epilogues.insert(inner.epilogues.begin(), decl->epilogue);
      }
      if (depth == 0) {
        std::vector<PointPart> listed = name;
        listed.insert(listed.end(), suffix.begin(), suffix.end());
        inner.listed = PointSpelling(listed);
      }
      for (const ast::ProbePoint* point : decl->points) {
        std::vector<PointPart> target = PartsOf(point);
        target.insert(target.end(), suffix.begin(), suffix.end());
        Expansion here = inner;
        if (point->condition) here.conditions.push_back(point->condition);
        // A wildcard's matches that resolve to nothing here are left out, as stap does.
        bool optional =
            optional_use || point->optional || point->sufficient || !suffix.empty() || glob;
        here.may_be_absent |= optional;
        size_t before = out.size(), errors = e_.diags.error_count();
        bool matched = Resolve(target, optional, here, depth + 1, out);
        any |= matched;
        // `!` stops at the first point that gave probes (or errors), not at one left out
        // quietly.
        bool gave = out.size() > before || e_.diags.error_count() > errors;
        if (matched && point->sufficient && gave) break;
      }
      // A suffix that fits none of an alias's points is a mismatch of the suffix.
      if (!any && !suffix.empty()) return false;
    }
    return true;
  }

  bool MatchFamilies(const std::vector<PointPart>& parts, bool optional, const Expansion& exp,
                     int depth, std::vector<Resolved>& out, bool& fit_empty) {
    // What a listing names is the user's pattern; an alias's own points resolve as in a
    // script (an optional one that matches nothing here is left out quietly).
    bool listing = e_.options.listing && depth == 0;
    bool any = false;
    for (const PatternDef& pattern : AllPatterns()) {
      std::vector<PointPart> concrete;
      if (!Fits(pattern, parts, listing, concrete)) continue;
      std::vector<ProbeSpec> specs;
      bool placeholder = std::any_of(concrete.begin(), concrete.end(),
                                     [](const PointPart& p) { return p.placeholder; });
      if (placeholder) {
        ProbeSpec spec;
        spec.family = pattern.family->id();
        spec.point = PointSpelling(concrete);
        specs.push_back(std::move(spec));
      } else {
        ResolveContext ctx{
            e_.diags,
            [this]() -> const TracepointCatalog& { return e_.machine.tracepoints(); },
            [this]() -> const SyscallTable& { return e_.machine.syscalls(); },
            [this]() -> const KernelFunctionIndex& { return e_.machine.kernel_functions(); },
            [this](std::string_view glob, std::string* error) {
              return e_.machine.kernel_modules(glob, error);
            },
            &e_.machine.binaries(),
            optional,
            listing,
            !listing || e_.options.list_variables,
            privileged_,
            [this](std::string* error) -> const std::string& {
              return e_.machine.kernel_build_id(error);
            },
            [this]() { return &e_.machine.kernel_dwarf(); },
            [this](const std::string& module) { return &e_.machine.module_dwarf(module); },
            [this]() -> const btf* { return e_.machine.kernel_btf().get(); },
            e_.machine.running(),
            &e_.skipped,
            PointSpelling(concrete)};
        ctx.in_listed_alias = e_.options.listing && depth > 0;
        ctx.target_program = e_.options.target_program;
        ctx.target_program_error = e_.options.target_program_error;
        ctx.task_compat_status = [this]() { return e_.machine.task_compat_status(); };
        size_t errors = e_.diags.error_count();
        pattern.family->Resolve(pattern, concrete, ctx, specs);
        // A pattern that found nothing (and said nothing) leaves the others' matches be.
        if (specs.empty() && e_.diags.error_count() == errors) {
          fit_empty = true;
          continue;
        }
      }
      any = true;
      for (ProbeSpec& s : specs) out.push_back({std::move(s), exp});
    }
    return any;
  }

  // Does the pattern fit the written parts? Fills the concrete parts (pattern names,
  // written arguments). Listing lets a missing argument stand for any, and a final `*`
  // for any number of further components.
  static bool Fits(const PatternDef& pattern, const std::vector<PointPart>& parts, bool listing,
                   std::vector<PointPart>& concrete) {
    size_t n = parts.size();
    // A lone `*` is every top-level point, as stap lists it: one component.
    bool open_end =
        listing && n > 1 && parts.back().name == "*" && parts.back().arg == ArgKind::None;
    if (pattern.parts.size() != n && !(open_end && pattern.parts.size() >= n)) return false;
    for (size_t i = 0; i < pattern.parts.size(); ++i) {
      const PatternPart& want = pattern.parts[i];
      PointPart p;
      p.name = std::string(want.name);
      p.arg = want.arg;
      if (i >= n) {
        p.placeholder = want.arg != ArgKind::None;
        p.range = parts.back().range;
        concrete.push_back(std::move(p));
        continue;
      }
      const PointPart& have = parts[i];
      if (!GlobMatch(have.name, want.name)) return false;
      p.range = have.range;
      if (have.arg != want.arg) {
        if (!(listing && have.arg == ArgKind::None && (i + 1 < n || !open_end || true)))
          return false;
        if (want.arg == ArgKind::None) return false;
        p.placeholder = true;
      } else {
        p.number = have.number;
        p.string = have.string;
      }
      concrete.push_back(std::move(p));
    }
    return true;
  }

  // Finds the first component that no alias or pattern accepts and names the nearest.
  void ReportMismatch(const std::vector<PointPart>& parts) {
    struct Route {
      std::vector<std::pair<std::string, ArgKind>> parts;
    };
    std::vector<Route> routes;
    for (const PatternDef& p : AllPatterns()) {
      Route r;
      for (const PatternPart& part : p.parts) r.parts.push_back({std::string(part.name), part.arg});
      routes.push_back(std::move(r));
    }
    for (const AliasEntry& a : e_.aliases) {
      Route r;
      for (const PointPart& part : PartsOf(a.decl->names[a.name_index]))
        r.parts.push_back({part.name, part.arg});
      routes.push_back(std::move(r));
    }
    for (std::string_view prefix : e_.library.AliasPrefixes())
      routes.push_back({{{std::string(prefix), ArgKind::None}}});
    std::vector<const Route*> alive;
    for (const Route& r : routes) alive.push_back(&r);
    for (size_t i = 0; i < parts.size(); ++i) {
      std::vector<const Route*> next;
      bool name_matched = false;
      for (const Route* r : alive) {
        if (r->parts.size() <= i || !GlobMatch(parts[i].name, r->parts[i].first)) continue;
        name_matched = true;
        if (r->parts[i].second == parts[i].arg || r->parts.size() == 1) next.push_back(r);
      }
      if (next.empty()) {
        std::vector<std::string_view> names;
        std::set<std::string> expected;
        for (const Route* r : alive)
          if (r->parts.size() > i) {
            names.push_back(r->parts[i].first);
            if (name_matched && GlobMatch(parts[i].name, r->parts[i].first))
              expected.insert(r->parts[i].second == ArgKind::Number   ? "a number"
                              : r->parts[i].second == ArgKind::String ? "a string"
                                                                      : "no argument");
          }
        std::string tail;
        if (name_matched) {
          tail = ": `" + parts[i].name + "` takes ";
          for (auto it = expected.begin(); it != expected.end(); ++it)
            tail += (it == expected.begin() ? "" : " or ") + *it;
        } else if (std::string_view why = NotYet(parts[i].name, i); !why.empty()) {
          tail = "; " + std::string(why);
        } else {
          tail = SimilarList(Similar(parts[i].name, names));
        }
        e_.diags.Report(Diag::ProbePointMismatch, parts[i].range, {PartSpelling(parts[i]), tail});
        return;
      }
      alive = std::move(next);
    }
    // Every component matched a prefix: the point is incomplete.
    std::set<std::string> continuations;
    for (const Route* r : alive)
      if (r->parts.size() > parts.size()) {
        const auto& [name, arg] = r->parts[parts.size()];
        continuations.insert(name + (arg == ArgKind::Number   ? "(number)"
                                     : arg == ArgKind::String ? "(string)"
                                                              : ""));
      }
    std::string list;
    for (const std::string& c : continuations) {
      if (list.size() > 120) {
        list += ", ...";
        break;
      }
      list += (list.empty() ? "`." : ", `.") + c + "`";
    }
    if (continuations.empty())
      e_.diags.Report(Diag::ProbePointNoMatch, parts.back().range, {PointSpelling(parts)});
    else
      e_.diags.Report(Diag::ProbePointIncomplete, parts.back().range, {PointSpelling(parts), list});
  }

  // Whether a python probe's bodies read the strings HelperSDT computes only on demand
  // ($$parms, $$locals, $$vars, $$return, the backtrace): they name one or call a python_*
  // function, themselves or through the functions they call (the script's, and those of
  // btap's library and -I tapsets, followed by name through every file that defines it).
  bool NeedsPythonDetails(const Expansion& exp) const {
    std::vector<ast::Node*> bodies;
    for (const ast::Block* b : exp.prologues) bodies.push_back(const_cast<ast::Block*>(b));
    for (const ast::Block* b : exp.epilogues) bodies.push_back(const_cast<ast::Block*>(b));
    if (handler_) bodies.push_back(const_cast<ast::Block*>(handler_));
    std::set<std::string_view> seen;
    auto follow = [&](std::string_view name) {
      if (!seen.insert(name).second) return;
      auto add = [&](ast::File* file) {
        if (!file) return;
        for (ast::Decl* d : file->decls)
          if (auto* f = ast::As<ast::Function>(d); f && f->name == name && f->body)
            bodies.push_back(f->body);
      };
      add(e_.script);
      if (const std::vector<size_t>* files = e_.library.FunctionFiles(name))
        for (size_t i : *files) add(e_.library.files()[i].ast);
    };
    bool needs = false;
    for (size_t i = 0; i < bodies.size() && !needs; ++i)
      ast::WalkTree(bodies[i], [&](ast::Node* n) {
        // (The marks' $arg1 is the backtrace, $arg7 to $arg10 the variables' strings.)
        if (auto* t = ast::As<ast::TargetSymbol>(n))
          needs |= t->name.starts_with("$$") || t->name == "$return" || t->name == "$arg1" ||
                   t->name == "$arg7" || t->name == "$arg8" || t->name == "$arg9" ||
                   t->name == "$arg10";
        if (auto* c = ast::As<ast::Call>(n)) {
          needs |= c->name.starts_with("python_");
          follow(c->name);
        }
      });
    return needs;
  }

  Elab& e_;
  bool privileged_;
  const ast::Block* handler_;
};

void CollectWrites(ast::Node* body, std::set<std::string_view>& writes) {
  auto written = [&](ast::Expr* target) {
    if (auto* s = ast::As<ast::Symbol>(target)) writes.insert(s->name);
    if (auto* a = ast::As<ast::ArrayIndex>(target))
      if (auto* s = ast::As<ast::Symbol>(a->base)) writes.insert(s->name);
  };
  ast::WalkTree(body, [&](ast::Node* n) {
    if (auto* a = ast::As<ast::Assign>(n)) written(a->lhs);
    if (auto* c = ast::As<ast::PreCrement>(n)) written(c->operand);
    if (auto* c = ast::As<ast::PostCrement>(n)) written(c->operand);
  });
}

ast::Block* Compose(Elab& e, const Expansion& exp, const ast::Block* handler) {
  std::vector<ast::Stmt*> parts;
  for (const ast::Block* b : exp.prologues) parts.push_back(ast::CloneAs(e.arena, b));
  parts.push_back(ast::CloneAs(e.arena, handler));
  for (const ast::Block* b : exp.epilogues) parts.push_back(ast::CloneAs(e.arena, b));
  if (parts.size() == 1) return static_cast<ast::Block*>(parts[0]);
  auto* block = e.arena.New<ast::Block>();
  block->kind = ast::Kind::Block;
  block->range = handler->range;
  block->statements = e.arena.Copy(parts);
  return block;
}

ast::Expr* Conjoin(Elab& e, const std::vector<const ast::Expr*>& conditions) {
  ast::Expr* result = nullptr;
  for (const ast::Expr* c : conditions) {
    ast::Expr* copy = ast::CloneAs(e.arena, c);
    if (!result) {
      result = copy;
      continue;
    }
    auto* both = e.arena.New<ast::Logical>();
    both->kind = ast::Kind::Logical;
    both->op = ast::Tok::AndAnd;
    both->lhs = result;
    both->rhs = copy;
    both->range = SourceRange::Join(result->range, copy->range);
    result = both;
  }
  return result;
}

void ResolveOne(Elab& e, const PendingProbe& pending) {
  ProbeResolver resolver(e, pending.from_tapset || e.script->privileged, pending.decl->body);
  std::set<std::string_view> writes;
  CollectWrites(pending.decl->body, writes);
  size_t before = e.program.probes.size();
  for (const ast::ProbePoint* point : pending.decl->points) {
    std::vector<Resolved> resolved;
    Expansion exp;
    if (point->condition) exp.conditions.push_back(point->condition);
    exp.may_be_absent = point->optional || point->sufficient;
    size_t errors = e.diags.error_count();
    bool matched =
        resolver.Resolve(PartsOf(point), point->optional || point->sufficient, exp, 0, resolved);
    std::string origin = frontend::PrintProbePoint(point);
    for (Resolved& r : resolved) {
      Probe* probe = e.program.NewProbe();
      probe->origin = origin;
      probe->listed = r.expansion.listed.empty() ? r.spec.point : r.expansion.listed;
      probe->spec = std::move(r.spec);
      probe->decl = pending.decl;
      probe->file = pending.file;
      probe->from_tapset = pending.from_tapset;
      probe->may_be_absent = r.expansion.may_be_absent;
      probe->point_range = point->range;
      probe->order = e.probe_order++;
      probe->handler_writes = writes;
      probe->body = Compose(e, r.expansion, pending.decl->body);
      probe->condition = Conjoin(e, r.expansion.conditions);
      e.program.probes.push_back(probe);
    }
    bool gave = !resolved.empty() || e.diags.error_count() > errors;
    if (matched && point->sufficient && gave) break;
  }
  if (e.program.probes.size() == before && !pending.from_tapset)
    e.unmatched.push_back(pending.decl);
}

}  // namespace

void ResolvePendingProbes(Elab& e) {
  while (!e.pending.empty()) {
    std::vector<PendingProbe> batch;
    batch.swap(e.pending);
    for (const PendingProbe& p : batch) ResolveOne(e, p);
  }
}

void ResolveProbes(Elab& e) { ResolvePendingProbes(e); }

}  // namespace btap::sema
