// What a record can ask of the runtime that a BPF program cannot do itself: run a command
// (system()), write to the kernel log (printk()) or to the ftrace buffer (ftrace()).
#pragma once

#include <string>

#include "common/output_record.h"

namespace btap::runtime {

// Takes the action of a System, Printk or Ftrace record on its formatted text; "" when
// done, else why not (the session goes on, with a warning).
std::string RunAction(record::Kind kind, const std::string& text);

}  // namespace btap::runtime
