// Syscall dispatch bodies that compute the same, or the same but for the integer
// constants they store (merge_bodies.cpp), are one function: the BPF backend emits their
// instructions once. Compiled by the btap binary, one script per process: LLVM 16's BPF
// member-access pass keeps globals of a module it has finished with across compiles.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "tests/unit/driver/run_btap.h"

namespace btap::driver {
namespace {

// The script's BPF instructions (`--dump=bpf-asm`).
std::string Assembly(const std::string& script) {
  std::string base = testing::TempDir() + "syscall_bodies_" + std::to_string(getpid());
  std::ofstream(base + ".stp") << script << "\n";
  std::string command = std::string(BTAP_BINARY) + " -p3 --dump=bpf-asm " + base + ".stp >" + base +
                        ".out 2>" + base + ".err";
  EXPECT_EQ(std::system(command.c_str()), 0) << ReadAll(base + ".err");
  std::string out = ReadAll(base + ".out");
  for (const char* ext : {".stp", ".out", ".err"}) unlink((base + ext).c_str());
  return out;
}

size_t Count(const std::string& text, std::string_view what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// A probe on syscalls:sys_enter_NAME counting under `key` and printing `line`.
std::string Probe(const std::string& name, const std::string& key, const std::string& line) {
  return "probe kernel.trace(\"syscalls:sys_enter_" + name + "\") {\n  c[" + key +
         "]++\n  printf(\"%s\\n\", \"" + line + "\")\n}\n";
}

// bpf_map_update_elem (helper 2, "call 2\n") is once per emitted body.
TEST(SyscallBodies, IdenticalBodiesAreOne) {
  std::string shared =
      Assembly(R"(global c; probe kernel.trace("syscalls:sys_enter_get*") { c[execname()]++ })");
  EXPECT_EQ(Count(shared, "call 2\n"), 1u) << shared;
}

TEST(SyscallBodies, BodiesDifferingInStoredConstantsAreOne) {
  const char* names[] = {"getppid", "getpid", "getuid", "getgid", "gettid", "getegid"};
  // A key word and the format id: arguments of the call.
  std::string few = "global c\n";
  for (const char* name : names) few += Probe(name, std::string("\"") + name + "\"", name);
  std::string out = Assembly(few);
  EXPECT_EQ(Count(out, "call 2\n"), 1u) << out;
  // Five words of key and the format id: a row of .rodata the call points to.
  std::string many = "global c\n";
  for (const char* name : names)
    many += Probe(name, std::string("\"a_name_of_thirty_bytes_for_") + name + "\"", name);
  out = Assembly(many);
  EXPECT_EQ(Count(out, "call 2\n"), 1u) << out;
  // pn()'s text, a literal of .rodata per point copied into the key: an argument too.
  out = Assembly(R"(global c; probe kernel.trace("syscalls:sys_enter_get*") { c[pn()]++ })");
  EXPECT_EQ(Count(out, "call 2\n"), 1u) << out;
}

TEST(SyscallBodies, BodiesDifferingOtherwiseStayApart) {
  // An added constant is not a stored one: two bodies.
  std::string out = Assembly(R"(global c
probe kernel.trace("syscalls:sys_enter_getppid") { c["x"] += 1 }
probe kernel.trace("syscalls:sys_enter_getpid") { c["x"] += 2 })");
  EXPECT_EQ(Count(out, "call 2\n"), 2u) << out;
}

// A dispatcher with few numbers and a body mapped for compat calls: the machine's other
// calls leave after the number's compares, before the compat test (the task helper, 158),
// and a body reading its arguments shares the dispatcher's test (lower_syscall.cpp,
// DispatchNumber). Where the kernel's BTF cannot tell compat calls apart there is no test.
TEST(SyscallBodies, CompatTestOnlyForMatchedNumbersAndOnce) {
  std::string out = Assembly("global n\nprobe syscall.read { n += count }");
  size_t at = out.find("\nsyscall_enter:\n");
  ASSERT_NE(at, std::string::npos) << out;
  std::string program = out.substr(at, out.find(".size\tsyscall_enter", at) - at);
  if (Count(program, "call 158") == 0) GTEST_SKIP() << "no compat test on this kernel";
  EXPECT_EQ(Count(program, "call 158"), 1u) << program;
  size_t first_call = program.find("call ");
  size_t compare = program.find("if r");
  ASSERT_NE(compare, std::string::npos) << program;
  EXPECT_LT(compare, first_call) << program;
  // The leaving path: a compare on the raw number, then `exit` before any call.
  EXPECT_LT(program.find("exit"), first_call) << program;
}

}  // namespace
}  // namespace btap::driver
