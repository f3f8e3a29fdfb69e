// Finding (and mounting) tracefs (see tracefs.h).
#include "common/tracefs.h"

#include <fstream>

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

bool ReadTraceableFunctions(const std::string& root, std::unordered_set<std::string>* out,
                            const std::string& module) {
  std::ifstream in(root + "/available_filter_functions");
  if (!in) return false;
  std::string line, suffix = " [" + module + "]";
  bool any = false;
  while (std::getline(in, line)) {
    any = true;
    size_t space = line.find(' ');
    if (module.empty()
            ? space == std::string::npos
            : space != std::string::npos && line.compare(space, std::string::npos, suffix) == 0)
      out->insert(line.substr(0, space));
  }
  return any;
}

}  // namespace btap
