// Pass 2's working state, shared by its passes (internal to semantic/). Each pass reads
// what earlier passes put here and adds its own results to the Program.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "semantic/elaborate.h"
#include "semantic/probe_family.h"

namespace btap::sema {

struct AliasEntry {
  ast::Alias* decl;
  size_t name_index;  // which of decl->names
  FileId file;
  bool from_tapset;
};

struct PendingProbe {
  ast::Probe* decl;
  FileId file;
  bool from_tapset;
};

// The elaboration's state: what Elaborate was given (sm, arena, diags, library,
// machine, options), the script, the program being built and the symbol tables.
struct Elab : ElaborateInput {
  Elab(ast::File* s, const ElaborateInput& in, Program& p)
      : ElaborateInput(in), script(s), program(p) {}

  ast::File* script;
  Program& program;

  std::vector<AliasEntry> aliases;
  std::vector<PendingProbe> pending;  // probe declarations not yet resolved
  // Why optional points matched nothing (the point, its spelling, the reason), and the
  // script's probes that all of whose points did: for the errors that follow from them.
  std::vector<SkippedPoint> skipped;
  std::vector<const ast::Probe*> unmatched;
  size_t probe_order = 0;
  // Public names, and private ones keyed by their file.
  std::map<std::string_view, std::vector<Function*>> functions;
  std::map<std::pair<FileId, std::string_view>, Function*> private_functions;
  std::map<std::string_view, Variable*> globals;
  std::map<std::pair<FileId, std::string_view>, Variable*> private_globals;
  std::map<std::string_view, Function*> intrinsics;

  // Adds a file's declarations (the script or a tapset file).
  void AddFile(ast::File* file, bool from_tapset);
  void CheckAliasName(const ast::Alias* alias);
  // Pulls in library files that define `name` as a function / global / alias prefix.
  bool PullFunction(std::string_view name);
  bool PullGlobal(std::string_view name);
  // `where` is the probe point that asks (for errors of generated tapsets).
  bool PullAliases(std::string_view first_component, SourceRange where = {});
  // The syscall tapset is written for the running kernel when a script first needs it.
  void LoadSyscallTapset(SourceRange where);
  bool syscall_tapset_failed = false;
  // Kernel names of calls that the syscall tapset also has under stap's name (newstat,
  // stat): a wildcard (`syscall.*`) matches stap's name only, so a call fires it once.
  std::vector<std::string> syscall_glob_hidden;
  void Pull(size_t index);

  // The function `name` called with `arity` arguments, as seen from file `from`.
  Function* FindFunction(std::string_view name, FileId from, size_t arity);
  Variable* FindGlobal(std::string_view name, FileId from);
  // `name` as a private global of `file` only (null when it has none).
  Variable* FindPrivateGlobal(std::string_view name, FileId file);
};

// Notes on why optional points matched nothing (elaborate.cpp), after an error they explain.
void NoteSkippedPoints(Elab& e);

// Alias prefixes that the syscall tapset defines.
inline constexpr std::string_view kSyscallPrefixes[] = {"syscall", "syscall_any", "nd_syscall"};

// The passes, in order (elaborate.cpp lists them once).
void ResolveProbes(Elab& e);  // resolve_probes.cpp
void ResolvePendingProbes(Elab& e);
void ResolveSymbols(Elab& e);  // resolve_symbols.cpp
void CheckLanguage(Elab& e);   // language_checks.cpp
void CheckRecursion(Elab& e);  // recursion.cpp
void InferTypes(Elab& e);      // infer_types.cpp
void FoldPrints(Elab& e);      // fold_prints.cpp
void ElideDeadCode(Elab& e);   // dead_code.cpp

// Probe-point matching shared by resolution and listing.
std::vector<PointPart> PartsOf(const ast::ProbePoint* point);

}  // namespace btap::sema
