// Sessions against this machine's kernel: records that do not fit the ring buffer are
// counted, not dropped silently.
#include "runtime/session.h"

#include <gtest/gtest.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tests/unit/driver/run_btap.h"
#include "tools/btap/driver.h"

namespace btap::runtime {
namespace {

std::vector<uint8_t> Compile(const std::vector<std::string>& args) {
  std::string path = testing::TempDir() + "/session_test.bo";
  std::vector<std::string> argv = {"-p4", "-o", path};
  argv.insert(argv.end(), args.begin(), args.end());
  driver::Ran ran;
  EXPECT_EQ((ran = driver::RunBtap(argv)).status, 0) << ran.err;
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// A tick of the load's SIGALRM timer that a thread holds pending (it blocks SIGALRM) when
// the timer stops is discarded, not delivered to the default disposition once unblocked
// (which would end the process). In a child, which such a death would end.
TEST(Session, PendingAlarmTickIsDiscardedWithTheTimer) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sigset_t alarm, was;
    sigemptyset(&alarm);
    sigaddset(&alarm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alarm, &was);
    struct sigaction quiet {
    }, old{};
    quiet.sa_handler = [](int) {};
    sigaction(SIGALRM, &quiet, &old);  // old: the default
    itimerval every{{0, 1000}, {0, 1000}};
    setitimer(ITIMER_REAL, &every, nullptr);
    sigset_t pending;
    for (int i = 0; i < 1000; ++i) {
      sigpending(&pending);
      if (sigismember(&pending, SIGALRM)) break;
      usleep(1000);
    }
    if (!sigismember(&pending, SIGALRM)) _exit(2);
    StopAlarmTicks(old);
    sigprocmask(SIG_SETMASK, &was, nullptr);
    usleep(20000);
    itimerval now{};
    getitimer(ITIMER_REAL, &now);
    _exit(now.it_value.tv_sec || now.it_value.tv_usec ? 3 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST(Session, LostRecordsAreCounted) {
  if (!std::filesystem::exists("/sys/kernel/tracing/events/syscalls/sys_enter_getppid"))
    GTEST_SKIP() << "no syscalls:sys_enter_getppid tracepoint";
  // A one-page ring buffer that nobody reads while the probe writes 2,000 records.
  std::vector<uint8_t> object =
      Compile({"-D", "BTAP_RINGBUF_BYTES=4096", "-e",
               "probe kernel.trace(\"syscalls:sys_enter_getppid\") { if (pid() == " +
                   std::to_string(getpid()) + ") printf(\"%d %s\\n\", pid(), execname()) }"});
  Session session;
  std::string error;
  ASSERT_TRUE(session.Open(std::move(object), &error)) << error;
  ASSERT_TRUE(session.Load(&error)) << error;
  ASSERT_TRUE(session.Attach(&error)) << error;
  EXPECT_EQ(session.lost(), 0u);
  for (int i = 0; i < 2000; ++i) getppid();
  // A record is 8 + 8 + 4 + 16 bytes padded, plus the ring's 8-byte header: 100 fit.
  EXPECT_GT(session.lost(), 1800u);
  EXPECT_LT(session.lost(), 2000u);
}

}  // namespace
}  // namespace btap::runtime
