// btap's HelperSDT library (python/): where it is on this machine, and where a mark of
// it is in that file. The compiler and the runtime search alike, so an object compiled
// elsewhere attaches to the copy installed here (python probes are not tied to one build).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace btap {

// The places searched, in order: $BTAP_HELPERSDT/HelperSDT (when set), then beside the
// running binary (the build tree's python/) and in its installation (lib/btap/python/).
std::vector<std::string> HelperSdtCandidates(const char* env, const std::string& exe);

// The first of HelperSdtCandidates that holds the library, for this process (its
// environment and /proc/self/exe); "" with `why` naming the places looked at otherwise.
std::string HelperSdtLibrary(std::string* why);
std::string HelperSdtLibrary(const std::vector<std::string>& candidates, std::string* why);

// A mark of the library's provider `btap_python`: its file offset, its semaphore's (0:
// none) and its operands, read from the file's own .note.stapsdt. False with `why` when the file is
// not ELF or has no such mark.
struct SdtPlace {
  uint64_t offset = 0;
  uint64_t semaphore = 0;
  std::string args;  // the operands (`8@%rdi ...`)
};
bool FindHelperSdtMark(const std::string& library, const std::string& mark, SdtPlace* out,
                       std::string* why);

}  // namespace btap
