// python2/python3.module("M").function("PATTERN")[.call|.return]: stap's Python probes,
// rewritten to the SDT marks of btap's HelperSDT library, with the module, function,
// file and line filters as a prologue the probe runs first (semantic/probes/python.cpp).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "common/diagnostics.h"
#include "common/helper_sdt.h"
#include "semantic/probe_family.h"

namespace btap::sema {

struct PythonPoint {
  int version = 0;                // 2 or 3
  std::vector<PointPart> target;  // process("LIB").provider("btap_python").mark("...")
  std::string prologue;           // `probe __python { ... }`: the filters
  // The module, function and file globs ("" for no file), one a line: the tracer computes
  // the strings only for the functions they match (runtime/python_sessions.cpp).
  std::string filter;
};

// Whether `parts` is a python point (its first component is python2 or python3). When
// it is, fills `out`, or reports a located error and returns true with `out->version` 0.
bool ParsePythonPoint(std::span<const PointPart> parts, DiagnosticSink& diags, PythonPoint* out);

}  // namespace btap::sema
