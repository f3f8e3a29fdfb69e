// btaprun: runs an object compiled by `btap -p4` (like staprun). It links the runtime
// only — no LLVM, no tapsets — and trusts nothing in the object before checking it.
#include <getopt.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "runtime/session.h"

namespace {

const char kUsage[] =
    "Usage: btaprun [-T SECONDS] [-c CMD] [-x PID] OBJECT.bo\n"
    "Runs a BPF object compiled by `btap -p4`.\n"
    "  -T SECONDS  stop after this many seconds\n"
    "  -c CMD      run CMD once the probes are attached; stop when it exits\n"
    "  -x PID      set target() to PID\n";

}  // namespace

int main(int argc, char** argv) {
  btap::runtime::RunOptions options;
  int c;
  while ((c = getopt(argc, argv, "+T:c:x:h")) != -1) {
    char* end = nullptr;
    switch (c) {
      case 'T':
        options.timeout_seconds = std::strtod(optarg, &end);
        if (*end || options.timeout_seconds <= 0) {
          std::cerr << "btaprun: error: -T expects a positive number of seconds\n";
          return 1;
        }
        break;
      case 'c':
        options.command = optarg;
        break;
      case 'x':
        options.target_pid = std::strtol(optarg, &end, 10);
        if (*end || options.target_pid <= 0) {
          std::cerr << "btaprun: error: -x expects a process id\n";
          return 1;
        }
        break;
      case 'h':
        std::cout << kUsage;
        return 0;
      default:
        std::cerr << kUsage;
        return 1;
    }
  }
  if (optind + 1 != argc) {
    std::cerr << kUsage;
    return 1;
  }
  std::ifstream file(argv[optind], std::ios::binary);
  if (!file) {
    std::cerr << "btaprun: error: cannot read `" << argv[optind] << "`\n";
    return 1;
  }
  std::vector<uint8_t> object((std::istreambuf_iterator<char>(file)), {});
  btap::runtime::Session session;
  std::string error;
  if (!session.Open(std::move(object), &error)) {
    std::cerr << "btaprun: error: " << argv[optind] << ": " << error << '\n';
    return 1;
  }
  return session.Execute(options, std::cout, std::cerr);
}
