// The driver at pass 5 and around it: -o (with strftime names), what -m, -k and -p4
// leave behind, -v's pass reports, the root check, CONFIG_ conditions, process paths.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "common/kernel_config.h"
#include "runtime/output_files.h"
#include "runtime/session.h"
#include "tests/unit/driver/run_btap.h"
#include "tools/btap/driver.h"

namespace btap::driver {
namespace {

namespace fs = std::filesystem;

// A fresh directory, made the current one while the test runs.
class InTempDir {
 public:
  explicit InTempDir(const std::string& name) {
    dir_ = fs::path(testing::TempDir()) / ("driver_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    old_ = fs::current_path();
    fs::current_path(dir_);
  }
  ~InTempDir() { fs::current_path(old_); }
  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_, old_;
};

std::vector<std::string> Files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

const char kHello[] = "probe begin { printf(\"hello\\n\"); exit() }";

TEST(Output, DashOReceivesTheScriptsOutput) {
  InTempDir dir("dash_o");
  Ran r = RunBtap({"-o", "out.txt", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(ReadAll(dir.path() / "out.txt"), "hello\n");
  EXPECT_EQ(Files(dir.path()), std::vector<std::string>{"out.txt"});  // and no object
}

TEST(Output, DashOExpandsStrftimeSequences) {
  InTempDir dir("strftime");
  char before[16], after[16];
  time_t t0 = time(nullptr);
  strftime(before, sizeof before, "%Y-%m-%d", localtime(&t0));
  Ran r = RunBtap({"-o", "log-%Y-%m-%d.txt", "-e", kHello});
  time_t t1 = time(nullptr);
  strftime(after, sizeof after, "%Y-%m-%d", localtime(&t1));
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<std::string> files = Files(dir.path());
  ASSERT_EQ(files.size(), 1u);
  EXPECT_TRUE(files[0] == std::string("log-") + before + ".txt" ||
              files[0] == std::string("log-") + after + ".txt")
      << files[0];
  EXPECT_EQ(ReadAll(dir.path() / files[0]), "hello\n");

  std::string name, error;
  ASSERT_TRUE(runtime::ExpandOutputName("x-%s-%%.out", 1234567890, &name, &error)) << error;
  EXPECT_EQ(name, "x-1234567890-%.out");
  ASSERT_TRUE(runtime::ExpandOutputName("plain", 0, &name, &error));
  EXPECT_EQ(name, "plain");
  EXPECT_FALSE(runtime::ExpandOutputName("", 0, &name, &error));
  EXPECT_EQ(error, "invalid output file name format ``");
}

TEST(Output, AnOutputFileThatCannotBeOpenedIsAnError) {
  Ran r = RunBtap({"-o", "/nonexistent-btap-dir/out.txt", "-e", kHello});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("btap: error: cannot open output file `/nonexistent-btap-dir/out.txt`: "
                       "No such file or directory\n"),
            std::string::npos)
      << r.err;
}

TEST(Output, ModuleNameAtPass5LeavesNoObject) {
  InTempDir dir("m_pass5");
  Ran r = RunBtap({"-m", "hello_mod", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_TRUE(Files(dir.path()).empty());
  // -p4 keeps it, under the -m name.
  r = RunBtap({"-p4", "-m", "hello_mod", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello_mod.bo\n");
  EXPECT_EQ(Files(dir.path()), std::vector<std::string>{"hello_mod.bo"});
}

TEST(Output, KeepNamesItsTemporaryDirectory) {
  InTempDir dir("keep");
  setenv("TMPDIR", dir.path().c_str(), 1);
  Ran r = RunBtap({"-k", "-m", "kept", "-e", kHello});
  unsetenv("TMPDIR");
  ASSERT_EQ(r.status, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("Keeping temporary directory \"(.*)\"\n$")))
      << r.err;
  fs::path kept = m[1].str();
  EXPECT_EQ(kept.parent_path(), dir.path());
  EXPECT_EQ(kept.filename().string().substr(0, 4), "btap");
  EXPECT_EQ(Files(kept), (std::vector<std::string>{"kept.bo", "kept.ll"}));
  EXPECT_NE(ReadAll(kept / "kept.ll").find("target triple = \"bpf"), std::string::npos);
  EXPECT_EQ(Files(dir.path()).size(), 1u);  // only the temporary directory
}

TEST(Verbose, PassesAreReportedAsStapReportsThem) {
  InTempDir dir("verbose");
  Ran r = RunBtap({"-v", "-m", "vv", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  const char* lines[] = {
      ("^Pass 1: parsed user script and \\d+ library scripts using \\d+virt/\\d+res/\\d+shr/"
       "\\d+data kb, in \\d+usr/\\d+sys/\\d+real ms.$"),
      "^Pass 2: analyzed script: 1 probes, \\d+ functions, 0 embeds, 0 globals using .* ms.$",
      "^Pass 3: translated to BPF \\(1 programs, 1 formats\\) using .* ms.$",
      "^Pass 4: compiled BPF into \"vv.bo\" in \\d+usr/\\d+sys/\\d+real ms.$",
      "^Pass 5: starting run.$",
      "^Pass 5: run completed in \\d+usr/\\d+sys/\\d+real ms.$",
  };
  std::istringstream err(r.err);
  std::string line;
  size_t next = 0;
  while (std::getline(err, line) && next < std::size(lines))
    if (std::regex_search(line, std::regex(lines[next]))) ++next;
  EXPECT_EQ(next, std::size(lines)) << "missing: " << lines[next] << "\nin:\n" << r.err;
  EXPECT_EQ(r.err.find("Searched:"), std::string::npos);

  // The cache would answer the same script without passes 1 to 4 (cache_test.cpp).
  r = RunBtap({"-vv", "-p4", "--disable-cache", "-m", "vv", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("Session arch: \\S+ release: \\S+\n"))) << r.err;
  EXPECT_TRUE(
      std::regex_search(r.err, std::regex("Searched: \".+\", found: \\d+, processed: \\d+\n")))
      << r.err;
  EXPECT_TRUE(std::regex_search(r.err, std::regex("Object \"vv.bo\": \\d+ bytes, 1 programs\n")))
      << r.err;
}

TEST(Options, IgnoredOptionsWarnUnlessSuppressed) {
  Ran r = RunBtap({"-p1", "-t", "--ldd", "-e", "probe begin {}"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err,
            "btap: warning: `-t` is ignored: btap does not collect probe timings yet\n"
            "btap: warning: `--ldd` is ignored: btap reads the symbols it needs when it needs "
            "them\n");
  r = RunBtap({"-p1", "-w", "-t", "-e", "probe begin {}"});
  EXPECT_EQ(r.err, "");
}

// Runs `argv` in a child that gave up root (uid/gid 65534, no capabilities).
Ran RunUnprivileged(const std::vector<std::string>& argv) {
  int pipes[2];
  if (pipe(pipes) != 0) return {-1, "", "pipe failed"};
  pid_t pid = fork();
  if (pid == 0) {
    close(pipes[0]);
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(99);
    Ran r = RunBtap(argv);
    std::string report = r.out + '\0' + r.err;
    if (write(pipes[1], report.data(), report.size()) < 0) _exit(98);
    _exit(r.status);
  }
  close(pipes[1]);
  std::string report;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipes[0], buf, sizeof buf)) > 0) report.append(buf, n);
  close(pipes[0]);
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  size_t nul = report.find('\0');
  if (nul == std::string::npos) nul = report.size();
  return {WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1, report.substr(0, nul),
          nul < report.size() ? report.substr(nul + 1) : ""};
}

// Whether uid 65534 could read tracefs (then there is nothing to explain).
bool TracefsReadableBy65534() {
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    _exit(TracefsReadable() ? 0 : 1);
  }
  int wstatus = 0;
  waitpid(pid, &wstatus, 0);
  return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

TEST(Privileges, Pass5WithoutRootSaysSoFirst) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop it";
  // The probe point does not exist: the privilege message still comes first, alone.
  Ran r = RunUnprivileged({"-e", "probe kernel.trace(\"no_such:tracepoint\") {}"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "btap: error: running a script needs root privileges (loading BPF programs); run "
            "btap as root, or compile with `-p4` and run the object as root with `btaprun`\n");
  // Passes 1 to 4 need no privileges.
  r = RunUnprivileged({"-p1", "-e", kHello});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "probe begin {\n  printf(\"hello\\n\");\n  exit();\n}\n");
  r = RunUnprivileged({"-p4", "-o", "/dev/null", "-e", kHello});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "/dev/null\n");
  // User-space probe points list without root.
  r = RunUnprivileged({"-l", "timer.s(1)"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "timer.s(1)\n");
}

TEST(Privileges, KernelFactsWithoutRootAreExplained) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop it";
  if (TracefsReadableBy65534()) GTEST_SKIP() << "tracefs is readable without root here";
  Ran r = RunUnprivileged({"-l", "kernel.trace(\"sched:*\")"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err,
            "btap: error: listing kernel probe points needs root privileges (tracefs is readable "
            "by root only); run btap as root\n");
  r = RunUnprivileged({"-p2", "-e", "probe kernel.trace(\"sched:sched_switch\") {}"});
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.err.rfind("btap: note: btap is not running as root, so tracepoints and system "
                        "calls, which tracefs describes to root only, cannot be resolved\n",
                        0),
            0u)
      << r.err;
  EXPECT_NE(r.err.find("error: no tracepoint matches"), std::string::npos) << r.err;
}

TEST(KernelConfig, ReadsBootConfigThenProcConfigGz) {
  auto table = ParseKernelConfig(
      "# comment\nCONFIG_A=y\nCONFIG_B=\"quoted text\"\n# CONFIG_C is not set\nCONFIG_N=64\n");
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table["CONFIG_A"], "y");
  EXPECT_EQ(table["CONFIG_B"], "quoted text");
  EXPECT_EQ(table.count("CONFIG_C"), 0u);
  EXPECT_EQ(table["CONFIG_N"], "64");

  InTempDir dir("kconfig");
  std::ofstream(dir.path() / "config-1.2.3-test") << "CONFIG_FROM_BOOT=m\n";
  EXPECT_EQ(KernelConfigText("1.2.3-test", dir.path(), "/nonexistent"), "CONFIG_FROM_BOOT=m\n");
  // Another kernel's release never reads the running kernel's /proc/config.gz.
  EXPECT_EQ(KernelConfigText("0.0.0-other", dir.path(), "/proc/config.gz"), "");
}

TEST(KernelConfig, ValuesAsProbeBodiesReadThem) {
  EXPECT_EQ(KconfigNumber("y"), 1);
  EXPECT_EQ(KconfigNumber("m"), 2);
  EXPECT_EQ(KconfigNumber("250"), 250);
  EXPECT_EQ(KconfigNumber("0x1000"), 4096);
  EXPECT_EQ(KconfigNumber("-5"), -5);
  EXPECT_EQ(KconfigNumber(""), 0);
  EXPECT_EQ(KconfigNumber("quoted text"), 0);
  EXPECT_EQ(KconfigNumber("12abc"), 0);
}

TEST(KernelConfig, ConditionsSeeTheRunningKernelsConfig) {
  std::string text = KernelConfigText(MachineConfig({}).kernel_vr, "/boot", "/proc/config.gz");
  if (text.empty()) GTEST_SKIP() << "no /boot/config-$(uname -r) and no /proc/config.gz";
  ASSERT_EQ(ParseKernelConfig(text)["CONFIG_BPF"], "y");  // btap needs it to run at all
  Ran r = RunBtap({"-p1", "-e",
                   "probe begin { %( CONFIG_BPF == \"y\" %? print(\"bpf\") %: print(\"none\") %) "
                   "%( CONFIG_BTAP_NO_SUCH_OPTION == \"\" %? print(\"unset\") %) }"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "probe begin {\n  print(\"bpf\");\n  print(\"unset\");\n}\n");
}

TEST(ProcessPaths, ANameNotOnPathIsFoundInTheCurrentDirectory) {
  InTempDir dir("process_cwd");
  fs::copy_file(BTAP_WORKLOAD, dir.path() / "a.out");
  Ran r = RunBtap({"-l", "process(\"a.out\").function(\"main\")"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("process(\"" + (dir.path() / "a.out").string() + "\").function(\"main", 0),
            0u)
      << r.out;
}

TEST(ProcessPaths, AGlobProbesEveryMatchingFile) {
  InTempDir dir("process_glob");
  fs::copy_file(BTAP_WORKLOAD, dir.path() / "prog1");
  fs::copy_file(BTAP_WORKLOAD, dir.path() / "prog2");
  fs::create_directory(dir.path() / "prog3");  // not a regular file: skipped
  Ran r = RunBtap({"-l", "process(\"" + dir.path().string() + "/prog*\").function(\"main\")"});
  ASSERT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::vector<std::string> programs;
  for (std::string line; std::getline(lines, line);)
    programs.push_back(line.substr(0, line.find(").")));
  std::string d = dir.path().string();
  EXPECT_EQ(programs, (std::vector<std::string>{"process(\"" + d + "/prog1\"",
                                                "process(\"" + d + "/prog2\""}));
  r = RunBtap({"-p2", "-e", "probe process(\"" + d + "/none*\").function(\"main\") {}"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("error: no file matches `" + d + "/none*`"), std::string::npos) << r.err;
}

// An object of another architecture that a glob matches (/usr/lib*/ reaches lib32) is
// left out with a warning; a glob that matches only such objects is an error.
TEST(ProcessPaths, AGlobSkipsObjectsOfAnotherArchitecture) {
  InTempDir dir("process_glob_arch");
  fs::copy_file(BTAP_WORKLOAD, dir.path() / "prog1");
  fs::copy_file(BTAP_WORKLOAD, dir.path() / "prog2");
  {
    std::fstream elf(dir.path() / "prog2", std::ios::in | std::ios::out | std::ios::binary);
    elf.seekp(18);      // e_machine
    elf.put(3).put(0);  // EM_386
  }
  std::string d = dir.path().string();
  Ran r = RunBtap({"-p2", "-e", "probe process(\"" + d + "/prog*\").function(\"main\") {}"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("warning: skipping `" + d + "/prog2`, which `" + d +
                       "/prog*` matches: it is not an x86-64 object"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.out.find("process(\"" + d + "/prog1\")"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("prog2"), std::string::npos) << r.out;
  r = RunBtap({"-p2", "-e", "probe process(\"" + d + "/prog2*\").function(\"main\") {}"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("is not an x86-64 program"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace btap::driver

namespace btap::driver {
namespace {

// `-l` lists an alias family whose bodies read `$vars` (which a listing does not resolve)
// and whose optional points this kernel lacks (left out, as in a script); a literal name
// that matches nothing is still an error.
TEST(Listing, AliasFamiliesList) {
  if (geteuid() != 0) GTEST_SKIP() << "listing kernel points needs root";
  for (const char* family : {"signal.*", "vm.*", "socket.*", "tcp.*"}) {
    Ran r = RunBtap({"-l", family});
    EXPECT_EQ(r.status, 0) << family << ": " << r.err;
    EXPECT_EQ(r.err, "") << family;
    EXPECT_NE(r.out.find(std::string(family, std::strlen(family) - 1)), std::string::npos)
        << family << ": " << r.out;
  }
  Ran r = RunBtap({"-l", "signal.*"});
  EXPECT_NE(r.out.find("signal.syskill\n"), std::string::npos) << r.out;
  r = RunBtap({"-l", "kernel.function(\"no_such_function_here\")"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no kernel function matches `no_such_function_here`"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace btap::driver
