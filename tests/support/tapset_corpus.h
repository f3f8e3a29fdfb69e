// SystemTap's own tapset library as a parsing workload: which files to parse under which
// runtime and architecture, with which library macros. Shared by the conformance test
// and the parser benchmark.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "frontend/preprocessor.h"

namespace btap::corpus {

struct Group {
  std::string runtime;  // "kernel", "bpf" or "dyninst"
  std::string arch;
  std::vector<std::string> macro_files;   // .stpm, loaded in order
  std::vector<std::string> script_files;  // .stp
};

// Plans the groups for a tapset root such as /usr/share/systemtap/tapset.
std::vector<Group> Plan(const std::string& root);
frontend::PPConfig ConfigFor(const Group& group);

struct FileResult {
  std::string path;
  size_t lines = 0;
  std::string diagnostics;  // rendered; empty when the file parsed cleanly
  bool round_trip_ok = true;
  std::string round_trip_detail;
};

struct Totals {
  size_t files = 0;
  size_t lines = 0;            // distinct files' lines
  size_t lines_processed = 0;  // including library macro files read once per group
  size_t bytes = 0;
  size_t failures = 0;
};

// Parses every group; calls on_file for each .stp and .stpm file.
Totals ParseAll(const std::vector<Group>& groups, bool check_round_trip,
                const std::function<void(const FileResult&)>& on_file);

// The corpus root: $BTAP_TAPSET_CORPUS, else the cache folder tests/fetch-corpus.sh fills.
std::string DefaultRoot();

}  // namespace btap::corpus
