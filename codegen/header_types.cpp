// C headers compiled for their types' DWARF (header_types.h): Clang's driver works out the
// host's include folders, and the object is emitted to memory by the native backend.
#include "codegen/header_types.h"

#include <clang/Basic/Version.h>
#include <clang/CodeGen/CodeGenAction.h>
#include <clang/Frontend/CompilerInstance.h>
#include <clang/Frontend/CompilerInvocation.h>
#include <clang/Frontend/TextDiagnosticBuffer.h>
#include <clang/Frontend/Utils.h>
#include <llvm/ADT/SmallVector.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Support/xxhash.h>
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

// Where a header would be found, with its size and time, for the cache's name: a header
// changed by a package upgrade then gives another name.
std::string Whereabouts(const std::string& header) {
  std::vector<std::string> places{header};
  if (header[0] != '/')
    for (const char* dir : {"/usr/local/include/", "/usr/include/x86_64-linux-gnu/",
                            "/usr/include/aarch64-linux-gnu/", "/usr/include/"})
      places.push_back(dir + header);
  for (const std::string& p : places) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      return p + ":" + std::to_string(st.st_size) + ":" + std::to_string(st.st_mtim.tv_sec) + "." +
             std::to_string(st.st_mtim.tv_nsec);
  }
  return header + ":?";
}

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
             std::string* error) {
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
    clang::CompilerInstance clang;
    clang.setInvocation(invocation);
    clang.createDiagnostics(buffer, false);
    clang.setOutputStream(std::make_unique<llvm::raw_svector_ostream>(*object));
    clang::EmitObjAction action;
    ok = clang.ExecuteAction(action) && !object->empty();
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

std::string CompileHeaderTypes(const std::vector<std::string>& headers, std::string* error) {
  std::string dir = UserCacheDir("header-types");
  bool cache = !dir.empty() && MakePrivateDirs(dir);
  std::string path = dir + "/" + CacheName(headers);
  struct stat st;
  if (cache && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return path;
  llvm::SmallVector<char, 0> object;
  if (!Compile(headers, &object, error)) return "";
  std::string_view bytes(object.data(), object.size());
  if (cache && WriteWhole(path, bytes)) return path;
  // No cache: the object lives in memory for this process (its path stays open).
  int fd = memfd_create("btap-header-types", MFD_CLOEXEC);
  if (fd >= 0 && write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()))
    return "/proc/self/fd/" + std::to_string(fd);
  if (fd >= 0) close(fd);
  *error = "cannot keep the compiled headers' types (no cache folder, no memory file)";
  return "";
}

}  // namespace btap::codegen
