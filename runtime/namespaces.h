// The namespaces of the process running the session, as the ns_* tapset functions need
// them (common/object_meta.h's kNsFacts): its uid and gid maps and its pid namespace.
#pragma once

#include <cstdint>
#include <string_view>

namespace btap::runtime {

// Fills the kNsFactRows x kNsFactColumns longs at `facts` from /proc/self.
void FillNsFacts(uint64_t* facts);

// One row of a map in /proc/PID/uid_map's text ("first lower count" lines, at most 5).
void ParseIdMap(std::string_view text, uint64_t* row);

}  // namespace btap::runtime
