// Golden files: tests/golden/parse/X.stp -> X.expected is `btap -p1 X.stp` (stdout, exit 0);
// tests/golden/diag/X.stp -> X.expected is what `btap -p1 X.stp` prints on stderr (exit 1);
// tests/golden/elaborate/X.stp -> `btap -p2 X.stp` (stdout, then any warnings, exit 0);
// tests/golden/elaborate-diag/X.stp -> what `btap -p2 X.stp` prints on stderr (exit 1).
// A first line `# args: OPTIONS -- SCRIPT ARGS` gives extra options and script arguments.
// BTAP_UPDATE_GOLDEN=1 rewrites the expectations (tests/update-golden.sh), for review with git
// diff.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tools/btap/driver.h"

namespace btap {
namespace {
namespace fs = std::filesystem;

std::string Read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> Split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

void RunGolden(const std::string& kind, const std::string& pass, int want_status,
               bool stdout_is_output) {
  fs::path dir = fs::path(BTAP_SOURCE_DIR) / "tests" / "golden" / kind;
  bool update = std::getenv("BTAP_UPDATE_GOLDEN") != nullptr;
  fs::path cwd = fs::current_path();
  fs::current_path(dir);  // so diagnostics name files as they are given
  std::vector<fs::path> inputs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ".stp") inputs.push_back(e.path());
  std::sort(inputs.begin(), inputs.end());
  ASSERT_FALSE(inputs.empty());
  for (const fs::path& input : inputs) {
    std::string text = Read(input);
    // `# args: OPTIONS [-- SCRIPT ARGUMENTS]`
    std::vector<std::string> argv = {pass}, script_args;
    if (text.rfind("# args:", 0) == 0) {
      auto extra = Split(text.substr(7, text.find('\n') - 7));
      auto dashes = std::find(extra.begin(), extra.end(), "--");
      argv.insert(argv.end(), extra.begin(), dashes);
      if (dashes != extra.end()) script_args.assign(dashes + 1, extra.end());
    }
    argv.push_back(input.filename().string());
    argv.insert(argv.end(), script_args.begin(), script_args.end());
    std::istringstream in;
    std::ostringstream out, err;
    int status = driver::Run(argv, in, out, err);
    // Diagnostics are part of the expectation; -v's pass timings are not.
    std::istringstream lines(err.str());
    std::string diagnostics;
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("Pass ", 0) != 0) diagnostics += line + "\n";
    std::string got = stdout_is_output ? out.str() : diagnostics;
    if (stdout_is_output && pass != "-p1" && !diagnostics.empty())
      got += "--- stderr\n" + diagnostics;
    fs::path expected_path = input;
    expected_path.replace_extension(".expected");
    if (update) {
      std::ofstream(expected_path, std::ios::binary) << got;
      continue;
    }
    EXPECT_EQ(status, want_status) << input << "\n" << err.str();
    EXPECT_EQ(got, Read(expected_path)) << input;
    if (stdout_is_output && pass == "-p1") {
      // The printed form is itself canonical: printing it again changes nothing.
      std::istringstream again(got);
      std::ostringstream out2, err2;
      EXPECT_EQ(driver::Run({"-p1", "-g", "-"}, again, out2, err2), 0) << input << err2.str();
      EXPECT_EQ(out2.str(), got) << input;
    } else if (!stdout_is_output) {
      EXPECT_TRUE(out.str().empty()) << input;
    }
  }
  fs::current_path(cwd);
}

TEST(Golden, Parse) { RunGolden("parse", "-p1", 0, true); }
TEST(Golden, Diagnostics) { RunGolden("diag", "-p1", 1, false); }
TEST(Golden, Elaborate) { RunGolden("elaborate", "-p2", 0, true); }
TEST(Golden, ElaborateDiagnostics) { RunGolden("elaborate-diag", "-p2", 1, false); }

}  // namespace
}  // namespace btap
