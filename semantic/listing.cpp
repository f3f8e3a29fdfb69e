// -l / -L: the pattern is parsed as the point of an empty probe and elaborated in
// listing mode (missing arguments and a final `*` act as wildcards, a mismatch is
// simply no match); each resulting probe gives one line.
#include "semantic/listing.h"

#include <algorithm>
#include <set>

#include "frontend/frontend.h"

namespace btap::sema {

namespace {

// How many components a final `**` stands for at most (stap's aliases have up to five).
constexpr int kMaxStarStar = 6;

}  // namespace

std::vector<std::string> ListProbePoints(std::string_view pattern, bool with_variables,
                                         const frontend::PPConfig& pp, ElaborateInput input) {
  // A final `**` is any number of further components, as in stap (`netfilter.**` lists
  // `netfilter.ip.local_in` and `netfilter.hook(string).pf(string)`): the points with one
  // `*` per component, listed together (one elaboration: the tapsets load once).
  std::string points(pattern);
  if (pattern == "**" || pattern.ends_with(".**")) {
    std::string stars(pattern.substr(0, pattern.size() - 2));
    points.clear();
    for (int n = 0; n < kMaxStarStar; ++n) {
      stars += n == 0 ? "*" : ".*";
      points += (n == 0 ? "" : " ?, ") + stars;
    }
  }
  std::string text = "probe " + points + " ? {}\n";
  FileId id = input.sm.AddFile("<listing>", text);
  frontend::ParseOptions parse;
  parse.pp = pp;
  ast::File* file =
      frontend::ParseFile(input.sm, id, &input.library.macros(), parse, input.arena, input.diags);
  if (input.diags.has_errors()) return {};
  input.options.listing = true;
  input.options.list_variables = with_variables;
  std::unique_ptr<Program> program = Elaborate(file, input);
  if (input.diags.has_errors()) return {};
  std::set<std::string> lines;
  for (const Probe* p : program->probes) {
    // Only what the pattern names, not the probes of the tapsets it pulled in.
    if (!p->decl || p->decl->range.file != id) continue;
    std::string line = p->listed;
    if (line.starts_with("__")) continue;  // btap's internal points (`__syscall(N)`)
    if (with_variables) {
      std::vector<std::string> locals;
      for (const Variable* v : p->locals)
        if (v->written && v->type != Type::Unknown && v->name.substr(0, 2) != "__")
          locals.push_back(" " + std::string(v->name) + ":" + std::string(TypeName(v->type)));
      std::sort(locals.begin(), locals.end());
      for (const std::string& l : locals) line += l;
      // A python point's context is its strings, not its mark's operands.
      if (p->spec.python) line += " $$parms:string $$locals:string $$vars:string";
      if (p->spec.python && p->spec.sdt_name.find("_return") != std::string::npos)
        line += " $$return:string";
      if (!p->spec.python)
        for (const TargetArg& a : p->spec.args)
          if (a.source != TargetArg::Source::SyscallNr || p->spec.raw_syscall ||
              p->spec.process_syscall)  // syscall.*'s own
            line += " $" + a.name + ":" + a.c_type;
    }
    lines.insert(std::move(line));
  }
  return {lines.begin(), lines.end()};
}

}  // namespace btap::sema
