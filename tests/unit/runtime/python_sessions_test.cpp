// The session files HelperSDT's tracer reads (runtime/python_sessions.h): what a file says,
// the folders the runtime refuses, and links it never follows.
#include "runtime/python_sessions.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace btap::runtime {
namespace {

namespace fs = std::filesystem;

std::string Read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

uint64_t Generation(const fs::path& dir) {
  std::string bytes = Read(dir / "generation");
  uint64_t n = 0;
  if (bytes.size() == sizeof n) std::memcpy(&n, bytes.data(), sizeof n);
  return n;
}

meta::Meta DetailsProbe(const std::string& filter) {
  meta::Meta m;
  meta::Probe p;
  p.helper_mark = "python3_call_details";
  p.python_filter = filter;
  p.target = "/nonexistent/libbtap_python.so";
  p.numbers[0] = 11;
  p.numbers[1] = 22;
  m.probes.push_back(p);
  return m;
}

// A folder of this test's own (mode 0700, this user's), set as $BTAP_PYTHON_SESSIONS.
class PythonSessions : public testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/btap-python-sessions-XXXXXX";
    ASSERT_NE(mkdtemp(name), nullptr);
    dir_ = name;
    setenv("BTAP_PYTHON_SESSIONS", name, 1);
  }
  void TearDown() override {
    unsetenv("BTAP_PYTHON_SESSIONS");
    fs::remove_all(dir_);
  }
  fs::path Own() const { return dir_ / (std::to_string(getpid()) + ".session"); }
  fs::path dir_;
};

TEST_F(PythonSessions, PublishesAndWithdraws) {
  meta::Meta m = DetailsProbe("mod*\nKlass.f\nsub/x.py");
  {
    PythonSessionFile file;
    file.Publish(m);
    std::string text = Read(Own());
    EXPECT_EQ(text.rfind("btap-python-session 1\npid\t" + std::to_string(getpid()) + "\t", 0), 0u)
        << text;
    EXPECT_NE(text.find("\nmark\tpython3_call_details\tmod*\tKlass.f\tsub/x.py\n"),
              std::string::npos)
        << text;
    EXPECT_EQ(Generation(dir_), 1u);
    // Not /run/btap/python: no tracer reads this file, so the probe keeps its mark.
    EXPECT_EQ(m.probes[0].helper_mark, "python3_call_details");
    EXPECT_EQ(m.probes[0].numbers[0], 11);
    file.Withdraw();
    EXPECT_FALSE(fs::exists(Own()));
    EXPECT_EQ(Generation(dir_), 2u);
  }
  EXPECT_EQ(Generation(dir_), 2u);  // (withdrawn once)
}

TEST_F(PythonSessions, GlobsThatWouldBreakALineMatchEverything) {
  meta::Meta m = DetailsProbe("a\tb\nf\nx.py");
  PythonSessionFile file;
  file.Publish(m);
  EXPECT_NE(Read(Own()).find("\nmark\tpython3_call_details\t*\tf\tx.py\n"), std::string::npos);
  file.Withdraw();
  // A filter that is not three lines (a glob with a line break): all three `*`.
  m = DetailsProbe("a\nb\nf\nx.py");
  file.Publish(m);
  EXPECT_NE(Read(Own()).find("\nmark\tpython3_call_details\t*\t*\t*\n"), std::string::npos);
}

TEST_F(PythonSessions, NeverFollowsLinks) {
  fs::path victim = dir_.parent_path() / (dir_.filename().string() + ".victim");
  std::ofstream(victim) << "AAAAAAAAhello\n";
  fs::create_symlink(victim, dir_ / "generation");
  fs::create_symlink(victim, dir_ / (Own().filename().string() + ".new"));
  meta::Meta m = DetailsProbe("m\nf\n");
  PythonSessionFile file;
  file.Publish(m);
  file.Withdraw();
  EXPECT_EQ(Read(victim), "AAAAAAAAhello\n");
  EXPECT_TRUE(fs::is_symlink(dir_ / "generation"));
  fs::remove(victim);
}

TEST_F(PythonSessions, RefusesAFolderOthersMayWrite) {
  chmod(dir_.c_str(), 0777);
  meta::Meta m = DetailsProbe("m\nf\n");
  PythonSessionFile file;
  file.Publish(m);
  EXPECT_TRUE(fs::is_empty(dir_));
  // A link to the folder is not the folder.
  chmod(dir_.c_str(), 0700);
  fs::path link = dir_.string() + ".link";
  fs::create_directory_symlink(dir_, link);
  setenv("BTAP_PYTHON_SESSIONS", link.c_str(), 1);
  file.Publish(m);
  EXPECT_TRUE(fs::is_empty(dir_));
  fs::remove(link);
}

TEST(PythonSessionsDir, RelativeIsMadeAbsolute) {
  setenv("BTAP_PYTHON_SESSIONS", "rel/sessions", 1);
  std::string dir = PythonSessionsDir();
  unsetenv("BTAP_PYTHON_SESSIONS");
  EXPECT_EQ(dir, fs::current_path().string() + "/rel/sessions");
  EXPECT_EQ(PythonSessionsDir(), "/run/btap/python");
}

}  // namespace
}  // namespace btap::runtime
