// Driver options: stap's spellings, attached and separate arguments, script arguments.
#include "tools/btap/options.h"

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "runtime/object.h"
#include "tools/btap/driver.h"

namespace btap::driver {
namespace {

TEST(Options, StapSpellings) {
  Options o;
  std::string error;
  ASSERT_TRUE(ParseOptions({"-p1", "-v", "-v", "-g", "-I", "/x", "-DMAXSTRINGLEN=64",
                            "--runtime=bpf", "script.stp", "a1", "-x", "42", "--", "-b"},
                           &o, &error))
      << error;
  EXPECT_EQ(o.pass, 1);
  EXPECT_EQ(o.verbose, 2);
  EXPECT_TRUE(o.guru);
  EXPECT_EQ(o.include_dirs, std::vector<std::string>{"/x"});
  EXPECT_EQ(o.defines, std::vector<std::string>{"MAXSTRINGLEN=64"});
  EXPECT_EQ(o.target_pid, 42);
  EXPECT_EQ(o.script_file, "script.stp");
  EXPECT_EQ(o.args, (std::vector<std::string>{"a1", "-b"}));  // options anywhere; `--` ends them
}

TEST(Options, ScriptOnTheCommandLine) {
  Options o;
  std::string error;
  ASSERT_TRUE(ParseOptions({"-e", "probe begin {}", "x", "y"}, &o, &error)) << error;
  EXPECT_EQ(*o.script_text, "probe begin {}");
  EXPECT_EQ(o.args, (std::vector<std::string>{"x", "y"}));
  Options s;
  ASSERT_TRUE(ParseOptions({"-"}, &s, &error));
  EXPECT_EQ(s.script_file, "-");
}

TEST(Options, Errors) {
  std::string error;
  Options o;
  EXPECT_FALSE(ParseOptions({"-p", "9", "x.stp"}, &o, &error));
  EXPECT_EQ(error, "`-p` takes a pass number from 1 to 5");
  EXPECT_FALSE(ParseOptions({"--runtime=kernel", "x"}, &o, &error));
  EXPECT_EQ(error, "unsupported runtime `kernel`; btap's only runtime is `bpf`");
  EXPECT_FALSE(ParseOptions({"-q"}, &o, &error));
  EXPECT_FALSE(ParseOptions({}, &o, &error));
  EXPECT_NE(error.find("no script given"), std::string::npos);
  EXPECT_FALSE(ParseOptions({"-e"}, &o, &error));
  EXPECT_EQ(error, "option `-e` needs an argument");
}

TEST(Driver, StdinScriptAndArguments) {
  std::istringstream in("probe begin { printf(\"%s\\n\", @1) }");
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-p1", "-", "hello"}, in, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "probe begin {\n  printf(\"%s\\n\", \"hello\");\n}\n");
}

TEST(Driver, ArchNames) {
  EXPECT_EQ(NormalizeArch("x86_64"), "x86_64");
  EXPECT_EQ(NormalizeArch("i686"), "i386");
  EXPECT_EQ(NormalizeArch("aarch64"), "arm64");
  EXPECT_EQ(NormalizeArch("armv7l"), "arm");
  EXPECT_EQ(NormalizeArch("ppc64le"), "powerpc");
  EXPECT_EQ(NormalizeArch("s390x"), "s390");
  EXPECT_EQ(NormalizeArch("riscv64"), "riscv");
}

TEST(Driver, Pass3PrintsTheModule) {
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-p3", "-e", "probe begin { exit() }"}, in, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("define i32 @probe_0(ptr"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("section \"btap_user/probe_0\""), std::string::npos);
}

TEST(Driver, Pass4WritesTheObject) {
  std::string path = testing::TempDir() + "/driver_p4.bo";
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(
      driver::Run({"-p4", "-o", path, "-e", "probe begin { printf(\"%d\\n\", 1) }"}, in, out, err),
      0)
      << err.str();
  EXPECT_EQ(out.str(), path + "\n");
  std::ifstream file(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), {});
  meta::Meta meta;
  std::string error;
  ASSERT_TRUE(runtime::ReadObjectMeta(bytes, &meta, &error)) << error;
  EXPECT_EQ(meta.formats, std::vector<std::string>{"%d\n"});
  ASSERT_EQ(meta.probes.size(), 1u);
  EXPECT_TRUE(meta.probes[0].user_side);
}

TEST(Driver, DumpBpfAsmPrintsInstructions) {
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-p3", "--dump=bpf-asm", "-e",
                         "global n; probe kernel.trace(\"raw_syscalls:sys_enter\") { n++ }"},
                        in, out, err),
            0)
      << err.str();
  // The counter is one atomic add on global data.
  EXPECT_NE(out.str().find("lock *(u64 *)"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("g_n ll"), std::string::npos) << out.str();
}

