// python2/python3.module("M").function("PATTERN")[.call|.return]: stap's Python probes,
// rewritten to the SDT marks of btap's HelperSDT library, with the module, function,
// file and line filters as a prologue the probe runs first (semantic/probes/python.cpp).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "semantic/probe_family.h"

namespace btap::sema {

struct PythonPoint {
  int version = 0;                // 2 or 3
  std::vector<PointPart> target;  // process("LIB").provider("btap_python").mark("...")
  std::string prologue;           // `probe __python { ... }`: the filters
};

// Whether `parts` is a python point (its first component is python2 or python3). When
// it is, fills `out`, or reports a located error and returns true with `out->version` 0.
bool ParsePythonPoint(std::span<const PointPart> parts, DiagnosticSink& diags, PythonPoint* out);

// The HelperSDT library btap's python probes attach to: $BTAP_HELPERSDT/HelperSDT, or
// the package beside btap (the build tree's python/, an installation's lib/btap/python/);
// "" with `why` when it is nowhere.
std::string HelperSdtLibrary(std::string* why);

}  // namespace btap::sema
