// User-space probe points of the process family: functions, statements and SDT marks
// of a program or its libraries (user_probes.cpp).
#pragma once

#include <span>
#include <vector>

#include "semantic/probe_family.h"

namespace btap::sema {

// `parts` fit one of the process(...) function/statement/mark patterns.
void ResolveUserProbe(std::span<const PointPart> parts, ResolveContext& ctx,
                      std::vector<ProbeSpec>& out);

}  // namespace btap::sema
