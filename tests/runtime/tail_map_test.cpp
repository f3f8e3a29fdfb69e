// A session whose syscall bodies are reached by tail call (program arrays that the
// runtime fills after loading) leaves none of its program arrays in the kernel, however it
// ends: exit(), -T, SIGINT, SIGTERM or SIGHUP once attached, SIGINT while the programs
// load, SIGKILL. A program array and its programs refer to each other; the kernel breaks
// that cycle by emptying the array when its last user descriptor closes, which only works
// if the runtime holds no other reference and puts nothing in the array afterwards.
// The arrays are taken from the running session's /proc fdinfo (map_type 3) and counted
// afterwards by id, never opened (docs/runtime.md says why).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/bpf_objects.h"
#include "tests/runtime/work_dir.h"

namespace btap {
namespace {

constexpr int kProgArray = 3;  // BPF_MAP_TYPE_PROG_ARRAY

struct Ending {
  const char* name;
  bool btaprun;         // run the compiled object with btaprun (else btap the script)
  const char* mode;     // the script's $1: "exit" ends it from a timer, "wait" runs on
  const char* timeout;  // -T SECONDS, or nullptr
  int signal;           // sent once the session is attached (or loading), 0: none
  bool while_loading;   // the signal goes as soon as the arrays exist
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(RuntimeTailMaps, NoneOutliveTheSession) {
  namespace fs = std::filesystem;
  std::string dir = RuntimeWorkDir() + "/tail_map_test";
  fs::create_directories(dir);
  std::string script = dir + "/session.stp";
  // Three heavy bodies on getppid and two on getpid: a dispatcher on raw_syscalls that
  // reaches them by tail call, with a chain from body to body.
  std::ofstream out(script);
  int body = 0;
  for (const char* call : {"getppid", "getppid", "getppid", "getpid", "getpid"})
    out << "probe kernel.trace(\"syscalls:sys_enter_" << call << "\") { if (pid() != target()) "
        << "next; s = sprintf(\"%s-%d\", execname(), " << ++body
        << "); printf(\"%d %s\\n\", strlen(s), "
        << "str_replace(s, \"-\", \"+\")) }\n";
  out << "probe timer.ms(300) { if (@1 == \"exit\") exit() }\n";
  out.close();
  // btaprun runs an object compiled with the script's argument.
  for (const char* mode : {"exit", "wait"})
    ASSERT_EQ(std::system((std::string(BTAP_BINARY) + " -p4 -o " + dir + "/" + mode + ".bo " +
                           script + " " + mode + " >/dev/null")
                              .c_str()),
              0);

  const Ending endings[] = {
      {"exit()", true, "exit", nullptr, 0, false},
      {"exit() under btap", false, "exit", nullptr, 0, false},
      {"-T", true, "wait", "1", 0, false},
      {"SIGINT", true, "wait", nullptr, SIGINT, false},
      {"SIGTERM", false, "wait", nullptr, SIGTERM, false},
      {"SIGHUP", true, "wait", nullptr, SIGHUP, false},
      {"SIGINT while loading", true, "wait", nullptr, SIGINT, true},
      {"SIGKILL", true, "wait", nullptr, SIGKILL, false},
  };
  for (const Ending& e : endings) {
    std::string err = dir + "/stderr";
    pid_t pid = fork();
    if (pid == 0) {
      // The stop signals as a terminal's session has them (a test run under nohup ignores
      // SIGHUP, which the session then keeps ignoring, as staprun does).
      for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) signal(sig, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      FILE* o = freopen("/dev/null", "w", stdout);
      FILE* r = freopen(err.c_str(), "w", stderr);
      if (!o || !r) _exit(126);
      std::vector<std::string> args = {e.btaprun ? BTAPRUN_BINARY : BTAP_BINARY,
                                       e.btaprun ? "-v" : "-vv"};  // (each says `attached`)
      if (e.timeout) args.insert(args.end(), {"-T", e.timeout});
      if (e.btaprun) {
        args.push_back(dir + "/" + e.mode + ".bo");
      } else {
        args.push_back(script);
        args.push_back(e.mode);
      }
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    // The session's program arrays, from the moment they exist (before the programs load);
    // with a signal, sent while loading or once the probes are attached.
    BpfIds arrays;
    bool signalled = false, attached = false;
    int status = 0;
    auto start = std::chrono::steady_clock::now();
    while (waitpid(pid, &status, WNOHANG) == 0) {
      BpfIds now = HeldByDescriptors(pid, kProgArray);
      for (long id : now["map"]) arrays["map"].insert(id);
      attached = attached || ReadFile(err).find("attached `") != std::string::npos;
      if (e.signal && !signalled && !arrays["map"].empty() && (e.while_loading || attached)) {
        kill(pid, e.signal);
        signalled = true;
      }
      if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        FAIL() << e.name << ": the session did not end; its standard error:\n" << ReadFile(err);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    EXPECT_FALSE(arrays["map"].empty())
        << e.name << ": the session held no program array; its standard error:\n"
        << ReadFile(err);
    if (e.signal) EXPECT_TRUE(signalled) << e.name << ": the session ended before the signal";
    if (e.signal != SIGKILL)
      EXPECT_TRUE(WIFEXITED(status)) << e.name << ": ended by signal " << WTERMSIG(status);
    if (!e.signal) EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << e.name;
    // The kernel empties and frees them shortly after the last descriptor closes.
    std::string left;
    for (int wait = 0; wait < 100; ++wait) {
      left = StillInKernel(arrays);
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(left, "") << e.name << ": program arrays still in the kernel 5 s after the session";
  }
}

}  // namespace
}  // namespace btap
