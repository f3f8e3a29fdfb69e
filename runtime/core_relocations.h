// When a kernel refuses an object for a CO-RE relocation it cannot satisfy (a struct
// member the object reads and this kernel lacks), the message names the member and the
// script line that reads it: libbpf's log says which relocation failed, the object's
// metadata where the script reads that member.
#pragma once

#include <string>

#include "common/object_meta.h"

namespace btap::runtime {

// From libbpf's log of a failed load: "this kernel's `struct task_struct` has no member
// `user_dumpable`, read at FILE:LINE:COL" (the place when the metadata has it), or ""
// when no CO-RE relocation failed.
std::string ExplainCoreFailure(const std::string& log, const meta::Meta& meta);

}  // namespace btap::runtime
