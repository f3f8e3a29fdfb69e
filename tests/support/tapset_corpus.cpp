// Tapset corpus planning and parsing.
#include "tests/support/tapset_corpus.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast_printer.h"
#include "frontend/frontend.h"

namespace btap::corpus {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> FilesIn(const fs::path& dir, const std::string& ext) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().extension() == ext) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

void Append(std::vector<std::string>& to, const std::vector<std::string>& from) {
  to.insert(to.end(), from.begin(), from.end());
}

size_t CountLines(std::string_view text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

}  // namespace

std::string DefaultRoot() {
  if (const char* env = std::getenv("BTAP_TAPSET_CORPUS")) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/root") +
         "/.cache/btap/systemtap-common/usr/share/systemtap/tapset";
}

std::vector<Group> Plan(const std::string& root_dir) {
  fs::path root(root_dir);
  std::vector<Group> groups;
  const std::vector<std::string> arches = {"x86_64", "i386",    "arm",   "arm64", "ia64",
                                           "mips",   "powerpc", "riscv", "s390"};
  for (const std::string& arch : arches) {
    Group g{"kernel", arch, {}, {}};
    Append(g.macro_files, FilesIn(root, ".stpm"));
    Append(g.macro_files, FilesIn(root / "linux", ".stpm"));
    if (arch == "x86_64") {
      Append(g.script_files, FilesIn(root, ".stp"));
      Append(g.script_files, FilesIn(root / "linux", ".stp"));
    }
    Append(g.script_files, FilesIn(root / arch, ".stp"));
    Append(g.script_files, FilesIn(root / "linux" / arch, ".stp"));
    groups.push_back(std::move(g));
  }
  for (const std::string runtime : {"bpf", "dyninst"}) {
    Group g{runtime, "x86_64", {}, {}};
    Append(g.macro_files, FilesIn(root, ".stpm"));
    Append(g.macro_files, FilesIn(root / runtime, ".stpm"));
    Append(g.script_files, FilesIn(root / runtime, ".stp"));
    groups.push_back(std::move(g));
  }
  return groups;
}

frontend::PPConfig ConfigFor(const Group& group) {
  frontend::PPConfig c;
  c.kernel_v = "6.1.0";
  c.kernel_vr = "6.1.0-28-amd64";
  c.arch = group.arch;
  c.runtime = group.runtime;
  c.systemtap_v = "4.8";
  c.privilege = "stapdev";
  c.kernel_config = [](std::string_view name) -> std::string {
    if (name == "CONFIG_64BIT" || name == "CONFIG_COMPAT" || name == "CONFIG_NFS_V4" ||
        name == "CONFIG_IPV6" || name == "CONFIG_NFSD")
      return "y";
    if (name == "CONFIG_NR_CPUS") return "64";
    if (name == "CONFIG_SPLIT_PTLOCK_CPUS") return "4";
    return "";
  };
  return c;
}

Totals ParseAll(const std::vector<Group>& groups, bool check_round_trip,
                const std::function<void(const FileResult&)>& on_file) {
  Totals totals;
  for (const Group& group : groups) {
    SourceManager sm;
    Arena arena;
    frontend::PPConfig config = ConfigFor(group);
    frontend::MacroTable library;
    bool first_group = &group == &groups.front();
    for (const std::string& path : group.macro_files) {
      DiagnosticSink diags;
      std::string why;
      FileId f = sm.LoadFile(path, &why);
      FileResult r{path, 0, {}, true, {}};
      if (f == kNoFile) {
        r.diagnostics = "cannot read: " + why;
      } else {
        frontend::LoadLibraryMacros(sm, f, config, library, arena, diags);
        r.diagnostics = RenderDiagnostics(sm, diags);
        r.lines = CountLines(sm.file(f).text());
        totals.lines_processed += r.lines;
      }
      // Library macro files are shared by every group; count them once.
      if (first_group || !r.diagnostics.empty()) {
        totals.files += first_group;
        totals.lines += first_group ? r.lines : 0;
        totals.failures += !r.diagnostics.empty();
        if (on_file) on_file(r);
      }
    }
    for (const std::string& path : group.script_files) {
      DiagnosticSink diags;
      std::string why;
      FileId f = sm.LoadFile(path, &why);
      FileResult r{path, 0, {}, true, {}};
      if (f == kNoFile) {
        r.diagnostics = "cannot read: " + why;
      } else {
        frontend::ParseOptions options;
        options.pp = config;
        options.privileged = true;
        options.user_file = false;
        ast::File* file = frontend::ParseFile(sm, f, &library, options, arena, diags);
        r.diagnostics = RenderDiagnostics(sm, diags);
        r.lines = CountLines(sm.file(f).text());
        totals.bytes += sm.file(f).text().size();
        if (check_round_trip && r.diagnostics.empty()) {
          frontend::PrintOptions explicit_parens{true};
          std::string canonical = frontend::PrintToString(*file);
          std::string shape = frontend::PrintToString(*file, explicit_parens);
          FileId again = sm.AddFile(path + " (printed)", canonical);
          DiagnosticSink diags2;
          ast::File* reparsed = frontend::ParseFile(sm, again, &library, options, arena, diags2);
          std::string rendered2 = RenderDiagnostics(sm, diags2);
          std::string shape2 = frontend::PrintToString(*reparsed, explicit_parens);
          if (!rendered2.empty()) {
            r.round_trip_ok = false;
            r.round_trip_detail = "printed form does not parse:\n" + rendered2;
          } else if (shape != shape2) {
            r.round_trip_ok = false;
            size_t at = 0;
            while (at < shape.size() && at < shape2.size() && shape[at] == shape2[at]) ++at;
            size_t from = at > 80 ? at - 80 : 0;
            r.round_trip_detail = "tree differs after printing and parsing again, near:\n  " +
                                  shape.substr(from, 160) + "\nversus\n  " +
                                  shape2.substr(from, 160);
          }
        }
      }
      ++totals.files;
      totals.lines += r.lines;
      totals.lines_processed += r.lines;
      totals.failures += !r.diagnostics.empty() || !r.round_trip_ok;
      if (on_file) on_file(r);
    }
  }
  return totals;
}

}  // namespace btap::corpus
