// Where pass 5's output and the kept files go: stap's `-o FILE` with strftime(3)
// sequences expanded when the run starts, and the `-k` temporary directory.
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "tools/btap/driver.h"

namespace btap::driver {

bool ExpandOutputName(const std::string& pattern, time_t when, std::string* name,
                      std::string* error) {
  struct tm tm;
  localtime_r(&when, &tm);
  char buf[PATH_MAX];
  // As staprun: every strftime sequence, in local time; an empty result is an error.
  size_t n = pattern.empty() ? 0 : strftime(buf, sizeof buf, pattern.c_str(), &tm);
  if (n == 0) {
    *error = "invalid output file name format `" + pattern + "`";
    return false;
  }
  name->assign(buf, n);
  return true;
}

std::string MakeTempDir(std::string* error) {
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/btapXXXXXX";
  if (!mkdtemp(dir.data())) {
    *error = "cannot create a temporary directory `" + dir + "`: " + strerror(errno);
    return "";
  }
  return dir;
}

}  // namespace btap::driver
