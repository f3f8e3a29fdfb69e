// The facts of the machine and the session that an object's runtime variables take when
// it loads: btap's pid and uid, CONFIG_ values, the session's namespaces, kernel symbol
// addresses, and where the kernel and its modules were placed for DWARF variables.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct bpf_object;
struct stat;

#include "common/object_meta.h"
#include "runtime/user_side.h"

namespace btap::runtime {

// False, with a message, when a fact the object needs cannot be had here.
bool SetLoadFacts(const UserSide& user, const meta::Meta& meta, std::string* error);

// Once the probes are attached: the processes already running that run a file of the
// object's process("PATH") probes, into meta::kExeProcsMap when the object has one (its
// programs record those that start from now on).
void AddRunningProcesses(struct bpf_object* bpf, const UserSide& user);

// The device of the file at `path` as the kernel's super_block holds it (MKDEV: major <<
// 20 | minor), what a probe compares `f_inode->i_sb->s_dev` with. stat()'s st_dev is not
// always that: btrfs reports a subvolume's own device, overlayfs a layer's. The mount's
// line in /proc/self/mountinfo has it (found by statx's mount id); st_dev is the fallback.
uint64_t SuperblockDevice(const std::string& path, const struct stat& st);

// The major:minor field of the line of mount `mount_id` in a mountinfo text, encoded as
// above; nothing when no line has that id.
std::optional<uint64_t> MountinfoDevice(std::string_view mountinfo, uint64_t mount_id);

}  // namespace btap::runtime
