// The kernel's types as a C header (see kernel_header.h), with libbpf's btf_dump.
#include "codegen/kernel_header.h"

#include "codegen/embedded_c.h"

#include <bpf/btf.h>
#include <clang/Basic/Version.h>
#include <fcntl.h>
#include <llvm/Support/xxhash.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/private_cache.h"

namespace btap::codegen {
namespace {

// Bumped when the header's text changes, so that older cached copies are not used.
// 4: named by an xxHash64 of the BTF (before, FNV-1a)
constexpr const char* kFormat = "4";

void Append(void* out, const char* format, va_list args) {
  va_list copy;
  va_copy(copy, args);
  int n = std::vsnprintf(nullptr, 0, format, copy);
  va_end(copy);
  if (n <= 0) return;
  auto* s = static_cast<std::string*>(out);
  size_t at = s->size();
  s->resize(at + n + 1);
  std::vsnprintf(s->data() + at, n + 1, format, args);
  s->resize(at + n);
}

bool Dump(const struct btf* btf, std::string* header, std::string* error) {
  std::string body;
  struct btf_dump* d = btf_dump__new(btf, Append, &body, nullptr);
  if (!d) {
    *error = std::string("cannot write the kernel's types as C: ") + std::strerror(errno);
    return false;
  }
  for (uint32_t id = 1; id < btf__type_cnt(btf); ++id)
    if (btf_dump__dump_type(d, id) < 0) {
      btf_dump__free(d);
      *error = "cannot write the kernel's type " + std::to_string(id) + " as C";
      return false;
    }
  btf_dump__free(d);
  *header =
      "#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n" +
      body + "#pragma clang attribute pop\n";
  return true;
}

}  // namespace

bool KernelTypesHeader(const struct btf* btf, KernelTypes* out, std::string* error) {
  uint32_t size = 0;
  const void* raw = btf__raw_data(btf, &size);
  if (!raw) {
    *error = "the kernel's BTF is unreadable";
    return false;
  }
  uint64_t hash = llvm::xxHash64(llvm::ArrayRef(static_cast<const uint8_t*>(raw), size));
  char name[96];
  // A precompiled header is only good for the Clang that made it.
  std::snprintf(name, sizeof name, "/vmlinux-%s-clang%s-%016llx.h", kFormat, CLANG_VERSION_STRING,
                static_cast<unsigned long long>(hash));
  std::string dir = UserCacheDir("headers");
  std::string header = dir + name, pch = header + ".pch";
  if (!dir.empty() && MakePrivateDirs(dir)) {
    // Clang refuses a precompiled header older than its header: then both are made again.
    struct stat h, p;
    if (stat(header.c_str(), &h) == 0 && S_ISREG(h.st_mode) && stat(pch.c_str(), &p) == 0 &&
        S_ISREG(p.st_mode) && p.st_mtim.tv_sec >= h.st_mtim.tv_sec) {
      out->pch = pch;
      return true;
    }
    if (!Dump(btf, &out->text, error)) return false;
    std::string temp = pch + ".XXXXXX";  // a name of our own, which Clang then writes
    int fd = mkostemp(temp.data(), O_CLOEXEC);
    if (fd >= 0) close(fd);
    std::string ignored;
    if (fd >= 0 && WriteWhole(header, out->text) && PrecompileHeader(header, temp, &ignored) &&
        rename(temp.c_str(), pch.c_str()) == 0) {
      out->pch = pch;
      out->text.clear();
      return true;
    }
    unlink(temp.c_str());
    return true;  // the text serves
  }
  return Dump(btf, &out->text, error);
}

}  // namespace btap::codegen
