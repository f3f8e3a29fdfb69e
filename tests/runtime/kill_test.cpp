// SIGKILL of btap or btaprun at any moment (compiling, loading, attaching, running)
// leaves nothing of the session in the kernel: every program, map and link is held by a
// descriptor of the process, so the kernel drops them with it. Checked with /proc and the
// kernel's object ids.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/bpf_objects.h"
#include "tests/runtime/work_dir.h"

namespace btap {
namespace {

// Each kill stops the session first (SIGSTOP) and takes what it holds from its
// descriptors' /proc fdinfo (map_id, prog_id, link_id), with the maps its programs use;
// then SIGKILL, and every one of those objects must go. Only the killed session's objects
// count: others' come and go meanwhile (tests, benchmarks run beside this one). Maps are
// counted by id, never opened (bpftool's listing opens every map of the machine, and
// closing a program array that way just after its owner has gone makes the kernel keep it
// for good: docs/runtime.md).
BpfIds Held(pid_t pid) {
  BpfIds held = HeldByDescriptors(pid);
  if (!held.count("prog")) return held;
  std::set<long> used = MapsOfPrograms(held["prog"]);
  held["map"].insert(used.begin(), used.end());
  return held;
}

// Which of a killed process's objects the kernel still has.
std::string Leftovers(const BpfIds& held) {
  std::string found = StillInKernel(held);
  // Uprobes made through tracefs (libbpf's legacy path) would stay as events.
  std::ifstream events("/sys/kernel/tracing/uprobe_events");
  std::string line;
  while (std::getline(events, line))
    if (line.find("libbpf_") != std::string::npos) found += "uprobe event " + line + "; ";
  return found;
}

TEST(RuntimeKill, NothingStaysAttached) {
  namespace fs = std::filesystem;
  std::string dir = RuntimeWorkDir() + "/kill_test";
  fs::create_directories(dir);
  std::string script = dir + "/session.stp";
  // A tracepoint, the syscall dispatcher, a uprobe, a perf event and a user-side timer.
  std::ofstream(script) << "global n\n"
                        << "probe kernel.trace(\"raw_syscalls:sys_enter\") { n++ }\n"
                        << "probe syscall.getppid { n++ }\n"
                        << "probe process(\"" << BTAP_WORKLOAD
                        << "\").function(\"btap_bench_call\")"
                        << " { n++ }\n"
                        << "probe timer.profile { n++ }\n"
                        << "probe timer.ms(10) { printf(\"%d\\n\", n) }\n";
  std::string object = dir + "/session.bo";
  ASSERT_EQ(
      std::system(
          (std::string(BTAP_BINARY) + " -p4 -o " + object + " " + script + " >/dev/null").c_str()),
      0);
  std::mt19937 random(20261204);
  std::uniform_int_distribution<int> delay_ms(0, 1500);
  int rounds_holding = 0;  // rounds killed with objects in the kernel
  for (int round = 0; round < 24; ++round) {
    bool runner = round % 3 == 2;  // every third round kills btaprun
    int delay = delay_ms(random);
    pid_t pid = fork();
    if (pid == 0) {
      FILE* o = freopen("/dev/null", "w", stdout);
      FILE* e = freopen("/dev/null", "w", stderr);
      if (!o || !e) _exit(126);
      if (runner)
        execl(BTAPRUN_BINARY, BTAPRUN_BINARY, object.c_str(), static_cast<char*>(nullptr));
      else
        execl(BTAP_BINARY, BTAP_BINARY, script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    kill(pid, SIGSTOP);  // (a bpf() call under way completes first)
    int status = 0;
    BpfIds held;
    if (waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status)) held = Held(pid);
    rounds_holding += !held.empty();
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    // The kernel frees what the descriptors held shortly after the process is gone.
    std::string left;
    for (int wait = 0; wait < 100; ++wait) {
      left = Leftovers(held);
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(left, "") << (runner ? "btaprun" : "btap") << " killed after " << delay << " ms";
  }
  EXPECT_GT(rounds_holding, 0) << "no session was killed while it held objects";
}

}  // namespace
}  // namespace btap
