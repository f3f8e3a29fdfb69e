// The folder where this build tree's runtime tests write their scripts, objects and
// outputs. Each tree has its own: test runs of two checkouts on one machine at once
// must not read or overwrite each other's files.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>

namespace btap {

inline const std::string& RuntimeWorkDir() {
  static const std::string dir = [] {
    char tree[32];
    std::snprintf(tree, sizeof tree, "%016zx", std::hash<std::string>{}(BTAP_BINARY));
    std::string path = testing::TempDir() + "/btap_tests_" + tree;
    std::filesystem::create_directories(path);
    return path;
  }();
  return dir;
}

}  // namespace btap
