// Where tracefs is: the elaborator lists events from it and the runtime attaches classic
// tracepoints through it. Mounted when missing, as stap and perf do on a fresh system.
#pragma once

#include <string>

namespace btap {

inline constexpr const char* kTracefs = "/sys/kernel/tracing";
inline constexpr const char* kDebugTracefs = "/sys/kernel/debug/tracing";

// The tracefs root that has events, mounting tracefs on kTracefs when neither root has
// them and we are root; "" when there is none.
std::string FindTracefs();

}  // namespace btap
