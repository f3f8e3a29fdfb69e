// What the driver tests share: btap's driver run in process, and a whole file's bytes.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tools/btap/driver.h"

namespace btap::driver {

struct Ran {
  int status;
  std::string out, err;
};

inline Ran RunBtap(const std::vector<std::string>& argv) {
  std::istringstream in;
  std::ostringstream out, err;
  int status = Run(argv, in, out, err);
  return {status, out.str(), err.str()};
}

inline std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace btap::driver
