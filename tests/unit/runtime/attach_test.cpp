// Attaching uprobes checks that the probed file is the one the object was compiled for
// (its GNU build id), before anything reaches the kernel.
#include "runtime/attach/attach.h"

#include <gtest/gtest.h>

namespace btap::runtime {
namespace {

TEST(AttachUprobe, ReadsBuildIds) {
  std::string id = ReadBuildId(BTAP_UPROBE_TARGET_O0);
  EXPECT_EQ(id.size(), 40u) << id;  // SHA-1
  EXPECT_NE(id, ReadBuildId(BTAP_UPROBE_TARGET_O2));
  EXPECT_EQ(ReadBuildId("/nonexistent"), "");
  EXPECT_EQ(ReadBuildId(BTAP_SOURCE_DIR "/README.md"), "");
}

TEST(AttachUprobe, RefusesAFileThatChanged) {
  meta::Probe probe;
  probe.point = "process(\"x\").function(\"f\")";
  probe.family = static_cast<uint8_t>(meta::ProbeKind::Uprobe);
  probe.target = BTAP_UPROBE_TARGET_O0;
  probe.build_id = ReadBuildId(BTAP_UPROBE_TARGET_O2);  // compiled for the other build
  std::vector<bpf_link*> links;
  std::string error;
  EXPECT_FALSE(AttachUprobe(nullptr, probe, links, &error));
  EXPECT_NE(error.find("is not the file the script was compiled for"), std::string::npos) << error;
  EXPECT_TRUE(links.empty());
}

}  // namespace
}  // namespace btap::runtime
