// The facts of the machine and the session that an object's runtime variables take when
// it loads: btap's pid and uid, CONFIG_ values, the session's namespaces, kernel symbol
// addresses, and where the kernel and its modules were placed for DWARF variables.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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
// It runs once the exit program (track_exe_exit) is attached, and looks at each process
// twice, through its /proc/PID directory (which names that process, never a later one
// given its pid): once for its file, then after its entry is added, so that an entry is
// dropped again when the process left or exec'd in between (see AddRunningProcess).
void AddRunningProcesses(struct bpf_object* bpf, const UserSide& user);

// The device of the file `path` (relative to the directory `dir`, or AT_FDCWD) as the
// kernel's super_block holds it (MKDEV: major << 20 | minor), what a probe compares
// `f_inode->i_sb->s_dev` with. stat()'s st_dev (in `st`) is not always that: btrfs
// reports a subvolume's own device. The mount's line in /proc/self/mountinfo has it
// (found by statx's mount id); for a file of a process in another mount namespace, its
// /proc/PID/mountinfo (`proc_dir`, that directory open, when given); st_dev is the fallback.
uint64_t SuperblockDevice(int dir, const char* path, const struct stat& st, int proc_dir = -1);

// The major:minor field of the line of mount `mount_id` in a mountinfo text, encoded as
// above; nothing when no line has that id.
std::optional<uint64_t> MountinfoDevice(std::string_view mountinfo, uint64_t mount_id);

// A file of the object's process("PATH") probes: its bit in meta::kExeProcsMap's values,
// and PATH's inode number and device (as the kernel's super_block holds it).
struct ExeFile {
  uint64_t bit, ino, dev;
};

// One process of the scan, its /proc/PID directory open as `proc_dir`: an entry for
// `pid` in the map `map_fd` when it runs some of `files` and the programs have recorded
// none, removed again if the process left or exec'd another file meanwhile.
// `before_insert` runs between the look at its file and the insert (tests make it leave
// there).
void AddRunningProcess(int map_fd, int proc_dir, uint32_t pid, const std::vector<ExeFile>& files,
                       const std::function<void()>& before_insert = {});

}  // namespace btap::runtime
