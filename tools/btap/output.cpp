// The `-k` temporary directory (the -o FILE name is expanded by the runtime, which
// btaprun shares).
#include <limits.h>
#include <stdlib.h>
#include <time.h>

#include <cerrno>
#include <cstring>

#include "tools/btap/driver.h"

namespace btap::driver {

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
