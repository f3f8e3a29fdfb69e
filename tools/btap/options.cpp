// Option parsing for `btap`: stap's short options (attached or separate arguments),
// its long options, and the script/argument split (options may come anywhere, as
// with GNU getopt; `--` ends them).
#include "tools/btap/options.h"

#include <algorithm>
#include <cstdlib>

namespace btap::driver {

const char* UsageText() {
  return R"(usage: btap [options] FILE [ARGS...]      run a script file ('-' reads standard input)
       btap [options] -e SCRIPT [ARGS...]    run a script given on the command line
       btap [options] -l PATTERN | -L PATTERN   list matching probe points

options:
  -p NUM          stop after pass NUM (1 parse, 2 elaborate, 3 translate, 4 compile, 5 run)
  -e SCRIPT       the script text
  -I DIR          look for tapsets and library macros in DIR too
  -D NAME=VALUE   set a limit such as MAXSTRINGLEN or MAXMAPENTRIES
  -G VAR=VALUE    set a global variable's initial value
  -g              guru mode: allow embedded C in the script
  -u              keep unused functions, globals and locals
  -w              suppress warnings;  -W  treat warnings as errors
  -v              more verbose (repeat for more)
  -k              keep temporary files
  -m NAME         name of the compiled object (kept with -p4 or -k)
  -o FILE         write the script's output to FILE (strftime % sequences expand);
                  with -p4, write the object to FILE
  -c CMD          run CMD and stop when it exits (target() is its pid)
  -x PID          set target() to PID
  -T SECONDS      stop after SECONDS
  -r RELEASE      kernel release for preprocessor conditions
  -a ARCH         architecture for preprocessor conditions
  --compatible=V  language version for `systemtap_v` conditions (default 4.8)
  --runtime=bpf   the runtime (bpf is the only one; --bpf says the same)
  -s NUM, -t, --disable-cache, --skip-badvars, --suppress-time-limits, --all-modules ...
                  stap options that change nothing here: accepted with a warning
  --dump=bpf-asm  with -p3: print BPF instructions instead of LLVM IR
  -h, --help      this text;  -V, --version  the version
)";
}

