// The facts of the machine and the session that an object's runtime variables take when
// it loads: btap's pid and uid, CONFIG_ values, the session's namespaces, kernel symbol
// addresses, and where the kernel and its modules were placed for DWARF variables.
#pragma once

#include <string>

struct bpf_object;

#include "common/object_meta.h"
#include "runtime/user_side.h"

namespace btap::runtime {

// False, with a message, when a fact the object needs cannot be had here.
bool SetLoadFacts(const UserSide& user, const meta::Meta& meta, std::string* error);

// Once the probes are attached: the processes already running that run a file of the
// object's process("PATH") probes, into meta::kExeProcsMap when the object has one (its
// programs record those that start from now on).
void AddRunningProcesses(struct bpf_object* bpf, const UserSide& user);

}  // namespace btap::runtime
