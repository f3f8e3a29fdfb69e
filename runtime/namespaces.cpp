// The session's namespaces for the ns_* functions (see namespaces.h).
#include "runtime/namespaces.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/object_meta.h"

namespace btap::runtime {

void ParseIdMap(std::string_view text, uint64_t* row) {
  std::istringstream lines{std::string(text)};
  uint64_t first = 0, lower = 0, count = 0, n = 0;
  while (n < 5 && lines >> first >> lower >> count) {
    row[1 + 3 * n] = first;
    row[2 + 3 * n] = lower;
    row[3 + 3 * n] = count;
    ++n;
  }
  row[0] = n;
}

void FillNsFacts(uint64_t* facts) {
  auto read = [](const char* path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  ParseIdMap(read("/proc/self/uid_map"), facts);
  ParseIdMap(read("/proc/self/gid_map"), facts + meta::kNsFactColumns);
  uint64_t* pid = facts + 2 * meta::kNsFactColumns;
  struct stat ns {};
  pid[0] = stat("/proc/self/ns/pid", &ns) == 0 ? ns.st_ino : 0;
}

}  // namespace btap::runtime
