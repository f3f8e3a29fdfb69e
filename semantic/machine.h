// Facts about the machine that pass 2 reads lazily (only when a script needs them):
// the tracepoint catalog from tracefs and kernel BTF.
#pragma once

#include <memory>
#include <string>

#include "semantic/tracepoints.h"

namespace btap::sema {

class Machine {
 public:
  Machine(std::string tracefs_root = "", std::string btf_path = "")
      : tracefs_root_(std::move(tracefs_root)), btf_path_(std::move(btf_path)) {}
  const TracepointCatalog& tracepoints() {
    if (!tracepoints_)
      tracepoints_ =
          std::make_unique<TracepointCatalog>(TracepointCatalog::Load(tracefs_root_, btf_path_));
    return *tracepoints_;
  }

 private:
  std::string tracefs_root_;
  std::string btf_path_;
  std::unique_ptr<TracepointCatalog> tracepoints_;
};

}  // namespace btap::sema
