// Attaching uprobes checks that the probed file is the one the object was compiled for
// (its GNU build id), and absolute kernel addresses that the kernel is, before anything
// reaches the kernel; and that the kernel has the system calls the object's probes name.
#include "runtime/attach/attach.h"
#include "runtime/attach/module_watch.h"

#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "common/build_id.h"
#include "runtime/core_relocations.h"
#include "tests/unit/driver/run_btap.h"
#include "tools/btap/driver.h"

namespace btap::runtime {
namespace {

TEST(AttachUprobe, ReadsBuildIds) {
  std::string id = FileBuildId(BTAP_UPROBE_TARGET_O0);
  EXPECT_EQ(id.size(), 40u) << id;  // SHA-1
  EXPECT_NE(id, FileBuildId(BTAP_UPROBE_TARGET_O2));
  EXPECT_EQ(FileBuildId("/nonexistent"), "");
  EXPECT_EQ(FileBuildId(BTAP_SOURCE_DIR "/README.md"), "");
}

TEST(AttachUprobe, RefusesAFileThatChanged) {
  meta::Probe probe;
  probe.point = "process(\"x\").function(\"f\")";
  probe.family = static_cast<uint8_t>(meta::ProbeKind::Uprobe);
  probe.target = BTAP_UPROBE_TARGET_O0;
  probe.build_id = FileBuildId(BTAP_UPROBE_TARGET_O2);  // compiled for the other build
  std::vector<bpf_link*> links;
  std::vector<int> link_fds;
  std::string error;
  EXPECT_FALSE(AttachUprobe(nullptr, probe, links, link_fds, &error));
  EXPECT_NE(error.find("is not the file the script was compiled for"), std::string::npos) << error;
  EXPECT_TRUE(links.empty());
}

// With no descriptor left, the build id cannot be read: the error says so, not that the
// file has none.
TEST(AttachUprobe, SaysWhenDescriptorsRunOut) {
  meta::Probe probe;
  probe.point = "process(\"x\").function(\"f\")";
  probe.family = static_cast<uint8_t>(meta::ProbeKind::Uprobe);
  probe.target = BTAP_UPROBE_TARGET_O0;
  probe.build_id = FileBuildId(BTAP_UPROBE_TARGET_O0);
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  int lowest = dup(0);  // the lowest free descriptor: a limit there leaves none free
  ASSERT_GE(lowest, 0);
  close(lowest);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(lowest);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<bpf_link*> links;
  std::vector<int> link_fds;
  std::string error;
  bool attached = AttachUprobe(nullptr, probe, links, link_fds, &error);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &old), 0);
  EXPECT_FALSE(attached);
  EXPECT_NE(error.find(std::strerror(EMFILE)), std::string::npos) << error;
  EXPECT_NE(error.find("RLIMIT_NOFILE"), std::string::npos) << error;
  EXPECT_EQ(error.find("build id none"), std::string::npos) << error;
}

TEST(AttachUprobe, RaisesTheDescriptorLimit) {
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &old), 0);
  if (old.rlim_max < 64) GTEST_SKIP() << "the hard limit is too low to lower the soft one";
  rlimit low = old;
  low.rlim_cur = 64;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  RaiseDescriptorLimit();
  rlimit now{};
  getrlimit(RLIMIT_NOFILE, &now);
  // A child about to run a command (-c, system()) gets the limit back.
  pid_t child = fork();
  if (child == 0) {
    RestoreDescriptorLimit();
    rlimit in_child{};
    getrlimit(RLIMIT_NOFILE, &in_child);
    _exit(in_child.rlim_cur == 64 ? 0 : 1);
  }
  int status = -1;
  waitpid(child, &status, 0);
  setrlimit(RLIMIT_NOFILE, &old);
  EXPECT_EQ(now.rlim_cur, old.rlim_max);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(BuildIds, ReadsNotesWithCheckedLengths) {
  // One GNU build-id note: namesz 4 ("GNU\0"), descsz 4, type 3.
  const unsigned char note[] = {4, 0, 0,   0,   4,   0, 0,    0,    3,    0,
                                0, 0, 'G', 'N', 'U', 0, 0xde, 0xad, 0xbe, 0xef};
  EXPECT_EQ(BuildIdInNotes(note, sizeof note), "deadbeef");
  EXPECT_EQ(BuildIdInNotes(note, sizeof note - 1), "");  // the id is cut short
  EXPECT_EQ(BuildIdInNotes(note, 8), "");
  unsigned char huge[sizeof note];
  std::copy(note, note + sizeof note, huge);
  huge[0] = 0xff;  // a name longer than the notes
  huge[3] = 0x7f;
  EXPECT_EQ(BuildIdInNotes(huge, sizeof huge), "");
  std::string running = RunningKernelBuildId();
  if (!running.empty()) EXPECT_EQ(running.size() % 2, 0u);  // hex bytes (a kernel may have none)
}

