// btaprun: runs an object compiled by `btap -p4` (like staprun). It links the runtime
// only — no LLVM, no tapsets — and trusts nothing in the object before checking it.
#include <fcntl.h>
#include <getopt.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "runtime/attach/attach.h"
#include "runtime/core_relocations.h"
#include "runtime/object.h"
#include "runtime/output_files.h"
#include "runtime/session.h"

namespace {

constexpr char kName[] = "btaprun";

const char kUsage[] =
    "Usage: btaprun [OPTIONS] OBJECT.bo [NAME=VALUE...]\n"
    "Runs a BPF object compiled by `btap -p4`.\n"
    "  -o FILE     send the script's output to FILE (strftime % sequences expanded)\n"
    "  -S SIZE[,N] with -o: move the output to the next file (FILE.0, FILE.1 ...) before\n"
    "              one passes SIZE megabytes; keep the last N files\n"
    "  -T SECONDS  stop after this many seconds\n"
    "  -c CMD      run CMD once the probes are attached; stop when it exits\n"
    "  -x PID      set target() to PID\n"
    "  -L          list the object's probe points, noting what this machine would not attach\n"
    "              and the kernel members and system calls it reads that this kernel lacks\n"
    "  -v          say how each probe attaches (on standard error)\n"
    "  -V          print the version and exit\n"
    "  -h          print this text and exit\n"
    "  NAME=VALUE  set the script's global NAME (a long or a string) before the begin probes\n";

int UsageError(const std::string& why) {
  std::cerr << kName << ": error: " << why << '\n' << kUsage;
  return 1;
}

int Error(const std::string& why) {
  std::cerr << kName << ": error: " << why << '\n';
  return 1;
}

// The whole file, or false with the system's reason (missing, permission, a directory).
bool ReadFile(const char* path, std::vector<uint8_t>* bytes, std::string* error) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    close(fd);
    fd = -1;
    errno = EISDIR;
  }
  if (fd < 0) {
    *error = std::strerror(errno);
    return false;
  }
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof buffer)) != 0) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = std::strerror(errno);
      close(fd);
      return false;
    }
    bytes->insert(bytes->end(), buffer, buffer + n);
  }
  close(fd);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  btap::runtime::ReserveStandardDescriptors();
  btap::runtime::RunOptions options;
  options.program_name = kName;
  std::string output;
  btap::runtime::FileLimit limit;
  bool list = false;
  opterr = 0;  // getopt would name the program by its path
  int c;
  while ((c = getopt(argc, argv, "+:o:S:T:c:x:LvVh")) != -1) {
    char* end = nullptr;
    switch (c) {
      case 'o':
        output = optarg;
        break;
      case 'S':
        if (std::string why; !btap::runtime::ParseFileLimit(optarg, &limit, &why))
          return UsageError(why);
        break;
      case 'T':
        if (!btap::runtime::ParseTimeout(optarg, &options.timeout_seconds))
          return UsageError("-T expects a positive number of seconds, not `" + std::string(optarg) +
                            "`");
        break;
      case 'c':
        options.command = optarg;
        break;
      case 'x':
        errno = 0;
        options.target_pid = std::strtol(optarg, &end, 10);
        if (*end || !*optarg || errno || options.target_pid <= 0)
          return UsageError("-x expects a process id, not `" + std::string(optarg) + "`");
        break;
      case 'L':
        list = true;
        break;
      case 'v':
        options.verbose = true;
        break;
      case 'V':
        std::cout << kName << ' ' << BTAP_VERSION << " (runs objects of btap " << BTAP_VERSION
                  << ", .btap.meta version " << btap::meta::kVersion << ")\n";
        return 0;
      case 'h':
        std::cout << kUsage;
        return 0;
      case ':':
        return UsageError("option `-" + std::string(1, static_cast<char>(optopt)) +
                          "` needs an argument");
      default:
        return UsageError("unknown option `-" + std::string(1, static_cast<char>(optopt)) + "`");
    }
  }
  if (optind >= argc) return UsageError("no object given");
  if (!options.command.empty() && options.target_pid)
    return UsageError("-c and -x cannot be given together");
  if (limit.bytes && output.empty())  // as staprun
    return UsageError("-S needs -o FILE: its files are FILE.0, FILE.1 ...");
  const char* path = argv[optind];
  for (int i = optind + 1; i < argc; ++i) {
    std::string arg = argv[i];
    size_t eq = arg.find('=');
    if (eq == std::string::npos || eq == 0)
      return UsageError("`" + arg + "`: expected NAME=VALUE after the object");
    options.globals.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
  }

  std::vector<uint8_t> object;
  std::string error;
  if (!ReadFile(path, &object, &error))
    return Error("cannot read `" + std::string(path) + "`: " + error);
  if (list) {  // nothing is loaded: the metadata, checked, says what there is
    btap::meta::Meta meta;
    if (!btap::runtime::ReadObjectMeta(object, &meta, &error))
      return Error(std::string(path) + ": " + error);
    for (const std::string& line : btap::runtime::PreviewAttachments(meta))
      std::cout << line << '\n';
    // The members and types this kernel lacks that the programs read outside a load-time
    // @defined: the object may not load here.
    btap::runtime::KernelTypes kernel = btap::runtime::KernelTypes::Running();
    std::string missing = btap::runtime::UnsatisfiedCoreRelocations(object, meta, kernel);
    for (size_t at = 0; !missing.empty() && at < missing.size();) {
      size_t end = std::min(missing.find('\n', at), missing.size());
      std::cout << (at == 0 ? "# may not load here: " : "# ") << missing.substr(at, end - at)
                << '\n';
      at = end + 1;
    }
    return 0;
  }
  btap::runtime::Session session;
  if (!session.Open(std::move(object), &error)) return Error(std::string(path) + ": " + error);
  // Names and values are checked before anything is loaded into the kernel.
  for (const auto& [name, value] : options.globals) {
    const btap::meta::Global* global;
    std::vector<uint8_t> bytes;
    if (!btap::runtime::GlobalAssignment(session.meta(), name, value, &global, &bytes, &error))
      return Error(error);
  }
  if (output.empty()) {
    options.output_fd = STDOUT_FILENO;
    return session.Execute(options, std::cout, std::cerr);
  }
  // As staprun: the name is expanded, and the file truncated, when the run starts.
  btap::runtime::OutputFiles files;
  if (!files.Open(output, limit, &error)) return Error(error);
  options.files = &files;
  int status = session.Execute(options, files.stream(), std::cerr);
  // (A failure the session met it reported, naming the file it could not make.)
  if (!session.output_failed() && !files.stream().flush())
    return Error("cannot write output file `" + files.name() + "`: " + std::strerror(errno));
  return status;
}
