// Driver options: stap's spellings, attached and separate arguments, script arguments.
#include "tools/btap/options.h"

#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "runtime/object.h"
#include "tests/unit/driver/run_btap.h"
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

TEST(Options, CheckedAsStapChecksThem) {
  std::string error;
  Options o;
  EXPECT_FALSE(ParseOptions({"-e", "probe begin {}", "-e", "probe end {}"}, &o, &error));
  EXPECT_EQ(error, "only one script can be given on the command line");
  for (const char* size : {"abc", "0", "4096", ""}) {
    Options s;
    EXPECT_FALSE(ParseOptions({"-s", size, "x.stp"}, &s, &error)) << size;
    EXPECT_EQ(error, std::string("invalid buffer size `") + size + "` (should be 1-4095)");
  }
  Options s;
  ASSERT_TRUE(ParseOptions({"-s8", "x.stp"}, &s, &error)) << error;
  EXPECT_EQ(s.buffer_mb, 8);
  EXPECT_EQ(s.warnings, std::vector<std::string>{"`-s` is ignored: the output ring buffer is "
                                                 "sized with `-D BTAP_RINGBUF_BYTES=N`"});
  Options c;
  ASSERT_TRUE(ParseOptions({"-c", "ls -l", "x.stp"}, &c, &error)) << error;
  EXPECT_EQ(c.command, "ls -l");
  EXPECT_FALSE(ParseOptions({"-c", "ls", "-x", "1", "x.stp"}, &c, &error));
  EXPECT_EQ(error, "`-c` and `-x` cannot be given together");
  EXPECT_FALSE(ParseOptions({"-c", "", "x.stp"}, &c, &error));
  EXPECT_EQ(error, "`-c` needs a command");
  Options b;
  ASSERT_TRUE(ParseOptions({"--bpf", "x.stp"}, &b, &error)) << error;
  EXPECT_TRUE(b.warnings.empty());
}

TEST(Options, ModuleNamesFollowStapsRule) {
  std::string error;
  Options o;
  EXPECT_FALSE(ParseOptions({"-m", "foo-bar", "x.stp"}, &o, &error));
  EXPECT_EQ(error,
            "invalid module name `foo-bar`: `-m` takes lower-case letters, digits and `_` only "
            "(^[a-z0-9_]+$)");
  EXPECT_FALSE(ParseOptions({"-m", "Upper", "x.stp"}, &o, &error));
  EXPECT_FALSE(ParseOptions({"-m", ".ko", "x.stp"}, &o, &error));
  EXPECT_EQ(error, "module name cannot be empty");
  Options k;
  ASSERT_TRUE(ParseOptions({"-m", "counts.ko", "x.stp"}, &k, &error)) << error;
  EXPECT_EQ(k.module_name, "counts");
  EXPECT_EQ(k.warnings, std::vector<std::string>{"truncating module name to `counts`"});
  Options l;
  ASSERT_TRUE(ParseOptions({"-m", std::string(70, 'a'), "x.stp"}, &l, &error)) << error;
  EXPECT_EQ(l.module_name, std::string(55, 'a'));
  Options d;
  ASSERT_TRUE(ParseOptions({"-m", "1abc_2", "x.stp"}, &d, &error)) << error;
  EXPECT_EQ(d.module_name, "1abc_2");
  EXPECT_TRUE(d.warnings.empty());
}

