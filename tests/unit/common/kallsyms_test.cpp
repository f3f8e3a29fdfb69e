// Reading kallsyms: text symbols of vmlinux by name, every copy, in the file's order.
#include "common/kallsyms.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <fstream>
#include <string>

namespace btap {
namespace {

TEST(Kallsyms, EveryCopyOfATextSymbol) {
  char path[] = "/tmp/btap-kallsyms-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << "ffffffff81000000 T _stext\n"
                         "ffffffff81200000 t s_show\n"
                         "ffffffff81300000 d s_show\n"  // data: not a function
                         "ffffffff81100000 t s_show\n"
                         "ffffffffc0001000 t s_show\t[loop]\n"  // a module's
                         "0000000000000000 t hidden_show\n"     // kptr_restrict
                         "ffffffff81400000 T vfs_read\n"
                         "garbage\n";
  KallsymsIndex index(path);
  unlink(path);
  EXPECT_EQ(index.Text("s_show"), (std::vector<uint64_t>{0xffffffff81200000, 0xffffffff81100000}));
  EXPECT_EQ(index.Text("vfs_read"), (std::vector<uint64_t>{0xffffffff81400000}));
  EXPECT_TRUE(index.Text("hidden_show").empty());
  EXPECT_EQ(index.Text("loop:s_show"), (std::vector<uint64_t>{0xffffffffc0001000}));
  EXPECT_TRUE(index.Text("nosuch").empty());
}

TEST(Kallsyms, RunningKernel) {
  if (geteuid() != 0) GTEST_SKIP() << "kallsyms addresses need root";
  EXPECT_EQ(KernelTextAddresses("vfs_read").size(), 1u);
}

}  // namespace
}  // namespace btap
