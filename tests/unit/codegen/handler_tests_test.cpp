// The tests a kernel handler makes before its body (lower.cpp): the session's state, the
// call's being native for syscalls:* points, the -c/-x target's tree for uprobes. A
// handler that does nothing makes none of them (and needs no tree).
#include <gtest/gtest.h>

#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

// The text of one program's instructions in `--dump=bpf-asm` output, up to its size line.
std::string Program(const std::string& out, const std::string& name) {
  size_t at = out.find("\n" + name + ":\n");
  if (at == std::string::npos) return "";
  return out.substr(at, out.find(".size\t" + name, at) - at);
}

TEST(HandlerTests, EmptySyscallHandlerTestsNothing) {
  Ran empty = RunBtap(
      {"-p3", "--dump=bpf-asm", "-e", R"(probe kernel.trace("syscalls:sys_enter_getppid") { })"});
  ASSERT_EQ(empty.status, 0) << empty.err;
  std::string program = Program(empty.out, "syscall_enter");
  ASSERT_FALSE(program.empty()) << empty.out;
  EXPECT_EQ(program.find("\tcall "), std::string::npos) << program;
  EXPECT_EQ(program.find("__btap_exiting"), std::string::npos) << program;
  // With a body, the session's state and the native call (task's status: helper 158).
  Ran counter = RunBtap({"-p3", "--dump=bpf-asm", "-e",
                         R"(global n; probe kernel.trace("syscalls:sys_enter_getppid") { n++ })"});
  ASSERT_EQ(counter.status, 0) << counter.err;
  program = Program(counter.out, "syscall_enter");
  EXPECT_NE(program.find("call 158"), std::string::npos) << program;
  EXPECT_NE(program.find("__btap_exiting"), std::string::npos) << program;
}

TEST(HandlerTests, EmptyUprobeHandlerAsksNoProcess) {
  std::string point =
      "process(\"" + std::string(BTAP_WORKLOAD) + "\").function(\"btap_bench_call\")";
  Ran empty = RunBtap({"-p3", "--dump=bpf-asm", "-e", "probe " + point + " { }"});
  ASSERT_EQ(empty.status, 0) << empty.err;
  std::string program = Program(empty.out, "probe_0");
  ASSERT_FALSE(program.empty()) << empty.out;
  EXPECT_EQ(program.find("\tcall "), std::string::npos) << program;
  // Nor the tree's map and its tracker on sched_process_fork, which nothing would read.
  EXPECT_EQ(empty.out.find("track_target_tree"), std::string::npos) << empty.out;
  EXPECT_EQ(empty.out.find("btap_target_tree"), std::string::npos) << empty.out;
  Ran counter = RunBtap({"-p3", "--dump=bpf-asm", "-e", "global n; probe " + point + " { n++ }"});
  ASSERT_EQ(counter.status, 0) << counter.err;
  program = Program(counter.out, "probe_0");
  EXPECT_NE(program.find("call 14"), std::string::npos) << program;  // get_current_pid_tgid
  EXPECT_NE(program.find("btap_target_tree"), std::string::npos) << program;
  EXPECT_NE(Program(counter.out, "track_target_tree"), "") << counter.out;
}

}  // namespace
}  // namespace btap::driver
