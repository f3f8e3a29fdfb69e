// The tapset library: finds tapset files in stap's search order (the runtime and
// kernel-version/architecture subfolders of each root, btap's own library first, then
// -I folders), loads their macros and parses them, and indexes what each file defines
// so that pass 2 pulls in a file only when the script needs one of its definitions.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "common/source.h"
#include "frontend/ast.h"
#include "frontend/preprocessor.h"

namespace btap::sema {

struct LibraryOptions {
  frontend::PPConfig pp;
  std::vector<std::string> include_dirs;  // -I, searched after btap's own library
  // btap's library: "" means $BTAP_TAPSET, else <prefix>/share/btap/tapset next to the
  // executable when installed, else the copy built into the binary.
  std::string tapset_dir;
  bool builtin_library = true;  // false: only -I folders (tests)
};

struct TapsetFile {
  FileId file = kNoFile;
  std::string path;  // as found (embedded files: "<builtin>/name.stp")
  ast::File* ast = nullptr;
  bool pulled = false;
};

class TapsetLibrary {
 public:
  TapsetLibrary(SourceManager& sm, Arena& arena) : sm_(sm), arena_(arena) {}

  // Finds the files, loads every .stpm macro file, then parses every .stp file.
  // Problems are reported to `diags`; the library keeps what parsed.
  void Load(const LibraryOptions& options, DiagnosticSink& diags);

  const frontend::MacroTable& macros() const { return macros_; }
  const frontend::PPConfig& pp() const { return pp_; }
  std::vector<TapsetFile>& files() { return files_; }

  // Files (indexes into files()) defining a public function, global or alias name.
  const std::vector<size_t>* FunctionFiles(std::string_view name) const;
  const std::vector<size_t>* GlobalFiles(std::string_view name) const;
  // Aliases are indexed by their first component.
  const std::vector<size_t>* AliasFiles(std::string_view first_component) const;
  std::vector<std::string_view> AliasPrefixes() const;
  std::vector<std::string_view> FunctionNames() const;

  size_t macro_file_count() const { return macro_files_; }

  // Adds a tapset written at run time (the syscall tapset), parsed and indexed like the
  // others; returns its index in files().
  bool HasFile(std::string_view path) const;
  size_t AddGenerated(const std::string& path, std::string text, DiagnosticSink& diags);

 private:
  void Index(size_t index);

  SourceManager& sm_;
  Arena& arena_;
  frontend::MacroTable macros_;
  std::vector<TapsetFile> files_;
  size_t macro_files_ = 0;
  std::map<std::string, std::vector<size_t>, std::less<>> functions_, globals_, aliases_;
  frontend::PPConfig pp_;
};

// Folders searched under one root, most specific first (stap's order).
// The folder btap's own library is read from: $BTAP_TAPSET, else the installed copy
// (share/btap/tapset beside the binary's bin/); "" for the copy built into btap.
std::string DefaultTapsetDir();

std::vector<std::string> SearchFolders(const std::string& root, const frontend::PPConfig& pp);

}  // namespace btap::sema
