// The btaprun binary on objects and files the runtime cases cannot make: damaged and
// unreadable objects, usage errors, -V and -o with strftime sequences.
#include <elf.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/object_meta.h"
#include "tests/unit/driver/run_btap.h"
#include "tools/btap/driver.h"

namespace btap {
namespace {

namespace fs = std::filesystem;

struct Result {
  int status = -1;
  std::string out, err;
};

std::string Slurp(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// Runs btaprun with `args` (already shell-quoted) in the test's own directory, after
// `prefix` (a command such as setpriv).
Result Btaprun(const std::string& args, const std::string& prefix = "") {
  std::string dir = testing::TempDir() + "/btaprun_test";
  fs::create_directories(dir);
  std::string command = "cd " + dir + " && " + prefix + BTAPRUN_BINARY + " " + args + " >" + dir +
                        "/out 2>" + dir + "/err";
  int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, Slurp(dir + "/out"), Slurp(dir + "/err")};
}

std::string Compile(const std::string& script) {
  std::string dir = testing::TempDir() + "/btaprun_test";
  fs::create_directories(dir);
  std::string path = dir + "/hello.bo";
  driver::Ran ran;
  EXPECT_EQ((ran = driver::RunBtap({"-p4", "-o", path, "-e", script})).status, 0) << ran.err;
  return path;
}

TEST(Btaprun, DamagedObjectIsRefusedBeforeTheKernel) {
  std::string path = Compile("probe begin { println(\"hello\"); exit() }");
  Result ok = Btaprun(path);
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_EQ(ok.out, "hello\n");
  // Flip one byte in the middle of the begin probe's program.
  std::string bytes = Slurp(path);
  Elf64_Ehdr eh;
  ASSERT_GE(bytes.size(), sizeof eh);
  std::memcpy(&eh, bytes.data(), sizeof eh);
  auto header = [&](size_t i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, bytes.data() + eh.e_shoff + i * sizeof sh, sizeof sh);
    return sh;
  };
  size_t program = 0;
  for (size_t i = 1; i < eh.e_shnum; ++i)
    if (bytes.c_str() + header(eh.e_shstrndx).sh_offset + header(i).sh_name ==
        std::string("btap_user/probe_0"))
      program = i;
  ASSERT_NE(program, 0u);
  bytes[header(program).sh_offset + header(program).sh_size / 2] ^= 0x01;
  std::string damaged = path + ".damaged";
  std::ofstream(damaged, std::ios::binary) << bytes;
  Result r = Btaprun(damaged);
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "btaprun: error: " + damaged +
                       ": damaged object: section `btap_user/probe_0` does not match its digest\n");
}

TEST(Btaprun, UnreadableFilesSayWhy) {
  Result missing = Btaprun("/no/such/object.bo");
  EXPECT_EQ(missing.status, 1);
  EXPECT_EQ(missing.err,
            "btaprun: error: cannot read `/no/such/object.bo`: No such file or directory\n");
  Result dir = Btaprun("/");
  EXPECT_EQ(dir.status, 1);
  EXPECT_EQ(dir.err, "btaprun: error: cannot read `/`: Is a directory\n");
  // Root reads anything; an unprivileged user does not read a mode-000 file.
  if (getuid() == 0 && fs::exists("/usr/bin/setpriv")) {
    std::string path = testing::TempDir() + "/btaprun_test/unreadable.bo";
    std::ofstream(path) << "x";
    fs::permissions(path, fs::perms::none);
    Result denied = Btaprun(path, "/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups ");
    EXPECT_EQ(denied.status, 1);
    EXPECT_EQ(denied.err, "btaprun: error: cannot read `" + path + "`: Permission denied\n");
  }
  Result junk = Btaprun("/etc/hostname");
  EXPECT_EQ(junk.status, 1);
  EXPECT_EQ(junk.err, "btaprun: error: /etc/hostname: not an ELF object\n");
}

TEST(Btaprun, UsageErrorsPrintUsage) {
  for (const char* args : {"", "-q x.bo", "-T", "-T 0 x.bo", "-T inf x.bo", "-T nan x.bo",
                           "-x abc x.bo", "-c true -x 1 x.bo", "x.bo notanassignment"}) {
    Result r = Btaprun(args);
    EXPECT_EQ(r.status, 1) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(r.err.rfind("btaprun: error: ", 0), 0u) << args << ": " << r.err;
    EXPECT_NE(r.err.find("\nUsage: btaprun [OPTIONS] OBJECT.bo [NAME=VALUE...]\n"),
              std::string::npos)
        << args << ": " << r.err;
  }
  EXPECT_EQ(Btaprun("-q x.bo").err.substr(0, 41), "btaprun: error: unknown option `-q`\nUsage");
  EXPECT_EQ(Btaprun("-T").err.substr(0, 47), "btaprun: error: option `-T` needs an argument\nU");
  EXPECT_EQ(Btaprun("-c true -x 1 x.bo").err.substr(0, 51),
            "btaprun: error: -c and -x cannot be given together\n");
}

TEST(Btaprun, VersionAndHelp) {
  Result v = Btaprun("-V");
  EXPECT_EQ(v.status, 0);
  EXPECT_EQ(v.out, std::string("btaprun ") + BTAP_VERSION + " (runs objects of btap " +
                       BTAP_VERSION + ", .btap.meta version " + std::to_string(meta::kVersion) +
                       ")\n");
  Result h = Btaprun("-h");
  EXPECT_EQ(h.status, 0);
  EXPECT_EQ(h.out.rfind("Usage: btaprun", 0), 0u);
}

TEST(Btaprun, OutputFileExpandsStrftime) {
  std::string path = Compile("probe begin { println(\"into the file\"); exit() }");
  std::string dir = testing::TempDir() + "/btaprun_test";
  fs::remove_all(dir + "/out-dir");
  fs::create_directories(dir + "/out-dir");
  Result r = Btaprun("-o 'out-dir/run-%Y.txt' " + path);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  time_t now = time(nullptr);
  struct tm local;
  localtime_r(&now, &local);
  std::string expected = dir + "/out-dir/run-" + std::to_string(1900 + local.tm_year) + ".txt";
  EXPECT_EQ(Slurp(expected), "into the file\n");
  Result bad = Btaprun("-o /no/such/dir/out.txt " + path);
  EXPECT_EQ(bad.status, 1);
  EXPECT_EQ(bad.err,
            "btaprun: error: cannot open output file `/no/such/dir/out.txt`: No such file or "
            "directory\n");
}

}  // namespace
}  // namespace btap
