// Python probes at run time: their HelperSDT marks placed in this machine's copy of the
// library, and the session's file that tells HelperSDT's tracer which functions' events
// the probes that read $$parms, $$locals, $$vars, $$return or the backtrace want.
#pragma once

#include <string>

#include "common/object_meta.h"

namespace btap::runtime {

// Points each HelperSDT mark probe at the library found here (common/helper_sdt.h) and
// at the mark's offset and semaphore read from that file's notes (the compiling host's
// path and build are not needed). False with `error` naming the places searched.
bool PlaceHelperSdtMarks(meta::Meta& meta, std::string* error);

// The folder of session files ($BTAP_PYTHON_SESSIONS, else /run/btap/python): one file per
// session with `_details` probes, `PID.session`, and `generation`, a counter every change
// of the files raises, which the tracer reads through a shared mapping (8 bytes, never
// shrunk or replaced).
std::string PythonSessionsDir();

// This session's file: published before the probes attach, withdrawn after they detach.
// A folder that cannot be written leaves no file (the tracer then computes the strings of
// every event while a `_details` mark is attached, as it would without this).
class PythonSessionFile {
 public:
  ~PythonSessionFile() { Withdraw(); }
  void Publish(const meta::Meta& meta);
  void Withdraw();

 private:
  std::string dir_, path_;  // path_ "" when nothing is published
};

}  // namespace btap::runtime
