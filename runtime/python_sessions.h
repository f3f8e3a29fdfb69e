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

// The folder of session files (/run/btap/python, which the tracer reads; an absolute
// $BTAP_PYTHON_SESSIONS, for tests, writes elsewhere): one file per session with `_details`
// probes, `PID.session`, and `generation`, a counter every change of the files raises,
// which the tracer reads through a shared mapping (8 bytes, never shrunk or replaced).
std::string PythonSessionsDir();

// This session's file: published before the probes attach, withdrawn after they detach.
// Published in /run/btap/python, it moves the session's `_details` probes to the
// `_filtered` marks of their kinds (the tracer computes their strings only for the
// functions the files match). No file (a folder that cannot be written, or that is not
// this user's alone, or another folder) leaves them at `_details`: every event's strings,
// whatever other sessions' files say.
class PythonSessionFile {
 public:
  PythonSessionFile() = default;
  PythonSessionFile(const PythonSessionFile&) = delete;
  PythonSessionFile& operator=(const PythonSessionFile&) = delete;
  ~PythonSessionFile() { Withdraw(); }
  void Publish(meta::Meta& meta);
  void Withdraw();

 private:
  int dir_ = -1;  // the folder while a file is published
  std::string name_;
};

}  // namespace btap::runtime
