// The kernel's types as a C header (see kernel_header.h), with libbpf's btf_dump.
#include "codegen/kernel_header.h"

#include "codegen/embedded_c.h"

#include <bpf/btf.h>
#include <clang/Basic/Version.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace btap::codegen {
namespace {

// Bumped when the header's text changes, so that older cached copies are not used.
constexpr const char* kFormat = "3";  // 3: precompiled headers without timestamps

std::string CacheDir() {
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  if (xdg && *xdg) return std::string(xdg) + "/btap/headers";
  if (home && *home) return std::string(home) + "/.cache/btap/headers";
  return "";
}

// Makes the missing levels private (0700); false unless the folder is ours and nobody
// else may write it: its files are compiled into the probes (kernel_image.cpp does the
// same for its BTF copies).
bool PrivateDir(const std::string& path) {
  for (size_t at = 1; at <= path.size(); ++at)
    if (at == path.size() || path[at] == '/')
      if (mkdir(path.substr(0, at).c_str(), 0700) != 0 && errno != EEXIST) return false;
  struct stat st;
  if (stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return st.st_uid == geteuid() && !(st.st_mode & (S_IWGRP | S_IWOTH));
}

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

// Writes `text` to `path` whole: under a temporary name of our own, then renamed.
bool WriteWhole(const std::string& path, const std::string& text) {
  std::string temp = path + ".XXXXXX";
  int fd = mkostemp(temp.data(), O_CLOEXEC);
  if (fd < 0) return false;
  bool written = true;
  for (size_t at = 0; written && at < text.size();) {
    ssize_t n = write(fd, text.data() + at, text.size() - at);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    at += written ? static_cast<size_t>(n) : 0;
  }
  if (close(fd) != 0) written = false;
  if (written && rename(temp.c_str(), path.c_str()) == 0) return true;
  unlink(temp.c_str());
  return false;
}

bool KernelTypesHeader(const struct btf* btf, KernelTypes* out, std::string* error) {
  uint32_t size = 0;
  const void* raw = btf__raw_data(btf, &size);
  if (!raw) {
    *error = "the kernel's BTF is unreadable";
    return false;
  }
  uint64_t hash = 1469598103934665603ull;  // FNV-1a over the BTF
  for (const unsigned char *p = static_cast<const unsigned char*>(raw), *end = p + size; p < end;
       ++p)
    hash = (hash ^ *p) * 1099511628211ull;
  char name[96];
  // A precompiled header is only good for the Clang that made it.
  std::snprintf(name, sizeof name, "/vmlinux-%s-clang%s-%016llx.h", kFormat, CLANG_VERSION_STRING,
                static_cast<unsigned long long>(hash));
  std::string dir = CacheDir();
  std::string header = dir + name, pch = header + ".pch";
  if (!dir.empty() && PrivateDir(dir)) {
    // Clang refuses a precompiled header older than its header: then both are made again.
    struct stat h, p;
    if (stat(header.c_str(), &h) == 0 && S_ISREG(h.st_mode) && stat(pch.c_str(), &p) == 0 &&
        S_ISREG(p.st_mode) && p.st_mtim.tv_sec >= h.st_mtim.tv_sec) {
      out->pch = pch;
      return true;
    }
    if (!Dump(btf, &out->text, error)) return false;
    std::string temp = pch + ".tmp" + std::to_string(getpid());
    std::string ignored;
    if (WriteWhole(header, out->text) && PrecompileHeader(header, temp, &ignored) &&
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
