// Sessions against this machine's kernel: records that do not fit the ring buffer are
// counted, not dropped silently.
#include "runtime/session.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "tools/btap/driver.h"

namespace btap::runtime {
namespace {

std::vector<uint8_t> Compile(const std::vector<std::string>& args) {
  std::string path = testing::TempDir() + "/session_test.bo";
  std::vector<std::string> argv = {"-p4", "-o", path};
  argv.insert(argv.end(), args.begin(), args.end());
  std::istringstream in;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run(argv, in, out, err), 0) << err.str();
  std::ifstream file(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
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
