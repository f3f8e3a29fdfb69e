// What the metadata tells the runtime to check where an object loads: the system calls the
// probes name (a kernel without one refuses the object) and which CO-RE reads sit under a
// load-time @defined (left out of the list of what a kernel lacks). Compiled for real, by
// the btap binary: LLVM's BPF member-access pass keeps globals of a module it has
// finished with, so a process that compiles the same kernel member twice can crash in it
// (the driver compiles once per process).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "runtime/object.h"
#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

meta::Meta MetaOf(const std::string& script) {
  std::string base = testing::TempDir() + "load_checks_" + std::to_string(getpid());
  std::ofstream(base + ".stp") << script << "\n";
  std::string command = std::string(BTAP_BINARY) + " -p4 --disable-cache -o " + base + ".bo " +
                        base + ".stp 2>" + base + ".err";
  EXPECT_EQ(std::system(command.c_str()), 0) << ReadAll(base + ".err");
  std::string bytes = ReadAll(base + ".bo");
  unlink((base + ".bo").c_str());
  unlink((base + ".stp").c_str());
  unlink((base + ".err").c_str());
  meta::Meta m;
  std::string error;
  std::vector<uint8_t> object(bytes.begin(), bytes.end());
  EXPECT_TRUE(runtime::ReadObjectMeta(object, &m, &error)) << error;
  return m;
}

std::vector<std::string> Syscalls(const std::string& script) {
  std::vector<std::string> names;
  for (const meta::NamedSyscall& s : MetaOf(script).syscalls) names.push_back(s.name);
  return names;
}

TEST(LoadChecks, SyscallsTheScriptNames) {
  using V = std::vector<std::string>;
  EXPECT_EQ(Syscalls("probe syscall.getppid, nd_syscall.getpid { }"), (V{"getppid", "getpid"}));
  EXPECT_EQ(Syscalls("probe syscall.getppid.return { }"), V{"getppid"});
  EXPECT_EQ(Syscalls("probe signal.syskill { }"), V{"kill"});  // through a tapset alias
  // A wildcard's matches and optional points at any level of the aliases name none.
  EXPECT_EQ(Syscalls("probe syscall.* { }"), V{});
  EXPECT_EQ(Syscalls("probe syscall.getppid ? { }"), V{});
  EXPECT_EQ(Syscalls("probe my.all = syscall.* { } probe my.all { }"), V{});
  EXPECT_EQ(Syscalls("probe my.two = syscall.getppid, syscall.getpid ? { } probe my.two { }"),
            V{"getppid"});
  meta::Meta m = MetaOf("probe begin { }\nprobe syscall.getppid { }");
  ASSERT_EQ(m.syscalls.size(), 1u);
  EXPECT_EQ(m.syscalls[0].point, "syscall.getppid");
  EXPECT_EQ(m.syscalls[0].where.substr(m.syscalls[0].where.rfind('/') + 1),
            "load_checks_" + std::to_string(getpid()) + ".stp:2:7");
}

// The reads of `task_struct` members in a tracepoint with a `$p` task, by whether a
// load-time @defined guards them.
std::map<std::string, bool> Guarded(const std::string& body) {
  std::map<std::string, bool> out;
  for (const meta::CoreSite& s :
       MetaOf("probe kernel.trace(\"sched:sched_process_exec\") {\n" + body + "\n}").core_sites)
    out[s.spec] = s.guarded;
  return out;
}

TEST(LoadChecks, ReadsUnderALoadTimeDefinedAreGuarded) {
  using M = std::map<std::string, bool>;
  EXPECT_EQ(Guarded("println($p->pid)"), (M{{"struct task_struct.pid", false}}));
  EXPECT_EQ(Guarded("if (@defined($p->tgid)) println($p->tgid)"),
            (M{{"struct task_struct.tgid", true}}));
  EXPECT_EQ(Guarded("println(@choose_defined($p->tgid, 0))"),
            (M{{"struct task_struct.tgid", true}}));
  EXPECT_EQ(Guarded("println(@defined($p->tgid) && $p->tgid > 0)"),
            (M{{"struct task_struct.tgid", true}}));
  EXPECT_EQ(Guarded("if (pid() > 0) { if (@defined($p->tgid)) println($p->tgid) }"),
            (M{{"struct task_struct.tgid", true}}));
  // A member read guarded once and unguarded once is named where it is unguarded.
  EXPECT_EQ(Guarded("if (@defined($p->tgid)) println($p->tgid)\nprintln($p->tgid)"),
            (M{{"struct task_struct.tgid", false}}));
}

}  // namespace
}  // namespace btap::driver