TEST(AttachKprobe, RefusesAnAbsoluteAddressOfAnotherKernel) {
  if (RunningKernelBuildId().empty()) GTEST_SKIP() << "this kernel has no build id";
  meta::Probe probe;
  probe.point = "kernel.statement(0xffffffff81000000).absolute";
  probe.family = static_cast<uint8_t>(meta::ProbeKind::Kprobe);
  probe.target = "0xffffffff81000000";
  probe.build_id = std::string(40, '0');
  std::vector<bpf_link*> links;
  std::vector<std::string> missing;
  std::string error;
  EXPECT_FALSE(AttachKprobe(nullptr, probe, links, missing, &error));
  EXPECT_EQ(error, "cannot attach `" + probe.point +
                       "`: it was compiled for the kernel with build id " + probe.build_id +
                       " (an address in its code), and this kernel's is " + RunningKernelBuildId() +
                       "; compile the script again for this kernel");
  EXPECT_TRUE(links.empty());
}

TEST(AttachSyscalls, NamesTheCallsThisKernelLacks) {
  char dir[] = "/tmp/btap_tracefs_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string root = dir;
  meta::Meta m;
  m.syscalls = {{"openat", "syscall.openat", "a.stp:1:7"}, {"cachestat", "syscall.cachestat", ""}};
  // No syscalls events at all (a kernel without CONFIG_FTRACE_SYSCALLS): no opinion.
  EXPECT_TRUE(MissingSyscalls(m, root).empty());
  std::filesystem::create_directories(root + "/events/syscalls/sys_enter_openat");
  std::vector<std::string> missing = MissingSyscalls(m, root);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0],
            "this kernel has no system call `cachestat`, probed as `syscall.cachestat` (the "
            "object was compiled for a kernel that has it: compile the script for this kernel, "
            "or make the probe point optional with `?`)");
  std::filesystem::create_directories(root + "/events/syscalls/sys_enter_cachestat");
  EXPECT_TRUE(MissingSyscalls(m, root).empty());
  EXPECT_TRUE(MissingSyscalls(m, "").empty());
  std::filesystem::remove_all(root);
}

TEST(AttachTracepoints, NamesThePointsThisKernelLacks) {
  char dir[] = "/tmp/btap_tracefs_XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  std::string root = dir;
  meta::Meta m;
  meta::Probe here, gone, other;
  here.family = gone.family = static_cast<uint8_t>(meta::ProbeKind::Tracepoint);
  here.target = "sched:sched_switch";
  gone.target = "filemap:mm_filemap_fault";
  gone.point = "kernel.trace(\"filemap:mm_filemap_fault\")";
  gone.where = "a.stp:2:7";
  other.family = static_cast<uint8_t>(meta::ProbeKind::Kprobe);
  other.target = "vfs_read";
  m.probes = {here, gone, other};
  // No tracefs to tell: no opinion.
  EXPECT_TRUE(MissingTracepoints(m, root + "/none", nullptr).empty());
  std::filesystem::create_directories(root + "/events/sched/sched_switch");
  std::vector<std::string> missing = MissingTracepoints(m, root, nullptr);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0],
            "this kernel has no tracepoint `filemap:mm_filemap_fault`, probed as "
            "`kernel.trace(\"filemap:mm_filemap_fault\")` at a.stp:2:7 (the object was "
            "compiled for a kernel that has it: compile the script for this kernel)");
  // A bare tracepoint (no trace event) the kernel's BTF knows is here.
  EXPECT_TRUE(MissingTracepoints(m, root, [](const std::string& event) {
                return event == "mm_filemap_fault";
              }).empty());
  std::filesystem::create_directories(root + "/events/filemap/mm_filemap_fault");
  EXPECT_TRUE(MissingTracepoints(m, root, nullptr).empty());
  std::filesystem::remove_all(root);
}

// Bare tracepoints are found by their BTF type (sched_update_nr_running_tp is declared
// with no trace event).
TEST(AttachTracepoints, FindsBareTracepointsInTheKernelsBtf) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF";
  KernelTypes kernel = KernelTypes::Running();
  EXPECT_TRUE(KernelHasBareTracepoint(kernel, "sched_update_nr_running_tp"));
  EXPECT_FALSE(KernelHasBareTracepoint(kernel, "no_such_tracepoint_anywhere"));
}

