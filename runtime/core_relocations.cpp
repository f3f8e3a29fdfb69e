// Explaining a failed CO-RE relocation (see core_relocations.h).
#include "runtime/core_relocations.h"

namespace btap::runtime {

std::string ExplainCoreFailure(const std::string& log, const meta::Meta& meta) {
  // "failed to resolve CO-RE relocation <byte_off> [22] struct task_struct.user_dumpable (...)"
  size_t at = log.find("failed to resolve CO-RE relocation");
  if (at == std::string::npos) return "";
  size_t close = log.find(']', at);
  size_t end = close == std::string::npos ? close : log.find_first_of("(\n", close);
  if (end == std::string::npos) return "";
  std::string spec = log.substr(close + 1, end - close - 1);
  while (!spec.empty() && spec.front() == ' ') spec.erase(0, 1);
  while (!spec.empty() && spec.back() == ' ') spec.pop_back();
  size_t dot = spec.find('.');
  if (spec.empty()) return "";
  std::string message = dot == std::string::npos
                            ? "this kernel has no `" + spec + "`"
                            : "this kernel's `" + spec.substr(0, dot) + "` has no member `" +
                                  spec.substr(dot + 1) + "`";
  for (const auto& [site, where] : meta.core_sites)
    if (site == spec) return message + ", read at " + where;
  return message;
}

}  // namespace btap::runtime
