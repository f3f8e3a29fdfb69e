// Option parsing for `btap`: stap's short options (attached or separate arguments),
// its long options, and the script/argument split (options may come anywhere, as
// with GNU getopt; `--` ends them).
#include "tools/btap/options.h"

#include "codegen/embedded_c.h"
#include "runtime/session.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iterator>

namespace btap::driver {

const char* UsageText() {
  return R"(usage: btap [options] FILE [ARGS...]      run a script file ('-' reads standard input)
       btap [options] -e SCRIPT [ARGS...]    run a script given on the command line
       btap [options] -l PATTERN | -L PATTERN   list matching probe points

options:
  -p NUM          stop after pass NUM (1 parse, 2 elaborate, 3 translate, 4 compile, 5 run)
  -e SCRIPT       the script text
  -I DIR          look for tapsets and library macros in DIR too
  -D NAME=VALUE   set a limit such as MAXSTRINGLEN or MAXMAPENTRIES; also a macro for
                  embedded C (NAME(ARGS)=VALUE: a function-like one)
  -G VAR=VALUE    set a global variable's initial value
  -g              guru mode: allow embedded C in the script
  -u              keep unused functions, globals and locals
  -w              suppress warnings;  -W  treat warnings as errors
  -v              more verbose (repeat for more)
  -k              keep temporary files
  -m NAME         name of the compiled object ([a-z0-9_]+)
  -o FILE         write the script's output to FILE (strftime % sequences expanded);
                  with -p4, write the compiled object to FILE
  -S SIZE[,N]     with -o: move the output to the next file (FILE.0, FILE.1 ...)
                  before one passes SIZE megabytes; keep the last N files
  -c CMD          run CMD and stop when it exits (target() is its pid)
  -x PID          set target() to PID
  -T SECONDS      stop after SECONDS
  -r RELEASE|DIR  compile for that kernel (its image's BTF, release and config)
  -a ARCH         architecture for preprocessor conditions
  --compatible=V  language version for `systemtap_v` conditions (default 4.8)
  --runtime=bpf, --bpf   the runtime (bpf is the only one)
  --dump=bpf-asm  with -p3: print BPF instructions instead of LLVM IR
  --dump-functions, --dump-probe-aliases, --dump-probe-types
                  print the library's functions, its probe aliases, or the probe point
                  patterns, one per line, and exit
  -h, --help      this text;  -V, --version  the version
  --man           print the manual page (roff; `btap --man | man -l -`)
  --disable-cache  neither read nor write the compiled-object cache (`man btap`, CACHING)
  --poison-cache   compile again, ignoring the cache, and store the result
  --clean-cache    empty the cache, then exit

accepted with a warning, no effect: -b -d -P -R -s -t -B, --all-modules, --ldd,
  --skip-badvars, --suppress-time-limits, --modinfo, --prologue-searching, --color,
  --sign-module, --save-uprobes, --download-debuginfo, --use-server-on-error, --rlimit-*
  (see `man btap`)
)";
}

namespace {

// stap options that change nothing under btap: accepted, with the reason in a warning.
enum class Arg { kNone, kOptional, kRequired };
struct Ignored {
  const char* name;
  Arg arg;
  const char* why;
};
constexpr Ignored kIgnoredLong[] = {
    {"skip-badvars", Arg::kNone,
     "not supported yet; an unresolvable context variable is still an error"},
    {"suppress-time-limits", Arg::kNone, "the BPF verifier bounds every kernel probe"},
    {"all-modules", Arg::kNone, "btap reads the symbols it needs when it needs them"},
    {"ldd", Arg::kNone, "btap reads the symbols it needs when it needs them"},
    {"prologue-searching", Arg::kOptional,
     "btap evaluates DWARF locations at the probed address, without prologue heuristics"},
    {"color", Arg::kOptional, "btap prints no colors"},
    {"colour", Arg::kOptional, "btap prints no colors"},
    {"modinfo", Arg::kRequired, "btap builds BPF objects, not kernel modules"},
    {"sign-module", Arg::kOptional, "btap builds BPF objects, not kernel modules"},
    {"save-uprobes", Arg::kNone, "btap uses the kernel's own uprobes"},
    {"download-debuginfo", Arg::kOptional, "btap does not download debuginfo"},
    {"use-server-on-error", Arg::kOptional, "btap always compiles locally"},
    {"rlimit-as", Arg::kRequired, "btap does not limit its own resources"},
    {"rlimit-cpu", Arg::kRequired, "btap does not limit its own resources"},
    {"rlimit-nproc", Arg::kRequired, "btap does not limit its own resources"},
    {"rlimit-stack", Arg::kRequired, "btap does not limit its own resources"},
    {"rlimit-fsize", Arg::kRequired, "btap does not limit its own resources"},
};

const char* IgnoredShort(char c) {
  switch (c) {
    case 't':
      return "btap does not collect probe timings yet";
    case 'b':
      return "btap has one output ring buffer, no per-CPU files";
    case 'P':
      return "btap evaluates DWARF locations at the probed address, without prologue heuristics";
    case 'R':
      return "btap's runtime is built in";
    case 'B':
      return "btap builds BPF objects, not kernel modules";
    case 'd':
      return "btap reads the symbols it needs when it needs them";
    case 's':
      return "the output ring buffer is sized with `-D BTAP_RINGBUF_BYTES=N`";
    default:
      return nullptr;
  }
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
  int scripts = 0;  // -e given
  bool suppress_time_limits = false;
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
      if (name == "help")
        o->help = true;
      else if (name == "version")
        o->version = true;
      else if (name == "man")
        o->man = true;
      else if (name == "disable-cache" || name == "poison-cache" || name == "clean-cache") {
        if (has_value) return fail("option `--" + name + "` takes no value");
        (name == "disable-cache"  ? o->disable_cache
         : name == "poison-cache" ? o->poison_cache
                                  : o->clean_cache) = true;
      } else if (name == "bpf")
        ;  // stap 5's spelling of --runtime=bpf
      else if (name == "runtime") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value != "bpf")
          return fail("unsupported runtime `" + value + "`; btap's only runtime is `bpf`");
      } else if (name == "dump") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value != "bpf-asm")
          return fail("unknown dump `" + value + "`; `--dump=bpf-asm` prints the instructions");
        o->dump_asm = true;
      } else if (name == "dump-functions" || name == "dump-probe-aliases" ||
                 name == "dump-probe-types") {
        if (has_value) return fail("option `--" + name + "` takes no value");
        o->dump_library = name.substr(5);
      } else if (name == "compatible") {
        if (!has_value && i + 1 < argv.size()) value = argv[++i];
        if (value.empty()) return fail("`--compatible` needs a version");
        o->compatible = value;
      } else if (const Ignored* ig = std::find_if(std::begin(kIgnoredLong), std::end(kIgnoredLong),
                                                  [&](const Ignored& x) { return name == x.name; });
                 ig != std::end(kIgnoredLong)) {
        if (ig->arg == Arg::kNone && has_value)
          return fail("option `--" + name + "` takes no value");
        if (ig->arg == Arg::kRequired && !has_value) {
          if (i + 1 >= argv.size()) return fail("option `--" + name + "` needs an argument");
          ++i;
        }
        if (name == "skip-badvars") o->skip_badvars = true;
        if (name == "suppress-time-limits") suppress_time_limits = true;
        o->warnings.push_back("`--" + name + "` is ignored: " + ig->why);
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
          if (++scripts > 1) return fail("only one script can be given on the command line");
          o->script_text = value;
          break;
        case 'I':
          o->include_dirs.push_back(value);
          break;
        case 'D': {
          std::string name, directive, why;  // embedded C gets each as a macro
          if (!codegen::CDefine(value, &name, &directive, &why)) return fail(why);
          o->defines.push_back(value);
          break;
        }
        case 'G':
          o->globals.push_back(value);
          break;
        case 'm': {
          std::string why, warning;
          if (!CheckModuleName(&value, &why, &warning)) return fail(why);
          if (!warning.empty()) o->warnings.push_back(warning);
          o->module_name = value;
          break;
        }
        case 'o':
          o->output_file = value;
          break;
        case 'c':
          if (value.empty()) return fail("`-c` needs a command");
          o->command = value;
          break;
        case 'x':
          if (!ToInt(value, &n) || n <= 0) return fail("`-x` takes a process id");
          o->target_pid = n;
          break;
        case 'T': {
          double t = 0;
          if (!runtime::ParseTimeout(value, &t))
            return fail("`-T` takes a positive number of seconds (at most a century)");
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
            return fail("invalid buffer size `" + value + "` (should be 1-4095)");
          o->buffer_mb = static_cast<int>(n);
          o->warnings.push_back(std::string("`-s` is ignored: ") + IgnoredShort(c));
          break;
        case 'S':
          if (std::string why; !runtime::ParseFileLimit(value, &o->file_limit, &why))
            return fail(why);
          break;
        case 'R':
        case 'B':
        case 'd':
        case 't':
        case 'b':
        case 'P':
          o->warnings.push_back(std::string("`-") + c + "` is ignored: " + IgnoredShort(c));
          break;
        default:
          return fail(std::string("unknown option `-") + c + "`");
      }
    }
  }
  // Like GNU getopt, options may follow the script; `--` ends them.
  std::vector<std::string> rest = positional;
  rest.insert(rest.end(), argv.begin() + static_cast<long>(i), argv.end());
  if (o->help || o->version || o->man || o->clean_cache) return true;
  if (!o->command.empty() && o->target_pid) return fail("`-c` and `-x` cannot be given together");
  // As staprun: -S names no file of its own.
  if (o->file_limit.bytes && o->output_file.empty())
    return fail("`-S` needs `-o FILE`: its files are FILE.0, FILE.1 ...");
  if (suppress_time_limits && !o->guru)
    return fail("`--suppress-time-limits` requires guru mode (`-g`)");
  if (o->list_pattern || !o->dump_library.empty()) {
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

bool CheckModuleName(std::string* name, std::string* error, std::string* warning) {
  std::string& m = *name;
  bool cut = false;
  for (const char* ext : {".ko", ".so", ".bo"})
    if (m.size() >= 3 && m.compare(m.size() - 3, 3, ext) == 0) {
      m.erase(m.size() - 3);
      cut = true;
      break;
    }
  if (m.empty()) {
    *error = "module name cannot be empty";
    return false;
  }
  for (char c : m)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      *error = "invalid module name `" + m +
               "`: `-m` takes lower-case letters, digits and `_` only (^[a-z0-9_]+$)";
      return false;
    }
  constexpr size_t kMax = 55;  // the kernel's MODULE_NAME_LEN (64 - 8) less the NUL
  if (m.size() >= kMax) m.resize(kMax), cut = true;
  if (cut) *warning = "truncating module name to `" + m + "`";
  return true;
}

std::string TargetProgram(const Options& options, std::string* error) {
  if (!options.command.empty()) {
    std::string_view command = options.command;
    size_t start = command.find_first_not_of(" \t");
    if (start == std::string_view::npos) return "";
    command.remove_prefix(start);
    return std::string(command.substr(0, command.find_first_of(" \t")));
  }
  if (!options.target_pid) return "";
  std::string link = "/proc/" + std::to_string(*options.target_pid) + "/exe";
  char buf[PATH_MAX];
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n <= 0) {
    *error = "cannot read `" + link + "`: " + strerror(errno);
    return "";
  }
  std::string exe(buf, n);
  if (exe.ends_with(" (deleted)")) {
    *error = "the executable of process " + std::to_string(*options.target_pid) +
             " has been deleted (" + exe + ")";
    return "";
  }
  return exe;
}

}  // namespace btap::driver
