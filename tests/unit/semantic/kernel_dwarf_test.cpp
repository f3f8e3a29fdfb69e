// Where the kernel's DWARF is looked for, and the build id in the kernel's ELF notes.
#include "semantic/machine/kernel_dwarf.h"

#include <elf.h>
#include <gtest/gtest.h>

#include "common/build_id.h"

#include <cstring>

namespace btap::sema {
namespace {

std::string Note(uint32_t type, std::string_view name, std::string_view desc) {
  std::string out(12, '\0');
  uint32_t words[3] = {static_cast<uint32_t>(name.size()), static_cast<uint32_t>(desc.size()),
                       type};
  std::memcpy(out.data(), words, 12);
  auto padded = [](std::string_view s) {
    std::string p(s);
    p.resize((p.size() + 3) & ~size_t{3}, '\0');
    return p;
  };
  return out + padded(name) + padded(desc);
}

TEST(KernelDwarf, BuildIdFromNotesSkipsOtherNotes) {
  std::string notes = Note(6, std::string_view("Xen\0", 4), "abcde") +
                      Note(NT_GNU_BUILD_ID, std::string_view("GNU\0", 4), "\x01\xab\xff");
  EXPECT_EQ(BuildIdInNotes(notes.data(), notes.size()), "01abff");
}

TEST(KernelDwarf, BuildIdFromCutNotesIsEmpty) {
  std::string notes = Note(NT_GNU_BUILD_ID, std::string_view("GNU\0", 4), "\x01\x02\x03\x04");
  EXPECT_EQ(BuildIdInNotes(notes.data(), notes.size() - 2), "");
  EXPECT_EQ(BuildIdInNotes("", 0), "");
}

TEST(KernelDwarf, CandidatesForARelease) {
  TargetKernel k;
  k.release = "6.1.0-47-cloud-amd64";
  EXPECT_EQ(KernelDwarfCandidates(k, "abcdef"),
            (std::vector<std::string>{"/usr/lib/debug/boot/vmlinux-6.1.0-47-cloud-amd64",
                                      "/usr/lib/debug/lib/modules/6.1.0-47-cloud-amd64/vmlinux",
                                      "/lib/modules/6.1.0-47-cloud-amd64/build/vmlinux",
                                      "/usr/lib/debug/.build-id/ab/cdef.debug"}));
  EXPECT_EQ(KernelDwarfCandidates(k, "").size(), 3u);
}

TEST(KernelDwarf, CandidateForADirectory) {
  TargetKernel k;
  k.release = "6.1.0";
  k.dir = "/tmp/kernel";
  EXPECT_EQ(KernelDwarfCandidates(k, "abcdef"), (std::vector<std::string>{"/tmp/kernel/vmlinux"}));
}

TEST(KernelDwarf, NoDwarfSaysWhereItLooked) {
  TargetKernel k;
  k.running = false;
  k.release = "0.0.0-none";
  k.dir = "/nonexistent-btap-kernel";
  KernelDwarf kd(k);
  EXPECT_EQ(kd.dwarf(), nullptr);
  EXPECT_NE(kd.error().find("`/nonexistent-btap-kernel/vmlinux`"), std::string::npos) << kd.error();
  EXPECT_TRUE(kd.Named("vfs_read").empty());
}

}  // namespace
}  // namespace btap::sema
