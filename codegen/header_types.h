// The types of C headers for `@cast(p, "T", "<sys/time.h>")`, as stap gets them: the
// headers compiled (by Clang, in process, for the machine btap runs on) with debug
// information for every type they declare, into an object whose DWARF pass 2 reads.
#pragma once

#include <string>
#include <vector>

namespace btap::codegen {

// Compiles a translation unit that includes `headers` in order (each as `-include` would:
// relative to the current folder first, then the system's include folders) to a
// relocatable object with DWARF. The object is cached under ~/.cache/btap/header-types,
// named by a hash of the header list, where each header was found and when it changed,
// the folder and the compiler's flags and version, so a second compile does not run Clang
// (unless a file the headers include changed: the files read are listed beside it);
// without a usable cache it is kept in memory (a memfd) for this process. The cache folder
// is used only when private (OpenPrivateDir) and the object only when a regular file of
// ours, read through the descriptor that checked it. Returns the object's path, or ""
// with `error` (Clang's first error; a header that is not a regular file). `files`, when
// given, gets the absolute names of the files Clang read for the types (when it compiled,
// or when the cached object was compiled).
std::string CompileHeaderTypes(const std::vector<std::string>& headers, std::string* error,
                               std::vector<std::string>* files = nullptr);

}  // namespace btap::codegen
