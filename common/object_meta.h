// The `.btap.meta` section of a compiled object (.bo): what the runtime needs and the
// ELF cannot say — probes to attach and their order, output formats, globals to print
// at exit, limits, the script's name and hash. Written by codegen, read by the runtime
// (and btaprun), which validates every byte before trusting it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace btap::meta {

inline constexpr char kSectionName[] = ".btap.meta";
inline constexpr uint32_t kVersion = 2;

enum class ValueType : uint8_t { Long = 1, String = 2, Stats = 3 };

// How a probe is attached; the values are part of the format.
enum class ProbeKind : uint8_t {
  Begin = 1,
  End = 2,
  Error = 3,
  Timer = 4,         // perf software clock (or the interpreter, when user-side)
  TimerProfile = 5,  // every CPU's clock
  Perf = 6,          // perf.type().config()
  Tracepoint = 7,    // raw tracepoint, by event name
  Kprobe = 8,
  Kretprobe = 9,
  Uprobe = 10,
  Uretprobe = 11,
  ProcessBegin = 12,
  ProcessEnd = 13,
};

struct Probe {
  std::string program;     // the BPF program's name in the object ("" for user-side probes
                           // that have no program)
  std::string point;       // the resolved probe point, for messages and -l style output
  uint8_t family = 0;      // a ProbeKind
  bool user_side = false;  // run by the runtime's interpreter (begin/end/error/timers)
  int64_t sequence = 0;    // begin/end/error order
  int64_t period_ns = 0;   // timers
  int64_t randomize_ns = 0;
  std::string target;  // tracepoint "sys:name", process path, perf counter...
  int64_t numbers[3] = {0, 0, 0};
  // Uprobes: the probed file's GNU build id (hex), which the runtime checks before it
  // attaches at a compiled file offset.
  std::string build_id;

  bool operator==(const Probe&) const = default;
};

struct Global {
  std::string name;  // as the script spells it
  std::string map;   // the BPF map (or global-data symbol) holding it
  ValueType value = ValueType::Long;
  std::vector<ValueType> keys;  // empty for scalars
  bool print_at_exit = false;   // written but never read

  bool operator==(const Global&) const = default;
};

struct Limits {
  uint32_t max_string_len = 0;
  uint32_t max_map_entries = 0;
  uint32_t max_errors = 0;
  uint32_t max_action = 0;

  bool operator==(const Limits&) const = default;
};

struct Meta {
  std::string script_name;
  std::string script_hash;  // hex digest of everything that went into the object
  Limits limits;
  std::vector<std::string> formats;  // printf formats by id
  std::vector<Probe> probes;
  std::vector<Global> globals;

  bool operator==(const Meta&) const = default;
};

// Serialises `meta` (little-endian, length-prefixed; deterministic).
std::vector<uint8_t> Encode(const Meta& meta);

// Parses and validates section bytes; on failure returns false with a message naming
// what was wrong and where (never reads out of bounds, whatever the bytes).
bool Decode(std::string_view bytes, Meta* meta, std::string* error);

}  // namespace btap::meta