namespace {

// stap's rule for -m: [a-z_][a-z0-9_]*, at most 55 characters (a kernel module's name
// there; btap keeps it for the object's).
bool ValidModuleName(const std::string& s) {
  if (s.empty() || s.size() > 55) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool ToInt(const std::string& s, long* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

}  // namespace

bool ParseOptions(const std::vector<std::string>& argv, Options* o, std::string* error) {
  // Short options that take an argument.
  const std::string with_arg = "peIDGmocxTrasRBSdLl";
  size_t i = 0;
  std::vector<std::string> positional;
  auto fail = [&](std::string msg) {
    *error = std::move(msg);
    return false;
  };
  for (; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--") {
      ++i;
      break;
    }
    if (a.rfind("--", 0) == 0) {
      std::string name = a.substr(2), value;
      size_t eq = name.find('=');
      bool has_value = eq != std::string::npos;
      if (has_value) value = name.substr(eq + 1), name = name.substr(0, eq);
      // stap's options that change nothing here: accepted, with a warning (the value of
      // those that take one is consumed).
      static const std::vector<std::string> kIgnoredFlags = {"disable-cache",
                                                             "skip-badvars",
                                                             "suppress-time-limits",
                                                             "all-modules",
                                                             "poison-cache",
                                                             "clean-cache",
                                                             "ldd",
                                                             "privilege",
                                                             "unprivileged",
                                                             "suppress-handler-errors",
                                                             "vp",
                                                             "color",
                                                             "colour",
                                                             "prologue-searching",
                                                             "no-prologue-searching",
                                                             "save-uprobes",
                                                             "sysroot",
                                                             "sysenv",
                                                             "use-server",
                                                             "use-server-on-error",
                                                             "download-debuginfo",
                                                             "rlimit-as",
                                                             "rlimit-cpu",
                                                             "rlimit-nproc",
                                                             "rlimit-stack",
                                                             "rlimit-fsize",
                                                             "tmpdir",
                                                             "modinfo",
                                                             "benchmark-sdt",
                                                             "remote",
                                                             "remote-prefix",
                                                             "target-namespaces"};
      static const std::vector<std::string> kWithValue = {
          "vp",           "privilege",    "sysroot",
          "sysenv",       "use-server",   "download-debuginfo",
          "rlimit-as",    "rlimit-cpu",   "rlimit-nproc",
          "rlimit-stack", "rlimit-fsize", "tmpdir",
          "modinfo",      "remote",       "target-namespaces"};
      if (name == "help")
        o->help = true;
      else if (name == "version")
        o->version = true;
      else if (name == "bpf")  // stap 5's spelling of --runtime=bpf
        continue;
      else if (std::find(kIgnoredFlags.begin(), kIgnoredFlags.end(), name) != kIgnoredFlags.end()) {
        bool takes_value =
            std::find(kWithValue.begin(), kWithValue.end(), name) != kWithValue.end();
        if (takes_value && !has_value && i + 1 < argv.size()) ++i;
        o->ignored.push_back("--" + name);
      } else if (name == "runtime") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value != "bpf")
          return fail("unsupported runtime `" + value + "`; btap's only runtime is `bpf`");
      } else if (name == "dump") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value != "bpf-asm")
          return fail("unknown dump `" + value + "`; `--dump=bpf-asm` prints the instructions");
        o->dump_asm = true;
      } else if (name == "compatible") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value.empty()) return fail("`--compatible` needs a version");
        o->compatible = value;
      } else {
        return fail("unknown option `" + a + "`");
      }
      continue;
    }
    if (a.size() < 2 || a[0] != '-') {  // the script file, "-", or a script argument
      positional.push_back(a);
      continue;
    }
    for (size_t j = 1; j < a.size(); ++j) {
      char c = a[j];
      std::string value;
      if (with_arg.find(c) != std::string::npos) {
        if (j + 1 < a.size())
          value = a.substr(j + 1);
        else if (i + 1 < argv.size())
          value = argv[++i];
        else
          return fail(std::string("option `-") + c + "` needs an argument");
        j = a.size();
      }
      long n = 0;
      switch (c) {
        case 'h':
          o->help = true;
          break;
        case 'V':
          o->version = true;
          break;
        case 'v':
          ++o->verbose;
          break;
        case 'g':
          o->guru = true;
          break;
        case 'u':
          o->unoptimized = true;
          break;
        case 'w':
          o->no_warnings = true;
          break;
        case 'W':
          o->warnings_as_errors = true;
          break;
        case 'k':
          o->keep = true;
          break;
        case 'p':
          if (!ToInt(value, &n) || n < 1 || n > 5)
            return fail("`-p` takes a pass number from 1 to 5");
          o->pass = static_cast<int>(n);
          break;
        case 'e':
          if (o->script_text) return fail("only one script can be given on the command line");
          o->script_text = value;
          break;
        case 'I':
          o->include_dirs.push_back(value);
          break;
        case 'D':
          o->defines.push_back(value);
          break;
        case 'G':
          o->globals.push_back(value);
          break;
        case 'm':
          if (!ValidModuleName(value))
            return fail("`-m " + value +
                        "`: a module name is letters, digits and `_`, starts with a letter "
                        "or `_`, and has at most 55 characters (as stap requires)");
          o->module_name = value;
          break;
        case 'o':
          o->output_file = value;
          break;
        case 'c':
          o->command = value;
          break;
        case 'x':
          if (!ToInt(value, &n) || n <= 0) return fail("`-x` takes a process id");
          o->target_pid = n;
          break;
        case 'T': {
          char* end = nullptr;
          double t = std::strtod(value.c_str(), &end);
          if (value.empty() || *end || t <= 0)
            return fail("`-T` takes a positive number of seconds");
          o->timeout = t;
          break;
        }
        case 'l':
          o->list_pattern = value;
          break;
        case 'L':
          o->list_pattern = value, o->list_variables = true;
          break;
        case 'r':
          o->kernel_release = value;
          break;
        case 'a':
          o->arch = value;
          break;
        case 's':
          if (!ToInt(value, &n) || n < 1 || n > 4095)
            return fail("`-s " + value +
                        "`: the buffer size is 1 to 4095 megabytes (as stap requires)");
          break;  // btap's ring buffer is sized by -D BTAP_RINGBUF_BYTES
        case 't':
          o->ignored.push_back("-t");
          break;
        case 'R':
        case 'B':
        case 'S':
        case 'd':
          break;  // accepted, no effect on btap
        default:
          return fail(std::string("unknown option `-") + c + "`");
      }
    }
  }
  if (!o->command.empty() && o->target_pid)
    return fail("`-c` and `-x` cannot be given together (as in stap)");
  // Like GNU getopt, options may follow the script; `--` ends them.
  std::vector<std::string> rest = positional;
  rest.insert(rest.end(), argv.begin() + static_cast<long>(i), argv.end());
  if (o->help || o->version) return true;
  if (o->list_pattern) {
    o->args = rest;
    return true;
  }
  if (!o->script_text) {
    if (rest.empty())
      return fail("no script given; use `btap FILE`, `btap -e SCRIPT` or `btap -` (see `btap -h`)");
    o->script_file = rest.front();
    rest.erase(rest.begin());
  }
  o->args = rest;
  return true;
}

}  // namespace btap::driver
