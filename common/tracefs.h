// Where tracefs is: the elaborator lists events from it and the runtime attaches classic
// tracepoints through it. Mounted when missing, as stap and perf do on a fresh system.
#pragma once

#include <string>
#include <unordered_set>

namespace btap {

inline constexpr const char* kTracefs = "/sys/kernel/tracing";
inline constexpr const char* kDebugTracefs = "/sys/kernel/debug/tracing";

// The tracefs root that has events, mounting tracefs on kTracefs when neither root has
// them and we are root; "" when there is none.
std::string FindTracefs();

// The kernel functions ftrace can trace (`available_filter_functions` under `root`;
// module functions, which carry a ` [module]` suffix, left out). False when the file
// cannot be read (some kernels and containers allow only privileged readers).
// With `module`, that module's functions instead (their ` [module]` suffix removed).
bool ReadTraceableFunctions(const std::string& root, std::unordered_set<std::string>* out,
                            const std::string& module = "");

}  // namespace btap