TEST(Options, StapOptionsWithoutEffectAreAcceptedWithAWarning) {
  std::string error;
  Options o;
  ASSERT_TRUE(
      ParseOptions({"--ldd", "--skip-badvars", "-t", "--all-modules", "--modinfo", "a=b",
                    "--rlimit-cpu=5", "--color=never", "-P", "-d", "/bin/ls", "x.stp", "arg"},
                   &o, &error))
      << error;
  EXPECT_EQ(o.script_file, "x.stp");
  EXPECT_EQ(o.args, std::vector<std::string>{"arg"});  // --modinfo took its value
  EXPECT_TRUE(o.skip_badvars);
  ASSERT_EQ(o.warnings.size(), 9u);
  EXPECT_EQ(o.warnings[0],
            "`--ldd` is ignored: btap reads the symbols it needs when it needs them");
  EXPECT_EQ(o.warnings[2], "`-t` is ignored: btap does not collect probe timings yet");
  EXPECT_FALSE(ParseOptions({"--ldd=yes", "x.stp"}, &o, &error));
  EXPECT_EQ(error, "option `--ldd` takes no value");
}

TEST(Options, CacheOptions) {
  std::string error;
  Options o;
  ASSERT_TRUE(ParseOptions({"--disable-cache", "--poison-cache", "x.stp"}, &o, &error)) << error;
  EXPECT_TRUE(o.disable_cache);
  EXPECT_TRUE(o.poison_cache);
  EXPECT_FALSE(o.clean_cache);
  EXPECT_TRUE(o.warnings.empty());
  // --clean-cache needs no script: it cleans, then btap exits.
  Options c;
  ASSERT_TRUE(ParseOptions({"--clean-cache"}, &c, &error)) << error;
  EXPECT_TRUE(c.clean_cache);
  for (const char* bad : {"--disable-cache=yes", "--poison-cache=1", "--clean-cache=x"}) {
    Options b;
    EXPECT_FALSE(ParseOptions({bad, "x.stp"}, &b, &error)) << bad;
    std::string name = std::string(bad).substr(0, std::string(bad).find('='));
    EXPECT_EQ(error, "option `" + name + "` takes no value");
  }
}

TEST(Options, SuppressTimeLimitsNeedsGuruMode) {
  std::string error;
  Options g;
  EXPECT_FALSE(ParseOptions({"--suppress-time-limits", "x.stp"}, &g, &error));
  EXPECT_EQ(error, "`--suppress-time-limits` requires guru mode (`-g`)");
  EXPECT_TRUE(ParseOptions({"-g", "--suppress-time-limits", "x.stp"}, &g, &error)) << error;
  EXPECT_FALSE(ParseOptions({"--suppress-handler-errors", "x.stp"}, &g, &error));
  EXPECT_EQ(error, "unknown option `--suppress-handler-errors`");
}

TEST(Driver, ManPageIsBuiltIn) {
  driver::Ran ran;
  EXPECT_EQ((ran = driver::RunBtap({"--man"})).status, 0);
  EXPECT_EQ(ran.out.rfind(".\\\"", 0), 0u);
  EXPECT_NE(ran.out.find(".TH BTAP 1"), std::string::npos);
  EXPECT_NE(ran.out.find(".SH EXIT STATUS"), std::string::npos);
}

