// Opening user binaries and their debug information once per compile (user_binary.h).
#include "semantic/machine/user_binary.h"

namespace btap::sema {

UserBinary::UserBinary(std::string path) : path_(std::move(path)) {
  elf_ = ElfImage::Open(path_, &error_);
}

DebugInfo* UserBinary::dwarf() {
  if (dwarf_tried_ || !elf_) return dwarf_.get();
  dwarf_tried_ = true;
  dwarf_ = DebugInfo::Open(*elf_, &dwarf_error_);
  return dwarf_.get();
}

const DebugFunction* UserBinary::FunctionByDie(uint64_t die) {
  DebugInfo* d = dwarf();
  if (!d) return nullptr;
  const std::vector<DebugFunction>& all = d->functions();
  if (by_die_.empty())
    for (size_t i = 0; i < all.size(); ++i) by_die_.emplace(all[i].die, i);
  auto it = by_die_.find(die);
  return it == by_die_.end() ? nullptr : &all[it->second];
}

UserBinary& BinaryCache::Get(const std::string& path) {
  std::unique_ptr<UserBinary>& slot = binaries_[path];
  if (!slot) slot = std::make_unique<UserBinary>(path);
  return *slot;
}

}  // namespace btap::sema
