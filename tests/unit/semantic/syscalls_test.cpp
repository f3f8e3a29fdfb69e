// The syscall table read from this kernel: numbers checked against the C library's
// headers (an independent source), arguments against the format files' declarations.
#include <asm/unistd.h>
#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "semantic/machine/syscalls.h"
#include "semantic/machine/syscalls_i386.h"
#include "semantic/machine/tracepoints.h"

namespace btap::sema {
namespace {

const SyscallTable& Table() {
  static TracepointCatalog catalog = TracepointCatalog::Load();
  static SyscallTable table = SyscallTable::Load(catalog);
  return table;
}

TEST(Syscalls, NumbersMatchTheHeaders) {
  if (geteuid() != 0) GTEST_SKIP() << "reading the kernel's syscall metadata needs root";
  const SyscallTable& t = Table();
  ASSERT_TRUE(t.error().empty()) << t.error();
  EXPECT_GT(t.all().size(), 300u);
  struct Known {
    const char* name;
    int nr;
  };
  for (Known k : {Known{"read", __NR_read},
                  {"openat", __NR_openat},
                  {"getppid", __NR_getppid},
                  {"clone", __NR_clone},
                  {"clone3", __NR_clone3},
                  {"exit_group", __NR_exit_group},
                  {"nanosleep", __NR_nanosleep}}) {
    const Syscall* s = t.ByName(k.name);
    ASSERT_NE(s, nullptr) << k.name;
    EXPECT_EQ(s->nr, k.nr) << k.name;
    EXPECT_EQ(t.ByNumber(k.nr), s) << k.name;
  }
  EXPECT_EQ(t.ByNumber(-1), nullptr);
  EXPECT_EQ(t.ByNumber(t.max_nr() + 1), nullptr);
}

TEST(Syscalls, ArgumentsAndRegisters) {
  if (geteuid() != 0) GTEST_SKIP() << "reading the kernel's syscall metadata needs root";
  const Syscall* s = Table().ByName("openat");
  ASSERT_NE(s, nullptr);
  ASSERT_EQ(s->args.size(), 4u);
  EXPECT_EQ(s->args[0].name, "dfd");
  EXPECT_EQ(s->args[0].size, 4u);
  EXPECT_TRUE(s->args[0].is_signed);
  EXPECT_EQ(s->args[1].name, "filename");
  EXPECT_TRUE(s->args[1].is_pointer);
  EXPECT_EQ(s->args[3].c_type, "umode_t");
  EXPECT_EQ(s->args[3].size, 2u);  // unsigned short
  EXPECT_FALSE(s->args[3].is_signed);
  // di, si, dx, r10 in struct pt_regs
  EXPECT_EQ(s->args[0].reg_offset, 112u);
  EXPECT_EQ(s->args[1].reg_offset, 104u);
  EXPECT_EQ(s->args[2].reg_offset, 96u);
  EXPECT_EQ(s->args[3].reg_offset, 56u);
}

// Each kind of name the BTF index holds: a base type (`unsigned int`, `int`) and
// typedefs that resolve through others (`size_t`, `pid_t`).
TEST(Syscalls, ArgumentTypesOfEachKind) {
  if (geteuid() != 0) GTEST_SKIP() << "reading the kernel's syscall metadata needs root";
  struct Want {
    const char* call;
    size_t arg;
    uint32_t size;
    bool is_signed;
  };
  for (Want w : {Want{"read", 0, 4, false},
                 {"read", 2, 8, false},
                 {"kill", 0, 4, true},
                 {"kill", 1, 4, true}}) {
    const Syscall* s = Table().ByName(w.call);
    ASSERT_NE(s, nullptr) << w.call;
    ASSERT_GT(s->args.size(), w.arg) << w.call;
    const SyscallArg& a = s->args[w.arg];
    EXPECT_FALSE(a.is_pointer) << w.call << " " << a.name;
    EXPECT_EQ(a.size, w.size) << w.call << " " << a.name << " (" << a.c_type << ")";
    EXPECT_EQ(a.is_signed, w.is_signed) << w.call << " " << a.name << " (" << a.c_type << ")";
  }
}

TEST(Syscalls, TapsetText) {
  if (geteuid() != 0) GTEST_SKIP() << "reading the kernel's syscall metadata needs root";
  std::string text = Table().Tapset();
  EXPECT_NE(text.find("probe syscall.openat = __syscall(" + std::to_string(__NR_openat) + ")"),
            std::string::npos);
  EXPECT_NE(text.find("argstr = (flags & 64) ? sprintf(\"%s, %s, %s, %#o\""), std::string::npos);
  // Man-page names where the kernel's differ: wait4(pid, status, options, rusage).
  EXPECT_NE(text.find("  pid = $upid\n  status_uaddr = $stat_addr\n"), std::string::npos);
  EXPECT_NE(text.find("probe nd_syscall.read.return = syscall.read.return {}"), std::string::npos);
  // stap's names on the kernel's numbers; stap's x86-64-less calls match nothing.
  EXPECT_NE(text.find("probe syscall.stat = __syscall(" + std::to_string(__NR_stat) + ")"),
            std::string::npos);
  EXPECT_NE(text.find("probe syscall.newstat = __syscall(" + std::to_string(__NR_stat) + ")"),
            std::string::npos);
  EXPECT_NE(text.find("probe syscall.nice = never\n"), std::string::npos);
  // stap's alias on two calls: syscall.pipe on pipe2 too, pipe2 left out of wildcards;
  // nd_syscall.pipe is written once (it names syscall.pipe, which has both).
  std::string pipe2 = std::to_string(__NR_pipe2);
  EXPECT_NE(text.find("probe syscall.pipe = __syscall(" + pipe2 + ")"), std::string::npos);
  EXPECT_NE(text.find("probe syscall.pipe2 = __syscall(" + pipe2 + ")"), std::string::npos);
  size_t twin = text.find("probe nd_syscall.pipe = ");
  ASSERT_NE(twin, std::string::npos);
  EXPECT_EQ(text.find("probe nd_syscall.pipe = ", twin + 1), std::string::npos);
  // stap's syscall.mmap2 is x86-64's mmap, named mmap2; btap's syscall.mmap stays.
  std::string mmap = std::to_string(__NR_mmap);
  EXPECT_NE(text.find("probe syscall.mmap2 = __syscall(" + mmap + ")\n{\n  name = \"mmap2\"\n"),
            std::string::npos);
  EXPECT_NE(text.find("probe syscall.mmap = __syscall(" + mmap + ")\n{\n  name = \"mmap\"\n"),
            std::string::npos);
  EXPECT_EQ(text.find("probe syscall.mmap2 = never"), std::string::npos);
  std::vector<std::string> hidden = Table().RenamedByStap();
  EXPECT_NE(std::find(hidden.begin(), hidden.end(), "mmap"), hidden.end());
  EXPECT_NE(std::find(hidden.begin(), hidden.end(), "pipe2"), hidden.end());
  EXPECT_EQ(std::find(hidden.begin(), hidden.end(), "pipe"), hidden.end());
  std::string any = Table().AnyTapset();
  EXPECT_NE(any.find("function syscall_name:string (nr:long)"), std::string::npos);
  EXPECT_NE(any.find("if (nr == " + std::to_string(__NR_getppid) + ") return \"getppid\""),
            std::string::npos);
  EXPECT_EQ(any.find("probe begin"), std::string::npos);
}

// A task_struct whose thread_info has `status` of `status_bytes` (0: no such member).
std::unique_ptr<struct btf, void (*)(struct btf*)> TaskBtf(int status_bytes) {
  std::unique_ptr<struct btf, void (*)(struct btf*)> b(btf__new_empty(), btf__free);
  int u32 = btf__add_int(b.get(), "unsigned int", 4, 0);
  int u64 = btf__add_int(b.get(), "long unsigned int", 8, 0);
  int info = btf__add_struct(b.get(), "thread_info", 16);
  btf__add_field(b.get(), "flags", u64, 0, 0);
  if (status_bytes) btf__add_field(b.get(), "status", status_bytes == 4 ? u32 : u64, 64, 0);
  btf__add_struct(b.get(), "task_struct", 32);
  btf__add_field(b.get(), "thread_info", info, 0, 0);
  return b;
}

TEST(Syscalls, TaskCompatStatusNeedsAFourByteField) {
  EXPECT_TRUE(HasTaskCompatStatus(TaskBtf(4).get()));
  EXPECT_FALSE(HasTaskCompatStatus(TaskBtf(8).get()));
  EXPECT_FALSE(HasTaskCompatStatus(TaskBtf(0).get()));
  EXPECT_FALSE(HasTaskCompatStatus(nullptr));
}

// The hand-written i386 numbers against the C library's i386 header (read as text: it
// and the x86-64 one define the same macros): each number is the call named, under
// i386's spelling of it (getuid32 for getuid, stat64 and stat for newstat, umount2 for
// umount, sendfile for sendfile64).
TEST(Syscalls, I386NumbersMatchTheHeader) {
  std::ifstream header("/usr/include/x86_64-linux-gnu/asm/unistd_32.h");
  if (!header) GTEST_SKIP() << "no i386 <asm/unistd_32.h> here";
  std::map<int, std::string> names;
  std::regex define(R"(#define __NR_(\w+) (\d+))");
  for (std::string line; std::getline(header, line);) {
    std::smatch m;
    if (std::regex_search(line, m, define)) names[std::stoi(m[2])] = m[1];
  }
  ASSERT_GT(names.size(), 400u);
  auto strip = [](std::string n) {
    if (n.ends_with("_time64"))
      n.resize(n.size() - 7);
    else if (n.ends_with("32") || n.ends_with("64"))
      n.resize(n.size() - 2);
    return n;
  };
  std::set<int> seen;
  for (const I386Call& c : I386Calls()) {
    EXPECT_TRUE(seen.insert(c.nr).second) << "i386 " << c.nr << " twice";
    ASSERT_TRUE(names.count(c.nr)) << c.nr;
    const std::string& h = names[c.nr];
    std::string k = c.kernel;
    EXPECT_TRUE(h == k || strip(h) == k || "new" + strip(h) == k || h + "64" == k ||
                (h == "umount2" && k == "umount"))
        << "i386 " << c.nr << " is " << h << ", not " << k;
  }
  // A 16-bit-uid call is not mapped; its 32-bit twin is stap's name.
  EXPECT_TRUE(I386Numbers("getuid") == std::vector<int64_t>{199});
  EXPECT_TRUE((I386Numbers("newstat") == std::vector<int64_t>{106, 195}));
  EXPECT_TRUE(I386Numbers("pread64").empty());
}

// Every mapped call is one this kernel has, under the name the table uses.
TEST(Syscalls, I386CallsAreTheKernels) {
  if (geteuid() != 0) GTEST_SKIP() << "reading the kernel's syscall metadata needs root";
  for (const I386Call& c : I386Calls()) EXPECT_NE(Table().ByName(c.kernel), nullptr) << c.kernel;
}

}  // namespace
}  // namespace btap::sema
