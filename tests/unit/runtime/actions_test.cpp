// system(), printk() and ftrace() records: the runtime runs the command, and writes the
// kernel log and the ftrace buffer, read back here from /dev/kmsg and tracefs.
#include "runtime/actions.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/tracefs.h"

namespace btap::runtime {
namespace {

std::string Unique(const char* what) {
  return std::string("btap-") + what + "-" + std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
}

TEST(Actions, SystemRunsTheCommandInTheBackground) {
  std::string file = testing::TempDir() + Unique("system");
  EXPECT_EQ(RunAction(record::Kind::System, "echo ran > " + file), "");
  std::string text;
  for (int i = 0; i < 100 && text.empty(); ++i) {  // it runs on after RunAction returns
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::ifstream in(file);
    std::getline(in, text);
  }
  EXPECT_EQ(text, "ran");
  unlink(file.c_str());
}

TEST(Actions, PrintkWritesTheKernelLog) {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0) << "needs root";
  lseek(fd, 0, SEEK_END);  // only what comes next
  std::string text = Unique("printk");
  EXPECT_EQ(RunAction(record::Kind::Printk, "<6>" + text), "");
  bool found = false;
  char buf[8192];
  for (ssize_t n; !found && (n = read(fd, buf, sizeof buf)) > 0;) {
    std::string record(buf, n);  // "PRIORITY,SEQ,TIME,-;TEXT": the user facility, level 6
    found =
        std::atoi(record.c_str()) % 8 == 6 && record.find(";" + text + "\n") != std::string::npos;
  }
  close(fd);
  EXPECT_TRUE(found);
}

TEST(Actions, PrintkAtAnotherLevelTakesTheDefaultOne) {
  int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
  ASSERT_GE(fd, 0) << "needs root";
  lseek(fd, 0, SEEK_END);
  std::string text = Unique("printk-level");
  // printk(9, "<1>...") as the record formats it: the text's "<1>" is not a level.
  EXPECT_EQ(RunAction(record::Kind::Printk, "<9><1>" + text), "");
  std::ifstream levels("/proc/sys/kernel/printk");
  int current = 0, fallback = 4;
  levels >> current >> fallback;
  bool found = false;
  char buf[8192];
  for (ssize_t n; !found && (n = read(fd, buf, sizeof buf)) > 0;) {
    std::string record(buf, n);
    found = std::atoi(record.c_str()) % 8 == fallback &&
            record.find(";<1>" + text + "\n") != std::string::npos;
  }
  close(fd);
  EXPECT_TRUE(found);
}

TEST(Actions, FtraceWritesTheTraceBuffer) {
  std::string root = FindTracefs();
  ASSERT_FALSE(root.empty());
  std::string text = Unique("ftrace");
  EXPECT_EQ(RunAction(record::Kind::Ftrace, text), "");
  std::ifstream trace(root + "/trace");
  std::stringstream all;
  all << trace.rdbuf();
  EXPECT_NE(all.str().find(text), std::string::npos);
}

}  // namespace
}  // namespace btap::runtime
