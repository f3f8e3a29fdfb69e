// The device a process("PATH") probe compares (the super block's, from mountinfo), and
// the seeding of btap_exe_procs (process("PATH").end on kernels without group_dead) with
// the processes running at attach: a real hash map and a real child process, which
// leaves, or execs, between the look at its file and the insert.
#include "runtime/load_facts.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace btap::runtime {
namespace {

// The test binary's file as bit 5 (a forked child runs it too).
std::vector<ExeFile> OwnFile() {
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0) return {};
  return {{5, st.st_ino, SuperblockDevice(AT_FDCWD, "/proc/self/exe", st)}};
}

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
  uint64_t proc = SuperblockDevice(AT_FDCWD, "/proc/version", st);
  EXPECT_EQ(proc, (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev));
  ASSERT_EQ(stat("/", &st), 0);
  uint64_t root = SuperblockDevice(AT_FDCWD, "/", st);
  EXPECT_NE(root, proc);
  // The root's comes from mountinfo, not stat(): the last line mounted on "/" (field 5)
  // has it as its major:minor (field 3).
  std::ifstream in("/proc/self/mountinfo");
  std::string line, expected;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, dev, root_dir, mount_point;
    if (fields >> id >> parent >> dev >> root_dir >> mount_point && mount_point == "/")
      expected = dev;
  }
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(std::to_string(root >> 20) + ":" + std::to_string(root & 0xfffff), expected);
}

// A file of a process in another mount namespace, on a mount btap's namespace does not
// have: its device comes from that process's own mountinfo (the mount id is in it, not in
// ours). The child makes a namespace, mounts a tmpfs and works in it. (A tmpfs's stat()
// and super block agree, so the last check alone could not tell the lookup from the
// fallback; the two before it show the mount is found only where the function looks.)
TEST(LoadFacts, SuperblockDeviceInAnotherMountNamespace) {
  char dir[] = "/tmp/btap_ns_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    char ok = 0;
    if (unshare(CLONE_NEWNS) == 0 &&
        mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
        mount("tmpfs", dir, "tmpfs", 0, nullptr) == 0 && chdir(dir) == 0)
      ok = 1;
    (void)!write(ready[1], &ok, 1);
    pause();
    _exit(0);
  }
  close(ready[1]);
  char ok = 0;
  ASSERT_EQ(read(ready[0], &ok, 1), 1);
  close(ready[0]);
  std::string proc = "/proc/" + std::to_string(child);
  int proc_dir = open(proc.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct stat st;
  struct statx stx;
  bool looked = ok && proc_dir >= 0 && fstatat(proc_dir, "cwd", &st, 0) == 0 &&
                statx(proc_dir, "cwd", 0, STATX_MNT_ID, &stx) == 0 && (stx.stx_mask & STATX_MNT_ID);
  uint64_t dev = looked ? SuperblockDevice(proc_dir, "cwd", st, proc_dir) : 0;
  std::ifstream ours_in("/proc/self/mountinfo"), theirs_in(proc + "/mountinfo");
  std::stringstream ours, theirs;
  ours << ours_in.rdbuf();
  theirs << theirs_in.rdbuf();
  if (proc_dir >= 0) close(proc_dir);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  rmdir(dir);
  ASSERT_TRUE(ok) << "the child could not make a mount namespace with a tmpfs";
  ASSERT_TRUE(looked);
  uint64_t tmpfs = (static_cast<uint64_t>(major(st.st_dev)) << 20) | minor(st.st_dev);
  EXPECT_EQ(MountinfoDevice(ours.str(), stx.stx_mnt_id), std::nullopt);
  EXPECT_EQ(MountinfoDevice(theirs.str(), stx.stx_mnt_id), tmpfs);
  EXPECT_EQ(dev, tmpfs);
}

