// C headers compiled for their types' DWARF (header_types.h): Clang's driver works out the
// host's include folders, and the object is emitted to memory by the native backend.
#include "codegen/header_types.h"

#include <clang/Basic/Version.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticBuffer.h>
#include <clang/Frontend/Utils.h>
#include <fcntl.h>
#include <limits.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/ADT/StringSet.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <mutex>

#include "common/private_cache.h"

#ifndef BTAP_CLANG_DRIVER
#define BTAP_CLANG_DRIVER "/usr/lib/llvm-16/bin/clang"
#endif

namespace btap::codegen {
namespace {

// As stap's own compile of a header list: C, debug information that keeps every type the
// headers declare (used or not), no code.
const std::vector<const char*>& Flags() {
  static const std::vector<const char*> flags = {
      "-x", "c", "-c", "-O0", "-g", "-gdwarf-4", "-fno-eliminate-unused-debug-types", "-w"};
  return flags;
}

// Where a header may be found, in the order looked at: as named (relative to the current
// folder), then in the system's include folders.
std::vector<std::string> Places(const std::string& header) {
  std::vector<std::string> places{header};
  if (header[0] != '/')
    for (const char* dir : {"/usr/local/include/", "/usr/include/x86_64-linux-gnu/",
                            "/usr/include/aarch64-linux-gnu/", "/usr/include/"})
      places.push_back(dir + header);
  return places;
}

// The first place of `header` that is there and not a folder (Clang passes over folders):
// "" when there is none; false with `error` when it is something other than a regular file
// (`</dev/zero>`, `</dev/stdin>` on a pipe), which Clang would read without end.
bool Resolve(const std::string& header, std::string* found, std::string* error) {
  found->clear();
  for (const std::string& p : Places(header)) {
    struct stat st;
    if (stat(p.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;
    if (!S_ISREG(st.st_mode)) {
      *error = "the header <" + header + "> is `" + p + "`, which is not a regular file";
      return false;
    }
    *found = p;
    return true;
  }
  return true;
}

// Where a header was found, with its size and time, for the cache's name: a header
// changed by a package upgrade then gives another name.
std::string Whereabouts(const std::string& header) {
  std::string p, unused;
  struct stat st;
  if (Resolve(header, &p, &unused) && !p.empty() && stat(p.c_str(), &st) == 0)
    return p + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
           std::to_string(st.st_mtim.tv_nsec);
  return header + ":?";
}

// An absolute name of a regular file, or "" (Clang's main file /dev/null, a file gone).
std::string AbsoluteFile(const std::string& path) {
  char real[PATH_MAX];
  struct stat st;
  if (!realpath(path.c_str(), real) || stat(real, &st) != 0 || !S_ISREG(st.st_mode)) return "";
  return real;
}

std::string Identity(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + " " + path;
}

// The files a cached object was compiled from, "SIZE TIME PATH" a line (its `.files`
// beside it): true with their names while every one is as it was then.
bool Unchanged(int dir_fd, const std::string& name, std::vector<std::string>* files) {
  int fd = OpenPrivateFile(dir_fd, name);
  if (fd < 0) return false;
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  close(fd);
  files->clear();
  for (size_t at = 0, end; at < text.size(); at = end + 1) {
    end = text.find('\n', at);
    if (end == std::string::npos) return false;  // torn
    std::string line = text.substr(at, end - at);
    size_t path = line.find(' ', line.find(' ') + 1);
    if (path == std::string::npos || Identity(line.substr(path + 1)) != line) return false;
    files->push_back(line.substr(path + 1));
  }
  return true;
}

// Every file Clang reads, system headers too.
class ReadFiles : public clang::DependencyCollector {
 public:
  bool needSystemDependencies() override { return true; }
};

std::string CacheName(const std::vector<std::string>& headers) {
  std::string key = CLANG_VERSION_STRING;
  for (const char* f : Flags()) key += std::string("\n") + f;
  char cwd[4096];
  key += "\n" + std::string(getcwd(cwd, sizeof cwd) ? cwd : "?");
  for (const std::string& h : headers) key += "\n" + Whereabouts(h);
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.o",
                static_cast<unsigned long long>(llvm::xxHash64(llvm::StringRef(key))));
  return name;
}

// Clang's message with its quotes as btap quotes code.
std::string Requote(std::string text) {
  for (char& c : text)
    if (c == '\'') c = '`';
  return text;
}

bool Compile(const std::vector<std::string>& headers, llvm::SmallVectorImpl<char>* object,
             std::vector<std::string>* files, std::string* error) {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  std::vector<const char*> args{BTAP_CLANG_DRIVER};
  args.insert(args.end(), Flags().begin(), Flags().end());
  args.push_back("/dev/null");
  for (const std::string& h : headers) {
    args.push_back("-include");
    args.push_back(h.c_str());
  }
  args.push_back("-o");
  args.push_back("/dev/null");  // the object goes to `object` (setOutputStream)
  auto buffer = new clang::TextDiagnosticBuffer;
  auto diags = clang::CompilerInstance::createDiagnostics(new clang::DiagnosticOptions, buffer);
  clang::CreateInvocationOptions options;
  options.Diags = diags;
  std::shared_ptr<clang::CompilerInvocation> invocation = clang::createInvocation(args, options);
  bool ok = invocation != nullptr;
  if (ok) {
    invocation->getDiagnosticOpts().ShowCarets = false;  // no "N errors generated." of its own
    // The driver asks cc1 to leave its AST and code generator unfreed at exit (a process
    // that compiles once); btap compiles again in the same process.
    invocation->getFrontendOpts().DisableFree = false;
    clang::CompilerInstance clang;
    clang.setInvocation(invocation);
    clang.createDiagnostics(buffer, false);
    clang.setOutputStream(std::make_unique<llvm::raw_svector_ostream>(*object));
    auto read = std::make_shared<ReadFiles>();
    clang.addDependencyCollector(read);
    clang::EmitObjAction action;
    ok = clang.ExecuteAction(action) && !object->empty();
    for (const std::string& f : read->getDependencies())
      if (std::string path = AbsoluteFile(f); !path.empty()) files->push_back(path);
  }
  if (!ok) {
    *error = "cannot compile the header" + std::string(headers.size() > 1 ? "s" : "");
    for (const std::string& h : headers) *error += " <" + h + ">";
    for (auto it = buffer->err_begin(); it != buffer->err_end(); ++it) {
      *error += ": " + Requote(it->second);
      break;
    }
  }
  return ok;
}

}  // namespace

std::string CompileHeaderTypes(const std::vector<std::string>& headers, std::string* error,
                               std::vector<std::string>* files) {
  std::vector<std::string> read;
  for (const std::string& h : headers) {
    std::string found;
    if (!Resolve(h, &found, error)) return "";
  }
  std::string dir = UserCacheDir("header-types");
  int dir_fd = dir.empty() ? -1 : OpenPrivateDir(dir);
  std::string name = CacheName(headers);
  std::string path;
  // The cached object is trusted only as a regular file of ours in the private folder, and
  // read through the descriptor so checked (kept open for this process, as the memfd below).
  auto open_cached = [&] {
    int fd = OpenPrivateFile(dir_fd, name);
    if (fd >= 0) path = "/proc/self/fd/" + std::to_string(fd);
    return fd >= 0;
  };
  // A hit needs every file the headers included as it was (the name covers only the
  // headers named).
  if (dir_fd >= 0 && Unchanged(dir_fd, name + ".files", &read) && open_cached()) {
    close(dir_fd);
    if (files) files->insert(files->end(), read.begin(), read.end());
    return path;
  }
  llvm::SmallVector<char, 0> object;
  read.clear();
  if (!Compile(headers, &object, &read, error)) {
    if (dir_fd >= 0) close(dir_fd);
    return "";
  }
  if (files) files->insert(files->end(), read.begin(), read.end());
  std::string list;
  for (const std::string& f : read)
    if (std::string id = Identity(f); !id.empty()) list += id + "\n";
  std::string_view bytes(object.data(), object.size());
  bool cached = dir_fd >= 0 && WriteWhole(dir + "/" + name, bytes) &&
                WriteWhole(dir + "/" + name + ".files", list) && open_cached();
  if (dir_fd >= 0) close(dir_fd);
  if (cached) return path;
  // No cache: the object lives in memory for this process (its path stays open).
  int fd = memfd_create("btap-header-types", MFD_CLOEXEC);
  if (fd >= 0 && write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()))
    return "/proc/self/fd/" + std::to_string(fd);
  if (fd >= 0) close(fd);
  *error = "cannot keep the compiled headers' types (no cache folder, no memory file)";
  return "";
}

}  // namespace btap::codegen
