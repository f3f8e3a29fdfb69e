// The device a process("PATH") probe compares: the super block's, from mountinfo.
#include "runtime/load_facts.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace btap::runtime {
namespace {

TEST(LoadFacts, MountinfoDeviceIsTheMountsMajorMinor) {
  const char* text =
      "22 1 0:21 / /proc rw,nosuid shared:5 - proc proc rw\n"
      "25 1 8:2 / / rw,relatime shared:1 - ext4 /dev/sda2 rw\n"
      "97 25 0:44 /@home /home rw,relatime shared:40 - btrfs /dev/sdb1 rw,subvol=/@home\n";
  EXPECT_EQ(MountinfoDevice(text, 25), (uint64_t{8} << 20) | 2);
  EXPECT_EQ(MountinfoDevice(text, 97), (uint64_t{0} << 20) | 44);
  EXPECT_EQ(MountinfoDevice(text, 7), std::nullopt);
  EXPECT_EQ(MountinfoDevice("garbage\n\n1 2 x:y\n", 1), std::nullopt);
  EXPECT_EQ(MountinfoDevice("", 1), std::nullopt);
}

// On this machine's own files, through statx and /proc/self/mountinfo: procfs has one
// super block, so its device there is what stat() says; the root file system's differs.
TEST(LoadFacts, SuperblockDeviceOfRealFiles) {
  struct stat st;
  ASSERT_EQ(stat("/proc/version", &st), 0);
  uint64_t proc = SuperblockDevice("/proc/version", st);
  EXPECT_EQ(proc, (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev));
  ASSERT_EQ(stat("/", &st), 0);
  EXPECT_NE(SuperblockDevice("/", st), proc);
}

}  // namespace
}  // namespace btap::runtime