class ExeProcs : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "BPF maps need root";
    map_ = bpf_map_create(BPF_MAP_TYPE_HASH, "btap_exe_procs", 4, 8, 16, nullptr);
    if (map_ < 0) GTEST_SKIP() << "cannot create a BPF map here";
    files_ = OwnFile();
    ASSERT_FALSE(files_.empty());
    int go[2];
    ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
    child_ = fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      // Waits; told to, runs sleep (a file of none of the probes).
      char c;
      close(go[1]);
      if (read(go[0], &c, 1) == 1) execl("/bin/sleep", "sleep", "100", nullptr);
      _exit(0);
    }
    close(go[0]);
    go_ = go[1];
    dir_ = open(("/proc/" + std::to_string(child_)).c_str(), O_RDONLY | O_DIRECTORY);
    ASSERT_GE(dir_, 0);
  }
  void TearDown() override {
    if (dir_ >= 0) close(dir_);
    if (go_ >= 0) close(go_);
    if (child_ > 0 && !reaped_) {
      kill(child_, SIGKILL);
      waitpid(child_, nullptr, 0);
    }
    if (map_ >= 0) close(map_);
  }
  // The child's entry, or -1 when there is none.
  int64_t Entry() const {
    auto key = static_cast<uint32_t>(child_);
    uint64_t bits = 0;
    return bpf_map_lookup_elem(map_, &key, &bits) == 0 ? static_cast<int64_t>(bits) : -1;
  }
  void Seed(const std::function<void()>& before_insert = {}) {
    AddRunningProcess(map_, dir_, static_cast<uint32_t>(child_), files_, before_insert);
  }
  int map_ = -1, dir_ = -1, go_ = -1;
  pid_t child_ = -1;
  bool reaped_ = false;
  std::vector<ExeFile> files_;
};

TEST_F(ExeProcs, AddsARunningProcessOfTheFile) {
  Seed();
  EXPECT_EQ(Entry(), 1 << 5);
}

TEST_F(ExeProcs, LeavesOutAProcessOfAnotherFile) {
  files_[0].ino ^= 1;
  Seed();
  EXPECT_EQ(Entry(), -1);
}

TEST_F(ExeProcs, KeepsWhatTheProgramsRecorded) {
  auto key = static_cast<uint32_t>(child_);
  uint64_t recorded = 1 << 2;
  ASSERT_EQ(bpf_map_update_elem(map_, &key, &recorded, BPF_ANY), 0);
  Seed();
  EXPECT_EQ(Entry(), 1 << 2);
}

// It left (a zombie: past sched_process_exit, whose program already removed nothing)
// before its entry was added: the entry must not stay for a later process with its pid.
TEST_F(ExeProcs, DropsAProcessThatLeftBeforeTheInsert) {
  Seed([&] {
    kill(child_, SIGKILL);
    siginfo_t info{};
    waitid(P_PID, static_cast<id_t>(child_), &info, WEXITED | WNOWAIT);
  });
  EXPECT_EQ(Entry(), -1);
}

// The same once it was reaped (its pid free for another process).
TEST_F(ExeProcs, DropsAProcessReapedBeforeTheInsert) {
  Seed([&] {
    kill(child_, SIGKILL);
    waitpid(child_, nullptr, 0);
    reaped_ = true;
  });
  EXPECT_EQ(Entry(), -1);
}

// It exec'd a file of none of the probes (track_exe_exec removed nothing yet).
TEST_F(ExeProcs, DropsAProcessThatExecdAnotherFileBeforeTheInsert) {
  Seed([&] {
    ASSERT_EQ(write(go_, "g", 1), 1);
    // Until /proc/PID/exe is sleep's.
    struct stat st;
    for (int i = 0; i < 5000; i++) {
      if (fstatat(dir_, "exe", &st, 0) == 0 && st.st_ino != files_[0].ino) return;
      usleep(1000);
    }
    FAIL() << "the child did not exec /bin/sleep";
  });
  EXPECT_EQ(Entry(), -1);
}

}  // namespace
}  // namespace btap::runtime
