// Conformance: every .stp and .stpm file of SystemTap's tapset library (Debian's
// systemtap-common, fetched by tests/fetch-corpus.sh) parses with zero errors under the
// runtime and architecture it is written for, and survives print -> parse unchanged.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast_printer.h"
#include "frontend/frontend.h"

#include "tests/support/tapset_corpus.h"

namespace btap {
namespace {

TEST(Conformance, TapsetLibraryParsesAndRoundTrips) {
  std::string root = corpus::DefaultRoot();
  ASSERT_TRUE(std::filesystem::is_directory(root))
      << "no tapset corpus at " << root << "; run tests/fetch-corpus.sh (ctest does)";
  size_t reported = 0;
  corpus::Totals totals = corpus::ParseAll(
      corpus::Plan(root), /*check_round_trip=*/true, [&](const corpus::FileResult& r) {
        if (reported > 20) return;
        if (!r.diagnostics.empty()) {
          ADD_FAILURE() << r.diagnostics;
          ++reported;
        } else if (!r.round_trip_ok) {
          ADD_FAILURE() << r.path << ": " << r.round_trip_detail;
          ++reported;
        }
      });
  EXPECT_EQ(totals.failures, 0u);
  // Debian 12's systemtap-common 4.8: 586 .stp and 21 .stpm files, ~125k lines.
  EXPECT_GE(totals.files, 600u);
  EXPECT_GE(totals.lines, 120000u);
  std::printf("conformance: %zu files, %zu lines, %zu failures\n", totals.files, totals.lines,
              totals.failures);
}

}  // namespace
}  // namespace btap

namespace btap {
namespace {
namespace fs = std::filesystem;

std::vector<std::string> ShellWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false;
  char quote = 0;
  for (char c : line) {
    if (quote) {
      if (c == quote)
        quote = 0;
      else
        word += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == ' ' || c == '\t') {
      if (in_word) words.push_back(word), word.clear(), in_word = false;
    } else {
      word += c;
      in_word = true;
    }
  }
  if (in_word) words.push_back(word);
  return words;
}

// The script arguments of the example's own check (`test_check: stap -p4 X.stp ARGS`
// in X.meta), when it has one.
std::optional<std::vector<std::string>> MetaArguments(const fs::path& script) {
  fs::path meta = script;
  meta.replace_extension(".meta");
  std::ifstream in(meta);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("test_check:", 0) != 0) continue;
    std::vector<std::string> words = ShellWords(line.substr(11));
    auto it = std::find_if(words.begin(), words.end(), [&](const std::string& w) {
      return w.size() >= script.filename().string().size() &&
             w.ends_with(script.filename().string());
    });
    if (it == words.end()) return std::nullopt;
    std::vector<std::string> args;
    for (++it; it != words.end(); ++it) {
      if (it->size() == 2 && (*it)[0] == '-' && std::isalpha(static_cast<unsigned char>((*it)[1])))
        break;
      args.push_back(*it == "$$" ? "4242" : *it);  // the shell's own pid
    }
    return args;
  }
  return std::nullopt;
}

// SystemTap's example scripts (Debian's systemtap-doc) parse as stap parses them, with
// stap's library macros and the arguments their own checks use (X.meta), and round-trip;
// scripts without
// such a check must parse with numbers or with probe points as arguments.
TEST(Conformance, ExampleScriptsParse) {
  fs::path tapsets = corpus::DefaultRoot();
  fs::path doc = tapsets.parent_path().parent_path().parent_path().parent_path().parent_path() /
                 "systemtap-doc" / "usr" / "share";
  ASSERT_TRUE(fs::is_directory(doc / "systemtap" / "examples"))
      << "no examples under " << doc << "; run tests/fetch-corpus.sh (ctest does)";
  // A template with `...` placeholders; stap rejects it too.
  const std::set<std::string> not_scripts = {"security-bandaid-template.stp"};

  corpus::Group kernel = corpus::Plan(tapsets.string()).front();  // x86_64, kernel runtime
  frontend::PPConfig numbers = corpus::ConfigFor(kernel);
  numbers.args = {"1", "2", "3", "4", "5", "6"};
  frontend::PPConfig points = numbers;
  points.args.assign(6, "kernel.statement(\"f\")");
  SourceManager sm;
  Arena arena;
  DiagnosticSink lib_diags;
  frontend::MacroTable library;
  for (const std::string& path : kernel.macro_files) {
    std::string why;
    frontend::LoadLibraryMacros(sm, sm.LoadFile(path, &why), numbers, library, arena, lib_diags);
  }
  ASSERT_FALSE(lib_diags.has_errors());

  std::vector<fs::path> scripts;
  for (const fs::path& dir :
       {doc / "systemtap" / "examples", doc / "doc" / "systemtap" / "examples"})
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.path().extension() == ".stp") scripts.push_back(e.path());
  std::sort(scripts.begin(), scripts.end());
  size_t parsed = 0;
  for (const fs::path& script : scripts) {
    if (not_scripts.count(script.filename().string())) continue;
    bool tapset = script.parent_path().filename() == "tapset";
    std::string rendered;
    bool ok = false;
    frontend::PPConfig own = numbers;
    std::vector<const frontend::PPConfig*> configs = {&numbers, &points};
    if (auto args = MetaArguments(script)) {
      own.args = *args;
      configs = {&own};
    }
    for (const frontend::PPConfig* config : configs) {
      std::string why;
      FileId f = sm.LoadFile(script.string(), &why);
      ASSERT_NE(f, kNoFile) << script << ": " << why;
      DiagnosticSink diags;
      frontend::ParseOptions options;
      options.pp = *config;
      options.privileged = true;  // several examples use embedded C, run with -g
      options.user_file = !tapset;
      ast::File* file = frontend::ParseFile(sm, f, &library, options, arena, diags);
      if (!diags.has_errors()) {
        ok = true;
        // The printed form parses back to the same tree.
        std::string printed = frontend::PrintToString(*file);
        DiagnosticSink again;
        ast::File* reparsed =
            frontend::ParseFile(sm, sm.AddFile(script.string() + " (printed)", printed), &library,
                                options, arena, again);
        EXPECT_FALSE(again.has_errors()) << script;
        EXPECT_EQ(frontend::PrintToString(*reparsed, {true}),
                  frontend::PrintToString(*file, {true}))
            << script;
        break;
      }
      rendered += RenderDiagnostics(sm, diags);
    }
    EXPECT_TRUE(ok) << rendered;
    parsed += ok;
  }
  EXPECT_GE(parsed, 200u);
  std::printf("examples: %zu of %zu scripts parse\n", parsed, scripts.size());
}

}  // namespace
}  // namespace btap