TEST(Driver, ObjectsAreDeterministic) {
  std::string script =
      "global a; probe kernel.trace(\"raw_syscalls:sys_enter\") { a[execname()]++ }\n"
      "probe end { foreach (k in a- limit 5) printf(\"%s %d\\n\", k, a[k]) }";
  std::vector<std::vector<uint8_t>> objects;
  for (int i = 0; i < 2; ++i) {
    std::string path = testing::TempDir() + "/determinism" + std::to_string(i) + ".bo";
    std::istringstream in;
    std::ostringstream out, err;
    ASSERT_EQ(driver::Run({"-p4", "-o", path, "-e", script}, in, out, err), 0) << err.str();
    std::ifstream file(path, std::ios::binary);
    objects.emplace_back((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  }
  EXPECT_FALSE(objects[0].empty());
  EXPECT_EQ(objects[0], objects[1]);
}

TEST(Driver, WhatCannotBeCompiledIsLocated) {
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(
      driver::Run({"-p4", "-e", "probe begin {\n  if (\"ab\" =~ \"a\") exit()\n}"}, in, out, err),
      1);
  EXPECT_NE(
      err.str().find("<input>:2:7: error: regular expression matching cannot be compiled yet"),
      std::string::npos)
      << err.str();
}

TEST(Driver, BadLimitsAreRejected) {
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-p4", "-D", "MAXSTRINGLEN=x", "-e", "probe begin { }"}, in, out, err), 1);
  EXPECT_NE(err.str().find("-D MAXSTRINGLEN=x: expected a number"), std::string::npos) << err.str();
}

}  // namespace
}  // namespace btap::driver

namespace btap::driver {
namespace {

TEST(Options, StapChecksAtPassOne) {
  std::string error;
  Options o;
  EXPECT_FALSE(ParseOptions({"-e", "probe begin {}", "-e", "probe end {}"}, &o, &error));
  EXPECT_EQ(error, "only one script can be given on the command line");
  Options c;
  EXPECT_FALSE(ParseOptions({"-c", "ls", "-x", "1", "-e", "x"}, &c, &error));
  EXPECT_NE(error.find("`-c` and `-x` cannot be given together"), std::string::npos);
  Options m;
  EXPECT_FALSE(ParseOptions({"-m", "Has-Dash", "-e", "x"}, &m, &error));
  EXPECT_NE(error.find("`-m Has-Dash`: a module name is"), std::string::npos);
  EXPECT_FALSE(ParseOptions({"-m", std::string(56, 'a'), "-e", "x"}, &m, &error));
  Options ok;
  EXPECT_TRUE(ParseOptions({"-m", "_mod_1", "-e", "x"}, &ok, &error)) << error;
  Options s;
  EXPECT_FALSE(ParseOptions({"-s", "0", "-e", "x"}, &s, &error));
  EXPECT_NE(error.find("buffer size is 1 to 4095"), std::string::npos);
  EXPECT_TRUE(ParseOptions({"-s", "64", "-e", "x"}, &s, &error)) << error;
}

TEST(Options, StapOptionsWithoutEffectAreAccepted) {
  std::string error;
  Options o;
  ASSERT_TRUE(ParseOptions({"--bpf", "--disable-cache", "--skip-badvars", "--suppress-time-limits",
                            "--all-modules", "-t", "--tmpdir", "/x", "-e", "probe begin {}"},
                           &o, &error))
      << error;
  EXPECT_EQ(o.ignored,
            (std::vector<std::string>{"--disable-cache", "--skip-badvars", "--suppress-time-limits",
                                      "--all-modules", "-t", "--tmpdir"}));
  EXPECT_EQ(*o.script_text, "probe begin {}");
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-p1", "--disable-cache", "-e", "probe begin {}"}, in, out, err), 0);
  EXPECT_EQ(err.str(), "btap: warning: `--disable-cache` has no effect in btap; ignored\n");
}

TEST(Driver, OutputFileTakesTheScriptsOutputWithTimeExpanded) {
  std::string pattern = testing::TempDir() + "/btap-out-%Y.txt";
  time_t now = time(nullptr);
  struct tm local;
  localtime_r(&now, &local);
  std::string path =
      testing::TempDir() + "/btap-out-" + std::to_string(1900 + local.tm_year) + ".txt";
  std::remove(path.c_str());
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(driver::Run({"-o", pattern, "-m", "named_run", "-e",
                         "probe begin { println(\"to the file\") exit() }"},
                        in, out, err),
            0)
      << err.str();
  EXPECT_EQ(out.str(), "");
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  EXPECT_EQ(text.str(), "to the file\n");
  // -m at pass 5 names the run; no object is left behind.
  EXPECT_FALSE(std::ifstream("named_run.bo").good());
}

TEST(Driver, VerboseReportsPassesFourAndFiveAndKeepKeepsTheObject) {
  std::istringstream in;
  std::ostringstream out, err;
  ASSERT_EQ(driver::Run({"-v", "-k", "-e", "probe begin { exit() }"}, in, out, err), 0)
      << err.str();
  std::string e = err.str();
  EXPECT_NE(e.find("Pass 4: compiled BPF into \""), std::string::npos) << e;
  EXPECT_NE(e.find("Pass 5: starting run.\n"), std::string::npos) << e;
  EXPECT_NE(e.find("Pass 5: run completed in "), std::string::npos) << e;
  size_t at = e.find("Keeping temporary directory \"");
  ASSERT_NE(at, std::string::npos) << e;
  std::string dir = e.substr(at + 29, e.find('"', at + 29) - at - 29);
  bool object = false;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    object |= entry.path().extension() == ".bo";
  EXPECT_TRUE(object) << dir;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace btap::driver
