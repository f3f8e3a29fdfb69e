// Output records: what a kernel-side probe writes to the ring buffer for one print
// statement, and the runtime turns into text. Layout (little-endian, 8-byte aligned):
//   u32 kind, u32 format id, then one slot per argument in format order:
//   long   -> 8 bytes
//   string -> u32 length, the bytes, padding to a multiple of 8
// Codegen writes them; the runtime validates every length before use.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace btap::record {

enum class Kind : uint32_t {
  Printf = 1,   // format id = index into the object's formats; text to standard output
  Exit = 2,     // exit(): the session stops, end probes run (format id unused)
  Error = 3,    // a run-time error: "ERROR: <formatted text>" on standard error; counted
  Warning = 4,  // "WARNING: <formatted text>" on standard error
  Abort = 5,    // abort(): the session stops at once, no end probes (format id unused)
  // Actions the runtime takes on the formatted text, in user space where BPF cannot:
  System = 6,  // system(): run it with /bin/sh -c, in the background
  Printk = 7,  // printk(): write it to the kernel log (/dev/kmsg)
  Ftrace = 8,  // ftrace(): write it to the ftrace buffer (tracefs trace_marker)
  // A kernel probe kept a process's user addresses as a value (one long: the pid): the
  // runtime reads the process's mappings now, while it runs, to symbolize them later.
  SymbolProcess = 9,
  // switch_file(): the output that follows goes to the next -o file (FILE.1, FILE.2, ...);
  // what came before stays in the current one. Without -o, nothing (format id unused).
  SwitchFile = 10,
};

struct Arg {
  bool is_string = false;
  int64_t number = 0;
  std::string_view string;
};

// Encodes a record (used by tests and by user-side probes, which print directly).
std::vector<uint8_t> Encode(Kind kind, uint32_t format_id, std::span<const Arg> args);

struct Decoded {
  Kind kind;
  uint32_t format_id;
  std::vector<Arg> args;  // strings point into the record's bytes
};

// Decodes a record's header; then its arguments, whose kinds are `shape` (1 = string,
// 0 = long). On malformed bytes returns false with a message.
bool Decode(std::span<const uint8_t> bytes, Decoded* out, std::string* error);
bool DecodeArgs(std::span<const uint8_t> bytes, std::span<const uint8_t> shape, Decoded* out,
                std::string* error);

}  // namespace btap::record

namespace btap::session {

// The session state in the object's global data (`__btap_exiting`): every kernel probe
// reads it first and returns at once unless it is Running. Probes move it (exit(),
// abort(), an error past MAXERRORS); the runtime moves it when it stops for its own
// reasons (a signal, -T, the -c command's end, output that cannot be written).
enum class State : uint64_t {
  Running = 0,
  Exit = 1,     // exit(): end probes run
  Errors = 2,   // more than MAXERRORS errors: error probes run instead of end probes
  Abort = 3,    // abort(): no end probes
  Stopped = 4,  // stopped by the runtime: end probes run
};

// The state is the first of the session's words, one block in global data, so that a
// probe's error path reaches them all from one address:
//  - kStopErrorWord: the kernel-side error that reached MAXERRORS + 1, when its message
//    has no arguments (an array full, division by 0): its Error record's format id in
//    the high half and a non-zero low half (0 while there is none; the runtime reads the
//    record's kind as Error whatever the low half holds), stored before the state moves
//    to Errors. The runtime reports it as it would the record, after the records already
//    in the ring buffer: the probe's error path writes no record.
//  - kErrorsWord: run-time errors raised so far, counted by the probes themselves.
inline constexpr char kStateVariable[] = "__btap_exiting";
inline constexpr uint32_t kStopErrorWord = 1, kErrorsWord = 2, kSessionWords = 3;
// The local time zone when the session starts (tz_gmtoff(), tz_name()), set by the
// runtime where a probe reads it: seconds west of UTC (a long), and the zone's name
// (tm_zone, NUL-terminated in kTzNameBytes).
inline constexpr char kTzGmtoff[] = "__btap_tz_gmtoff";
inline constexpr char kTzName[] = "__btap_tz_name";
inline constexpr uint32_t kTzNameBytes = 16;
// get_cycles(): the time-stamp counter's rate against the monotonic clock, calibrated by
// the runtime at the start, as cycles per nanosecond in units of 2^-20, and the counter's
// value where that clock read 0.
inline constexpr char kTscMult[] = "__btap_tsc_mult";
inline constexpr char kTscBase[] = "__btap_tsc_base";

// Cycles of a counter running at `mult` (cycles per ns, in units of 2^-20) in `ns`
// nanoseconds: floor(ns * mult / 2^20) modulo 2^64, exactly while mult < 2^32 (the
// runtime keeps it below 100 * 2^20). The codegen of get_cycles() computes the same.
inline uint64_t TscCycles(uint64_t ns, uint64_t mult) {
  return (((ns >> 32) * mult) << 12) + (((ns & 0xffffffff) * mult) >> 20);
}

}  // namespace btap::session
