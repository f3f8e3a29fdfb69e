// The intrinsic table; codegen gives each entry its own small handler.
#include "semantic/intrinsics.h"

#include <vector>

namespace btap::sema {

std::span<const IntrinsicInfo> Intrinsics() {
  static const IntrinsicInfo table[] = {
#define INTRINSIC(name, ret, params, where) \
  {"__btap_" #name, ast::Type::ret, params, std::string_view(#where) == "Task"},
#include "semantic/intrinsics.def"
#undef INTRINSIC
  };
  return table;
}

const IntrinsicInfo* FindIntrinsic(std::string_view called_name) {
  if (called_name.substr(0, kIntrinsicPrefix.size()) != kIntrinsicPrefix) return nullptr;
  for (const IntrinsicInfo& i : Intrinsics())
    if (i.name == called_name) return &i;
  return nullptr;
}

}  // namespace btap::sema
