// Tapset discovery, parsing and indexing (see tapsets.h).
#include "semantic/tapsets.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "frontend/frontend.h"
#include "semantic/embedded_tapsets.h"

namespace btap::sema {
namespace fs = std::filesystem;

std::vector<std::string> SearchFolders(const std::string& root, const frontend::PPConfig& pp) {
  // Kernel release truncations: 6.18.0-1-amd64, 6.18.0, 6.18, 6.
  std::vector<std::string> versions = {pp.kernel_vr};
  std::string v = pp.kernel_v;
  while (!v.empty()) {
    if (v != versions.back()) versions.push_back(v);
    size_t dot = v.rfind('.');
    if (dot == std::string::npos) break;
    v.resize(dot);
  }
  std::vector<std::string> out;
  for (const std::string& base : {root + "/" + pp.runtime, root}) {
    for (const std::string& ver : versions) out.push_back(base + "/" + ver);
    out.push_back(base + "/" + pp.arch);
    out.push_back(base);
  }
  return out;
}

namespace {

struct Found {
  std::string path;
  std::string text;  // embedded files only
  bool embedded = false;
};

// Files of one root in search order; a file name seen in a more specific folder hides
// the same name in less specific ones.
void CollectRoot(const std::string& root, const frontend::PPConfig& pp, std::string_view ext,
                 std::vector<Found>& out) {
  std::set<std::string> seen;
  for (const std::string& dir : SearchFolders(root, pp)) {
    std::error_code ec;
    std::vector<std::string> here;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.is_regular_file(ec) && entry.path().extension() == ext)
        here.push_back(entry.path().filename().string());
    std::sort(here.begin(), here.end());
    for (const std::string& name : here)
      if (seen.insert(name).second) out.push_back({dir + "/" + name, "", false});
  }
}

void CollectEmbedded(std::string_view ext, std::vector<Found>& out) {
  for (const EmbeddedTapset& t : EmbeddedTapsets()) {
    std::string_view path = t.path;
    if (path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext)
      out.push_back({"<builtin>/" + std::string(path), std::string(t.text, t.size), true});
  }
}

}  // namespace

std::string DefaultTapsetDir() {
  if (const char* env = std::getenv("BTAP_TAPSET"); env && *env) return env;
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    fs::path installed = fs::path(exe).parent_path().parent_path() / "share/btap/tapset";
    std::error_code ec;
    if (fs::is_directory(installed, ec)) return installed.string();
  }
  return "";  // the embedded copy
}

namespace {

std::vector<Found> Collect(const LibraryOptions& options, std::string_view ext) {
  std::vector<Found> out;
  if (options.builtin_library) {
    std::string dir = options.tapset_dir.empty() ? DefaultTapsetDir() : options.tapset_dir;
    if (dir.empty())
      CollectEmbedded(ext, out);
    else
      CollectRoot(dir, options.pp, ext, out);
  }
  for (const std::string& dir : options.include_dirs) CollectRoot(dir, options.pp, ext, out);
  return out;
}

FileId AddFound(SourceManager& sm, Found& f, DiagnosticSink& diags) {
  if (f.embedded) return sm.AddFile(f.path, std::move(f.text));
  std::string why;
  FileId id = sm.LoadFile(f.path, &why);
  if (id == kNoFile) diags.Report(Diag::CannotReadTapset, {}, {f.path, why});
  return id;
}

}  // namespace

void TapsetLibrary::Load(const LibraryOptions& options, DiagnosticSink& diags) {
  pp_ = options.pp;
  for (Found& f : Collect(options, ".stpm")) {
    FileId id = AddFound(sm_, f, diags);
    if (id == kNoFile) continue;
    frontend::LoadLibraryMacros(sm_, id, options.pp, macros_, arena_, diags);
    ++macro_files_;
  }
  frontend::ParseOptions parse;
  parse.pp = options.pp;
  parse.privileged = true;
  parse.user_file = false;
  for (Found& f : Collect(options, ".stp")) {
    FileId id = AddFound(sm_, f, diags);
    if (id == kNoFile) continue;
    TapsetFile t{id, f.path, frontend::ParseFile(sm_, id, &macros_, parse, arena_, diags), false};
    files_.push_back(std::move(t));
    Index(files_.size() - 1);
  }
}

bool TapsetLibrary::HasFile(std::string_view path) const {
  return std::any_of(files_.begin(), files_.end(),
                     [&](const TapsetFile& f) { return f.path == path; });
}

size_t TapsetLibrary::AddGenerated(const std::string& path, std::string text,
                                   DiagnosticSink& diags) {
  FileId id = sm_.AddFile(path, std::move(text));
  frontend::ParseOptions parse;
  parse.pp = pp_;
  parse.privileged = true;
  parse.user_file = false;
  files_.push_back({id, path, frontend::ParseFile(sm_, id, &macros_, parse, arena_, diags), false});
  Index(files_.size() - 1);
  return files_.size() - 1;
}

void TapsetLibrary::Index(size_t index) {
  for (ast::Decl* d : files_[index].ast->decls) {
    if (auto* f = ast::As<ast::Function>(d); f && !f->is_private)
      functions_[std::string(f->name)].push_back(index);
    else if (auto* g = ast::As<ast::Global>(d); g && !g->is_private)
      globals_[std::string(g->name)].push_back(index);
    else if (auto* a = ast::As<ast::Alias>(d))
      for (ast::ProbePoint* name : a->names)
        if (!name->components.empty())
          aliases_[std::string(name->components[0].name)].push_back(index);
  }
}

namespace {
const std::vector<size_t>* Lookup(const std::map<std::string, std::vector<size_t>, std::less<>>& m,
                                  std::string_view name) {
  auto it = m.find(name);
  return it == m.end() ? nullptr : &it->second;
}
}  // namespace

const std::vector<size_t>* TapsetLibrary::FunctionFiles(std::string_view name) const {
  return Lookup(functions_, name);
}
const std::vector<size_t>* TapsetLibrary::GlobalFiles(std::string_view name) const {
  return Lookup(globals_, name);
}
const std::vector<size_t>* TapsetLibrary::AliasFiles(std::string_view first) const {
  return Lookup(aliases_, first);
}
std::vector<std::string_view> TapsetLibrary::AliasPrefixes() const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : aliases_) out.push_back(k);
  return out;
}
std::vector<std::string_view> TapsetLibrary::FunctionNames() const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : functions_) out.push_back(k);
  return out;
}

}  // namespace btap::sema
