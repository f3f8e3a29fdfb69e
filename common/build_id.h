// GNU build ids, which tie an object to the exact binary or kernel it was compiled
// against: read from an ELF file, a run of ELF notes, or the running kernel's notes.
#pragma once

#include <cstddef>
#include <string>

namespace btap {

// `n` bytes as lower-case hex, two digits each.
std::string HexBytes(const void* data, size_t n);

// The build id of ELF file `path`, lower-case hex ("" when it has none or cannot be read).
std::string FileBuildId(const std::string& path);

// The GNU build id in a run of ELF notes ("" if none); every length is checked.
std::string BuildIdInNotes(const void* notes, size_t size);

// The running kernel's, from /sys/kernel/notes ("" when unreadable).
std::string RunningKernelBuildId();

}  // namespace btap
