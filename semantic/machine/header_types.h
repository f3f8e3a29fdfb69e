// `@cast`'s types from C headers: stap's "<sys/time.h>" (user space, several as
// "<a.h><b.h>") and "kernel<linux/fs.h>" module spellings, and the DWARF of a user header
// list, compiled once per compile by the compiler the driver hands in (codegen's Clang).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "semantic/machine/debuginfo.h"

namespace btap::sema {

// Whether one part of a `@cast` module list names headers: "<...>..." or "kernel<...>".
inline bool IsHeaderModule(std::string_view part) {
  return part.starts_with('<') || part.starts_with("kernel<");
}

// Whether it names user headers ("<...>..."), whose types come from their compiled DWARF
// (a "kernel<...>" part takes its types from the kernel's BTF).
inline bool IsUserHeaderModule(std::string_view part) { return part.starts_with('<'); }

// The headers of such a part, in order ("<a.h><b.h>" gives a.h and b.h); false with `error`
// when it is not a list of `<name>`s, or a name has characters other than letters, digits
// and `/_.+-` (stap skips such a name with a warning; here it is an error).
bool HeaderList(std::string_view part, std::vector<std::string>* headers, std::string* error);

// Compiles `headers` for their types: the path of a relocatable object whose DWARF has
// them, or "" with `error` (the compiler's first error).
using HeaderCompiler =
    std::function<std::string(const std::vector<std::string>& headers, std::string* error)>;

// The DWARF of user header lists, each compiled once.
class HeaderTypes {
 public:
  void set_compiler(HeaderCompiler compiler) { compiler_ = std::move(compiler); }
  // The types of `headers`; null with `error` when they cannot be compiled or read.
  DebugInfo* Get(const std::vector<std::string>& headers, std::string* error);

 private:
  struct Entry {
    std::unique_ptr<DebugInfo> dwarf;
    std::string error;
  };
  HeaderCompiler compiler_;
  std::map<std::vector<std::string>, Entry> compiled_;
};

}  // namespace btap::sema