TEST(Driver, StdinScriptAndArguments) {
  const std::string in = "probe begin { printf(\"%s\\n\", @1) }";
  driver::Ran ran;
  EXPECT_EQ((ran = driver::RunBtap({"-p1", "-", "hello"}, in)).status, 0) << ran.err;
  EXPECT_EQ(ran.out, "probe begin {\n  printf(\"%s\\n\", \"hello\");\n}\n");
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
  driver::Ran ran;
  EXPECT_EQ((ran = driver::RunBtap({"-p3", "-e", "probe begin { exit() }"})).status, 0) << ran.err;
  EXPECT_NE(ran.out.find("define i32 @probe_0(ptr"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("section \"btap_user/probe_0\""), std::string::npos);
}

TEST(Driver, Pass4WritesTheObject) {
  std::string path = testing::TempDir() + "/driver_p4.bo";
  driver::Ran ran;
  EXPECT_EQ(
      (ran = driver::RunBtap({"-p4", "-o", path, "-e", "probe begin { printf(\"%d\\n\", 1) }"}))
          .status,
      0)
      << ran.err;
  EXPECT_EQ(ran.out, path + "\n");
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
  driver::Ran ran;
  EXPECT_EQ(
      (ran = driver::RunBtap({"-p3", "--dump=bpf-asm", "-e",
                              "global n; probe kernel.trace(\"raw_syscalls:sys_enter\") { n++ }"}))
          .status,
      0)
      << ran.err;
  // The counter is one atomic add on global data.
  EXPECT_NE(ran.out.find("lock *(u64 *)"), std::string::npos) << ran.out;
  EXPECT_NE(ran.out.find("g_n ll"), std::string::npos) << ran.out;
}

TEST(Driver, ObjectsAreDeterministic) {
  std::string script =
      "global a; probe kernel.trace(\"raw_syscalls:sys_enter\") { a[execname()]++ }\n"
      "probe end { foreach (k in a- limit 5) printf(\"%s %d\\n\", k, a[k]) }";
  std::vector<std::vector<uint8_t>> objects;
  for (int i = 0; i < 2; ++i) {
    std::string path = testing::TempDir() + "/determinism" + std::to_string(i) + ".bo";
    driver::Ran ran;
    ASSERT_EQ((ran = driver::RunBtap({"-p4", "-o", path, "-e", script})).status, 0) << ran.err;
    std::ifstream file(path, std::ios::binary);
    objects.emplace_back((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  }
  EXPECT_FALSE(objects[0].empty());
  EXPECT_EQ(objects[0], objects[1]);
}

TEST(Driver, WhatCannotBeCompiledIsLocated) {
  driver::Ran ran;
  EXPECT_EQ(
      (ran = driver::RunBtap({"-p4", "-e", "probe begin {\n  if (\"ab\" =~ \"\\\\ba\") exit()\n}"}))
          .status,
      1);
  EXPECT_NE(ran.err.find("<input>:2:15: error: this regular expression cannot be compiled yet: "
                         "the assertion `\\b`"),
            std::string::npos)
      << ran.err;
}

TEST(Driver, BadLimitsAreRejected) {
  driver::Ran ran;
  EXPECT_EQ(
      (ran = driver::RunBtap({"-p4", "-D", "MAXSTRINGLEN=x", "-e", "probe begin { }"})).status, 1);
  EXPECT_NE(ran.err.find("-D MAXSTRINGLEN=x: expected a number"), std::string::npos) << ran.err;
}

}  // namespace
}  // namespace btap::driver

namespace btap::driver {
namespace {

// A wildcard's kernel functions share one program (attached with one multi-kprobe link)
// unless the body reads $vars, which differ per function.
TEST(Driver, WildcardKernelProbesShareOneProgram) {
  auto compile = [](const std::string& script, meta::Meta* meta) {
    std::string path = testing::TempDir() + "/kprobe_group.bo";
    driver::Ran ran;
    ASSERT_EQ((ran = driver::RunBtap({"-p4", "-o", path, "-e", script})).status, 0) << ran.err;
    std::ifstream file(path, std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)), {});
    std::string error;
    ASSERT_TRUE(runtime::ReadObjectMeta(bytes, meta, &error)) << error;
  };
  meta::Meta shared;
  compile("global n; probe kernel.function(\"vfs_read*\") { n[probefunc()]++ }", &shared);
  ASSERT_EQ(shared.probes.size(), 1u);
  EXPECT_EQ(shared.probes[0].family, static_cast<uint8_t>(meta::ProbeKind::Kprobe));
  EXPECT_EQ(shared.probes[0].point, "kernel.function(\"vfs_read*\")");
  EXPECT_EQ(shared.probes[0].target, "vfs_read\nvfs_readlink\nvfs_readv");
  EXPECT_EQ(shared.probes[0].numbers[1], 3);
  meta::Meta separate;
  compile("probe kernel.function(\"vfs_read*\") { printf(\"%s\\n\", $$parms) }", &separate);
  EXPECT_EQ(separate.probes.size(), 3u);
}

}  // namespace
}  // namespace btap::driver
