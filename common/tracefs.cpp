// Finding (and mounting) tracefs (see tracefs.h).
#include "common/tracefs.h"

#include <sys/mount.h>
#include <unistd.h>

#include <filesystem>

namespace btap {
namespace {

bool HasEvents(const std::string& root) {
  std::error_code ec;
  return access((root + "/available_events").c_str(), R_OK) == 0 ||
         std::filesystem::is_directory(root + "/events", ec);
}

}  // namespace

std::string FindTracefs() {
  for (const char* root : {kTracefs, kDebugTracefs})
    if (HasEvents(root)) return root;
  if (geteuid() == 0 && mount("nodev", kTracefs, "tracefs", 0, nullptr) == 0 && HasEvents(kTracefs))
    return kTracefs;
  return "";
}

}  // namespace btap
