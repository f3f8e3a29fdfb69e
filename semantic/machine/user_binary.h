// User programs and libraries that process(...) probes name, opened once per compile:
// their ELF facts (symbols, segments, SDT notes) and, when first needed, their DWARF.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "semantic/machine/debuginfo.h"
#include "semantic/machine/elf_image.h"

namespace btap::sema {

class UserBinary {
 public:
  explicit UserBinary(std::string path);
  const std::string& path() const { return path_; }
  const ElfImage* elf() const { return elf_.get(); }
  const std::string& error() const { return error_; }  // why elf() is null
  // The DWARF, looked for on first use; null with dwarf_error() when there is none.
  DebugInfo* dwarf();
  const std::string& dwarf_error() const { return dwarf_error_; }
  // The indexed function whose DIE is `die`, or null.
  const DebugFunction* FunctionByDie(uint64_t die);

 private:
  std::string path_;
  std::unique_ptr<ElfImage> elf_;
  std::string error_;
  std::unique_ptr<DebugInfo> dwarf_;
  std::string dwarf_error_;
  bool dwarf_tried_ = false;
  std::map<uint64_t, size_t> by_die_;
};

class BinaryCache {
 public:
  // By the path as given (callers resolve $PATH first).
  UserBinary& Get(const std::string& path);

 private:
  std::map<std::string, std::unique_ptr<UserBinary>> binaries_;
};

}  // namespace btap::sema
