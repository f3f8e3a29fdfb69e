// Which kernel-function handlers get an fentry/fexit copy (codegen/lower_fentry.cpp): those
// whose only use of the kprobe's context is reading the function's arguments (or its
// return value), compiled here for real and read back from the object.
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "runtime/object.h"
#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

struct Compiled {
  meta::Meta meta;
  std::vector<std::string> sections;
};

Compiled Compile(const std::string& script) {
  std::string path = testing::TempDir() + "fentry_test_" + std::to_string(getpid()) + ".bo";
  Ran r = RunBtap({"-p4", "--disable-cache", "-o", path, "-e", script});
  EXPECT_EQ(r.status, 0) << r.err;
  std::string bytes = ReadAll(path);
  unlink(path.c_str());
  Compiled c;
  std::string error;
  std::vector<uint8_t> object(bytes.begin(), bytes.end());
  EXPECT_TRUE(runtime::ReadObjectMeta(object, &c.meta, &error)) << error;
  if (bpf_object* o = bpf_object__open_mem(object.data(), object.size(), nullptr)) {
    bpf_program* p;
    bpf_object__for_each_program(p, o) c.sections.push_back(bpf_program__section_name(p));
    bpf_object__close(o);
  }
  return c;
}

std::string FentryOf(const std::string& script) {
  Compiled c = Compile(script);
  return c.meta.probes.empty() ? "?" : c.meta.probes[0].fentry_program;
}

TEST(Fentry, ArgumentsAndReturnValuesHaveACopy) {
  Compiled c = Compile(R"(probe kernel.function("vfs_read") { printf("%d\n", $count) })");
  ASSERT_EQ(c.meta.probes.size(), 1u);
  EXPECT_FALSE(c.meta.probes[0].fentry_program.empty());
  EXPECT_NE(std::find(c.sections.begin(), c.sections.end(), "fentry/vfs_read"), c.sections.end());
  Compiled r = Compile(R"(probe kernel.function("vfs_read").return { printf("%d\n", $return) })");
  ASSERT_FALSE(r.meta.probes.empty());
  EXPECT_FALSE(r.meta.probes[0].fentry_program.empty());
  EXPECT_NE(std::find(r.sections.begin(), r.sections.end(), "fexit/vfs_read"), r.sections.end());
  // Members read through CO-RE and no context at all are fine too.
  EXPECT_NE(FentryOf(R"(probe kernel.function("vfs_read") { printf("%d\n", $file->f_flags) })"),
            "");
  EXPECT_NE(FentryOf(R"(probe kernel.function("vfs_read") { printf("%s\n", execname()) })"), "");
}

TEST(Fentry, HandlersThatNeedTheKprobeHaveNone) {
  // A stack, another register, an @entry value, a wildcard's shared program, kprobe.*.
  EXPECT_EQ(FentryOf(R"(probe kernel.function("vfs_read") { print_backtrace() })"), "");
  EXPECT_EQ(FentryOf(R"(probe kernel.function("vfs_read") { printf("%d\n", register("rip")) })"),
            "");
  EXPECT_EQ(FentryOf(R"(probe kernel.function("vfs_read").return { printf("%d\n", $count) })"), "");
  EXPECT_EQ(FentryOf(R"(probe kernel.function("vfs_read") { printf("%d\n", int_arg(5)) })"), "");
  EXPECT_EQ(FentryOf(R"(probe kprobe.function("vfs_read") { printf("%d\n", int_arg(1)) })"), "");
  Compiled w = Compile(R"(probe kernel.function("vfs_read*") { printf("%s\n", ppfunc()) })");
  for (const meta::Probe& p : w.meta.probes) EXPECT_EQ(p.fentry_program, "") << p.point;
}

}  // namespace
}  // namespace btap::driver
