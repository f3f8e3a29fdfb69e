// The intrinsic table (intrinsics.def) as data: names, types and parameters.
#pragma once

#include <span>
#include <string_view>

#include "frontend/ast.h"

namespace btap::sema {

enum class Intrinsic : uint16_t {
#define INTRINSIC(name, ret, params, where) name,
#include "semantic/intrinsics.def"
#undef INTRINSIC
};

struct IntrinsicInfo {
  std::string_view name;  // as called: __btap_<name>
  ast::Type ret;
  std::string_view params;  // L long, S string
  bool task = false;        // reads the interrupted task or memory (kernel side only)
};

inline constexpr std::string_view kIntrinsicPrefix = "__btap_";

std::span<const IntrinsicInfo> Intrinsics();
const IntrinsicInfo* FindIntrinsic(std::string_view called_name);

}  // namespace btap::sema
