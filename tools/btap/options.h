// Command-line options of `btap`, spelled as stap spells them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "runtime/output_files.h"

namespace btap::driver {

struct Options {
  int pass = 5;                             // -p N: stop after pass N
  std::optional<std::string> script_text;   // -e SCRIPT
  std::string script_file;                  // FILE, or "-" for standard input
  std::vector<std::string> args;            // script arguments: $1, @1, ...
  std::vector<std::string> include_dirs;    // -I DIR
  std::vector<std::string> defines;         // -D NAME=VALUE
  std::vector<std::string> globals;         // -G VAR=VALUE
  bool guru = false;                        // -g
  int verbose = 0;                          // -v, repeatable
  bool unoptimized = false;                 // -u
  bool no_warnings = false;                 // -w
  bool warnings_as_errors = false;          // -W
  bool keep = false;                        // -k
  std::string module_name;                  // -m NAME
  std::string output_file;                  // -o FILE
  runtime::FileLimit file_limit;            // -S SIZE[,N]
  std::string command;                      // -c CMD
  std::optional<long> target_pid;           // -x PID
  std::optional<double> timeout;            // -T SECONDS
  std::optional<std::string> list_pattern;  // -l / -L PATTERN
  bool list_variables = false;              // -L
  std::string kernel_release;               // -r RELEASE
  std::string arch;                         // -a ARCH
  std::string compatible = "4.8";           // --compatible=VERSION
  bool dump_asm = false;                    // --dump=bpf-asm
  std::string dump_library;    // --dump-functions, --dump-probe-aliases, --dump-probe-types
  int buffer_mb = 0;           // -s NUM (checked, no effect: one ring buffer)
  bool skip_badvars = false;   // --skip-badvars (accepted, not supported yet)
  bool disable_cache = false;  // --disable-cache: neither read nor write it
  bool poison_cache = false;   // --poison-cache: never read it, still write it
  bool clean_cache = false;    // --clean-cache: empty it, then exit
  // stap options accepted for compatibility that change nothing under btap: one warning
  // each ("`-t` is ignored: ..."), printed by the driver unless -w.
  std::vector<std::string> warnings;
  bool help = false;
  bool version = false;
  bool man = false;  // --man: print btap.1
};

// Parses argv (without the program name) and checks the values as stap does at pass 1.
// On error returns false and sets *error.
bool ParseOptions(const std::vector<std::string>& argv, Options* options, std::string* error);
const char* UsageText();

// stap's `-m` rule: a trailing .ko/.so/.bo is dropped, the rest must match ^[a-z0-9_]+$,
// and names of 55 characters or more are cut to 55 (the kernel's MODULE_NAME_LEN - 1).
// Returns false with *error for an invalid name; *warning says what was changed, if anything.
bool CheckModuleName(std::string* name, std::string* error, std::string* warning);

// The program a path-less `process` probe names: -c's first word (the command is split
// on blanks, without shell quoting, as stap splits it), or the executable of -x's process
// (/proc/PID/exe followed, so that the object names the file, not the pid). "" without a
// target, or with *error set when -x's executable cannot be read or has been deleted.
std::string TargetProgram(const Options& options, std::string* error);

}  // namespace btap::driver
