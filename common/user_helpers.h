// Helper numbers that only the runtime's user-space interpreter offers (DESIGN decision
// 2). Codegen calls them from user-side probes (begin, end, error, task-free timers); the
// kernel does not know them, so a kernel-side program never uses them. Numbers start far
// above the kernel's helper ids so that the two can never collide.
#pragma once

#include <cstdint>

namespace btap::user_helper {

// long foreach_begin(void *map, u64 how, long limit): snapshots the map's entries, sorted
// as `how` says (bits 0-15: the global's index in the object's metadata; bits 16-23: the
// sort column, 0 = value, k = k-th key; bits 24-31: 0 unsorted, 1 ascending, 2
// descending; bits 32-39: for statistics, the aggregate a value sorts by, as
// stats::Op); keeps at most `limit` entries when limit >= 0. Statistics values come
// out merged over the CPUs. Returns an iterator id, or
// 0 when the map is empty.
inline constexpr int32_t kForeachBegin = 0x10001;
// long foreach_next(long iterator, void *key, void *value): copies the next entry's key
// and value out; returns 1, or 0 (and frees the iterator) when none is left.
inline constexpr int32_t kForeachNext = 0x10002;
// long map_clear(void *map): deletes every element.
inline constexpr int32_t kMapClear = 0x10003;

// long sprintf(char *dst, long size, void *record, long record_size): formats an output
// record (as print statements build them) into dst, truncated and NUL-terminated.
inline constexpr int32_t kSprintf = 0x10004;

// long print_histogram(void *value, u64 shape, long start, long interval, char *dst):
// prints the merged statistics value's histogram (shape: bits 0-7 the kind, 1 log / 2
// linear; bits 8-30 the bucket count); with `dst`, writes its text there instead (and a
// newline after it when bit 31 is set), cut to the size in shape's bits 32-63 less one
// and NUL-terminated, and returns its length (sprint and sprintln of a histogram).
inline constexpr int32_t kPrintHistogram = 0x10005;

// long parent_pid(void): ppid() on the user side, the runtime's own parent.
inline constexpr int32_t kParentPid = 0x10006;

// long loadavg(long i): the kernel's avenrun[i] as /proc/loadavg shows it (rounded to
// hundredths), in the kernel's fixed point (11 bits of fraction); 0 when unreadable.
inline constexpr int32_t kLoadavg = 0x10007;

// long procfs_value(long op, char *text, long size): a procfs probe's `$value`, which the
// runtime holds (runtime/procfs.cpp). kProcfsSet and kProcfsAppend take the NUL-terminated
// text (at most `size` bytes) into the file's text and return 0, or, when the text does not
// fit the file's maxsize, keep what fits and return the size that would have held it all
// (with its NUL); kProcfsGet copies what the writer wrote into text (cut to size - 1
// bytes, NUL-terminated) and returns its length.
inline constexpr int32_t kProcfsValue = 0x10008;
inline constexpr int64_t kProcfsSet = 0;
inline constexpr int64_t kProcfsAppend = 1;
inline constexpr int64_t kProcfsGet = 2;

// long map_matches(void *map, void *want, u64 parts): 1 when some element's key has
// want's bytes in each key part whose bit (1 << k for the k-th part) `parts` sets, else 0
// (`[k, *] in a`). A scan of the elements: no snapshot kept, none sorted.
inline constexpr int32_t kMapMatches = 0x10009;

// How foreach_begin's `how` is packed.
inline constexpr uint64_t ForeachHow(uint32_t global, uint32_t column, int direction,
                                     uint32_t aggregate = 0) {
  return global | (uint64_t{column} << 16) |
         (uint64_t(direction == 0  ? 0
                   : direction > 0 ? 1
                                   : 2)
          << 24) |
         (uint64_t{aggregate} << 32);
}

}  // namespace btap::user_helper