// DetachAll destroys every link, on this thread alone for a few and from helper threads
// for many, skips null entries and leaves the vector empty. Real links: one raw-tracepoint
// program of a compiled script attached again and again; a destroyed link's descriptor is
// closed (nothing else opens descriptors meanwhile).
// A module probe's module, from its target's `MODULE:NAME` lines (the module watch arms it
// when that module loads); "" for the kernel's own functions, addresses and other kinds.
TEST(ModuleProbes, NameTheirModule) {
  meta::Probe p;
  p.family = static_cast<uint8_t>(meta::ProbeKind::Kprobe);
  p.target = "loop:lo_ioctl";
  EXPECT_EQ(ProbeModule(p), "loop");
  p.target = "loop:lo_ioctl\nloop:lo_release+0x4";
  EXPECT_EQ(ProbeModule(p), "loop");
  p.family = static_cast<uint8_t>(meta::ProbeKind::Kretprobe);
  EXPECT_EQ(ProbeModule(p), "loop");
  p.target = "loop:lo_ioctl\nbrd:brd_rw_page";
  EXPECT_EQ(ProbeModule(p), "");
  p.target = "vfs_read";
  EXPECT_EQ(ProbeModule(p), "");
  p.target = "loop:lo_ioctl\nvfs_read";
  EXPECT_EQ(ProbeModule(p), "");
  p.family = static_cast<uint8_t>(meta::ProbeKind::Uprobe);
  p.target = "loop:lo_ioctl";
  EXPECT_EQ(ProbeModule(p), "");
  EXPECT_FALSE(ModuleLoaded("btap_no_such_module"));
}

// Where the kernel has no module tracepoints (this machine's has no loadable modules),
// the watch says why it cannot start; where it has them, it starts and gives a descriptor.
// The watch starts where the kernel loads modules (and so has their tracepoints), and
// says why not elsewhere (this machine's kernel has no loadable modules).
TEST(ModuleProbes, WatchStartsOrSaysWhy) {
  if (geteuid() != 0) GTEST_SKIP() << "loading BPF needs root";
  ModuleWatch watch;
  std::string error;
  bool started = watch.Start(&error);
  if (std::filesystem::exists("/proc/modules")) {
    ASSERT_TRUE(started) << error;
    EXPECT_GE(watch.fd(), 0);
    int events = 0;
    watch.Take([&](const std::string&, bool) { ++events; });
    EXPECT_EQ(events, 0);
  } else {
    EXPECT_FALSE(started);
    EXPECT_NE(error.find("module_load"), std::string::npos) << error;
    EXPECT_EQ(watch.fd(), -1);
  }
}

TEST(DetachAll, DestroysEveryLinkAndEmptiesTheVector) {
  std::vector<bpf_link*> none;
  DetachAll(none);
  EXPECT_TRUE(none.empty());
  if (!std::filesystem::exists("/sys/kernel/tracing/events/sched/sched_process_exit"))
    GTEST_SKIP() << "no sched:sched_process_exit tracepoint";
  std::string path = testing::TempDir() + "/detach_test.bo";
  driver::Ran ran;
  // (Compiling needs tracefs and the kernel's BTF, which an unprivileged run may lack.)
  if ((ran =
           driver::RunBtap({"-p4", "--disable-cache", "-o", path, "-e",
                            "global n\nprobe kernel.trace(\"sched:sched_process_exit\") { n++ }"}))
          .status != 0)
    GTEST_SKIP() << "cannot compile a sched:sched_process_exit probe here: " << ran.err;
  std::ifstream file(path, std::ios::binary);
  std::vector<char> bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  bpf_object* object = bpf_object__open_mem(bytes.data(), bytes.size(), nullptr);
  ASSERT_NE(object, nullptr);
  if (bpf_object__load(object) != 0) {
    bpf_object__close(object);
    GTEST_SKIP() << "cannot load BPF programs here";
  }
  bpf_program* program = nullptr;
  bpf_object__for_each_program(program, object) {
    if (std::string(bpf_program__section_name(program)).starts_with("raw_tp/")) break;
  }
  ASSERT_NE(program, nullptr);
  for (size_t count : {size_t{5}, size_t{100}}) {
    std::vector<bpf_link*> links;
    std::vector<int> fds;
    for (size_t i = 0; i < count; ++i) {
      if (i % 7 == 3) links.push_back(nullptr);  // a link that was never made
      bpf_link* link = bpf_program__attach_raw_tracepoint(program, "sched_process_exit");
      ASSERT_NE(link, nullptr) << count;
      links.push_back(link);
      fds.push_back(bpf_link__fd(link));
    }
    DetachAll(links);
    EXPECT_TRUE(links.empty());
    for (int fd : fds) EXPECT_EQ(fcntl(fd, F_GETFD), -1) << count << " links: fd " << fd;
  }
  bpf_object__close(object);
}

}  // namespace
}  // namespace btap::runtime
