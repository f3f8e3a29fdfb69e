// The kernel function index over this machine's kernel BTF, and stap's refusals.
#include "semantic/machine/kernel_functions.h"

#include "semantic/machine/machine.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace btap::sema {
namespace {

TEST(StapRefusal, LockAtomicAndExceptionPaths) {
  for (const char* name :
       {"_raw_spin_lock", "__raw_spin_lock_irqsave", "_raw_read_unlock_bh",
        "queued_spin_lock_slowpath", "spin_trylock", "atomic_notifier_call_chain",
        "arch_atomic_add", "default_do_nmi", "exc_page_fault"})
    EXPECT_NE(StapRefusal(name), "") << name;
  for (const char* name : {"vfs_read", "read_block_bitmap", "spin_down_once", "do_sys_openat2",
                           "tcp_sendmsg", "write_inode_now"})
    EXPECT_EQ(StapRefusal(name), "") << name;
  EXPECT_EQ(StapRefusal("spinlock_owner"), "");
}

// One parse of the kernel's BTF serves every reader of a Machine: the function index
// holds the Machine's, and a failed parse's reason reaches the readers.
TEST(KernelFunctionIndex, SharesTheMachinesBtf) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF";
  Machine machine;
  const struct btf* btf = machine.kernel_btf().get();
  ASSERT_NE(btf, nullptr);
  EXPECT_EQ(machine.kernel_functions().btf(), btf);
  EXPECT_FALSE(machine.tracepoints().all().empty());
  EXPECT_EQ(machine.kernel_btf().get(), btf);
  Machine missing("", "/nonexistent/vmlinux", false);
  std::string error;
  EXPECT_EQ(missing.kernel_btf(&error), nullptr);
  EXPECT_NE(error.find("cannot read kernel BTF `/nonexistent/vmlinux`"), std::string::npos);
  EXPECT_NE(missing.kernel_functions().error().find("/nonexistent/vmlinux"), std::string::npos);
}

TEST(KernelFunctionIndex, RunningKernelFromBtf) {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) GTEST_SKIP() << "no kernel BTF";
  auto index = KernelFunctionIndex::Load("", "");
  ASSERT_EQ(index->error(), "");
  std::vector<const KernelFunction*> read = index->Match("vfs_read");
  ASSERT_EQ(read.size(), 1u);
  std::vector<KernelParam> params = index->Params(*read[0]);
  ASSERT_EQ(params.size(), 4u);
  EXPECT_EQ(params[0].name, "file");
  EXPECT_EQ(params[0].c_type, "struct file*");
  EXPECT_EQ(params[2].c_type, "size_t");
  EXPECT_EQ(params[2].size, 8u);
  EXPECT_FALSE(params[2].is_signed);
  KernelParam ret = index->Return(*read[0]);
  EXPECT_EQ(ret.c_type, "ssize_t");
  EXPECT_TRUE(ret.is_signed);
  // Globs match sorted, unique names; refused functions are not among them.
  std::vector<const KernelFunction*> many = index->Match("vfs_*");
  EXPECT_GT(many.size(), 20u);
  for (size_t i = 1; i < many.size(); ++i) EXPECT_LT(many[i - 1]->name, many[i]->name);
  EXPECT_TRUE(index->Match("_raw_spin_lock").empty());
  EXPECT_NE(index->Refusal("_raw_spin_lock"), "");
  EXPECT_EQ(index->Refusal("no_such_function_anywhere"), "");
  EXPECT_TRUE(index->Match("no_such_function_anywhere").empty());
}

TEST(KernelFunctionIndex, UnreadableBtfSaysWhy) {
  auto index = KernelFunctionIndex::Load("/nonexistent/vmlinux", "");
  EXPECT_NE(index->error().find("cannot read kernel BTF `/nonexistent/vmlinux`"),
            std::string::npos);
  EXPECT_TRUE(index->Match("*").empty());
}

}  // namespace
}  // namespace btap::sema
