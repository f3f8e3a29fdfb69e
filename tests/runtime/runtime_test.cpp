// Runtime tests: each tests/runtime/cases/*.test file runs the real `btap` binary on a
// script, loading BPF into this machine's kernel, and checks what it printed.
//
// A case file is a header, then sections that start with `--- NAME`:
//   # what the case checks                     (comments)
//   args: -T 1 -c '@WORKLOAD@ getppid 10'      btap's arguments before the script file
//   status: 1                                  expected exit status (default 0)
//   timeout: 20                                seconds before the case fails (default 30)
//   requires: tracepoint syscalls:sys_enter_getppid   a kernel feature, or the case skips
//   requires: no kprobes                       a kernel without kprobes (the message it gives)
//   requires: netfilter links                  a kernel that links BPF programs to netfilter
//                                              hooks (Linux 6.4+, CONFIG_NETFILTER_BPF_LINK);
//                                              `no netfilter links`: one that does not
//   requires: kernel symbol vm_dirty_ratio     /proc/kallsyms shows it (with its address)
//   requires: fuse                             /dev/fuse, which procfs probes' files need
//   requires: program /usr/bin/python3         an executable file there
//                                              (several `requires:` lines: all of them)
//   signal: INT 1.5                            send SIGINT (TERM, HUP) to btap after 1.5 s
//   signal: INT when REGEX                     ...once a line of its standard error matches
//                                              (a stop timed from where the session is)
//   stop-within: 1                             btap ends within 1 s of the signal (or,
//                                              without one, of its start)
//   stdin: one\ntwo                             standard input is a pipe that gives this text
//                                              (escapes \n \t \\) and then ends
//   stdin-file: /dev/null                      standard input is that file (default: the
//                                              test's own)
//   stdout-to: full                            standard output is /dev/full (`closed`: a
//                                              closed descriptor; `stalled-pipe`: a pipe
//                                              whose reader never reads; `broken-pipe`: a pipe
//                                              whose reader has gone)
//   stderr-count: REGEX N                      exactly N lines of standard error match
//   runner: btaprun -T 1                       compile with `btap -p4 ARGS`, run with btaprun
//   compile-before: SHELL COMMANDS             with a runner: run in the shell that compiles,
//                                              before btap -p4 (an `export` reaches it)
//   compile-after: SHELL COMMANDS              ...and after it, before btaprun runs
//   script-args: 5 'two words'                 arguments after the script ($1, @2, ...)
//   env: TZ=IST-5:30                           set in btap's environment (each word)
//   descriptors: 64                            btap may open that many files (RLIMIT_NOFILE,
//                                              soft and hard)
//   script-file: examples/x.stp                the script is that file of the tree;
//                                              with a runner, after the object (NAME=VALUE)
//   --- script      the script (written to a file and run)
//   --- stdout      expected standard output, exactly
//   --- stdout-regex / --- stderr-regex   each line a regex that some output line matches
//   --- stderr      expected standard error, exactly
//   stdout-lines: N                            standard output has exactly N lines
//   after: COMMAND ARGS                        run once btap has ended (no shell)...
//   --- after-stdout                           ...and its standard output, exactly
// @SCRIPT@ in a section, `args:`, `runner:` or `after:` expands to the script's path; @BTAP@
// (anywhere) to btap itself;
// @WORKLOAD@ (anywhere) to the test workload
// program (tests/runtime/workloads); @TARGET_O0@, @TARGET_O2@, @LIBBTAPTEST@ and
// @MANY_FUNCTIONS@ to the programs built from tests/runtime/programs, @PROGRAMS_DIR@ to
// the folder they are built in (fake_stap/ there holds stap, staprun and stapio), @SOURCE_DIR@
// to the source tree (the programs' DWARF names their sources there). A case without a
// script runs btap with its arguments alone (listing with -l/-L).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/runtime/work_dir.h"

namespace btap {
namespace {

namespace fs = std::filesystem;

struct Case {
  std::string name;
  std::vector<std::string> args;
  int status = 0;
  double timeout = 30;
  std::vector<std::string> requires_;
  std::string signal;
  double signal_after = 0;
  std::string signal_when;  // a regex for a line of btap's standard error
  long stdout_lines = -1;
  double stop_within = 0;
  std::string stdout_to;
  bool has_stdin = false;
  std::string stdin_text;  // given through a pipe, which then ends
  std::string stdin_file;
  std::vector<std::pair<std::string, long>> stderr_counts;
  std::vector<std::string> runner;            // btaprun and its arguments, when set
  std::string compile_before, compile_after;  // shell commands around btap -p4
  std::vector<std::string> env;               // NAME=VALUE, set in btap's environment
  long descriptors = 0;                       // RLIMIT_NOFILE for btap, when set
  std::vector<std::string> script_args;
  std::vector<std::string> after;  // a command run once btap has ended
  std::map<std::string, std::string> sections;
};

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (size_t at = 0; (at = s.find(from, at)) != std::string::npos; at += to.size())
    s.replace(at, from.size(), to);
  return s;
}

// The paths a case may name.
std::string Expand(std::string s) {
  s = Replace(s, "@BTAP@", BTAP_BINARY);
  s = Replace(s, "@WORKLOAD@", BTAP_WORKLOAD);
  s = Replace(s, "@TARGET_O0@", BTAP_UPROBE_TARGET_O0);
  s = Replace(s, "@TARGET_O2@", BTAP_UPROBE_TARGET_O2);
  s = Replace(s, "@LIBBTAPTEST@", BTAP_LIBBTAPTEST);
  s = Replace(s, "@PROGRAMS_DIR@", BTAP_PROGRAMS_DIR);
  s = Replace(s, "@SOURCE_DIR@", BTAP_SOURCE_DIR);
  return Replace(s, "@MANY_FUNCTIONS@", BTAP_MANY_FUNCTIONS);
}

// A `stdin:` text: \n, \t and \\ stand for a newline, a tab and a backslash.
std::string Unescape(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\' || i + 1 == text.size()) {
      out += text[i];
      continue;
    }
    char c = text[++i];
    out += c == 'n' ? '\n' : c == 't' ? '\t' : c;
  }
  return out;
}

// Shell-like words: spaces separate, single quotes group.
std::vector<std::string> Words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool quoted = false, any = false;
  for (char c : line) {
    if (c == '\'') {
      quoted = !quoted;
      any = true;
    } else if (!quoted && (c == ' ' || c == '\t')) {
      if (any) words.push_back(word);
      word.clear();
      any = false;
    } else {
      word += c;
      any = true;
    }
  }
  if (any) words.push_back(word);
  return words;
}

Case Parse(const fs::path& path) {
  Case c;
  c.name = path.stem().string();
  std::ifstream in(path);
  std::string line, section;
  while (std::getline(in, line)) {
    if (line.rfind("--- ", 0) == 0) {
      section = line.substr(4);
      c.sections[section];
      continue;
    }
    if (!section.empty()) {
      c.sections[section] += line + "\n";
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    std::string key = line.substr(0, colon);
    std::string value = colon == std::string::npos ? "" : line.substr(colon + 1);
    value = value.substr(std::min(value.size(), value.find_first_not_of(' ')));
    value = Expand(value);
    if (key == "args") c.args = Words(value);
    if (key == "status") c.status = std::stoi(value);
    if (key == "timeout") c.timeout = std::stod(value);
    if (key == "requires") c.requires_.push_back(value);
    if (key == "stdout-lines") c.stdout_lines = std::stol(value);
    if (key == "stop-within") c.stop_within = std::stod(value);
    if (key == "stdout-to") c.stdout_to = value;
    if (key == "stdin") {
      c.has_stdin = true;
      c.stdin_text = Unescape(value);
    }
    if (key == "stdin-file") c.stdin_file = value;
    if (key == "stderr-count") {
      size_t space = value.rfind(' ');
      c.stderr_counts.push_back({value.substr(0, space), std::stol(value.substr(space + 1))});
    }
    if (key == "runner") c.runner = Words(value);
    if (key == "compile-before") c.compile_before = value;
    if (key == "compile-after") c.compile_after = value;
    if (key == "script-args") c.script_args = Words(value);
    if (key == "env") c.env = Words(value);
    if (key == "descriptors") c.descriptors = std::stol(value);
    if (key == "after") c.after = Words(value);
    if (key == "script-file") {  // a script kept elsewhere in the tree (an example)
      std::ifstream script(std::string(BTAP_SOURCE_DIR) + "/" + value);
      std::stringstream text;
      text << script.rdbuf();
      c.sections["script"] = text.str();
    }
    if (key == "signal") {
      std::vector<std::string> w = Words(value);
      c.signal = w.empty() ? "" : w[0];
      if (w.size() > 2 && w[1] == "when")
        c.signal_when = value.substr(value.find("when ") + 5);
      else
        c.signal_after = w.size() > 1 ? std::stod(w[1]) : 1;
    }
  }
  return c;
}

// Whether this machine has what the case needs; else why not.
std::string Missing(const std::string& requirement) {
  std::vector<std::string> w = Words(requirement);
  if (w.size() == 2 && w[0] == "tracepoint") {
    std::string event = Replace(w[1], ":", "/");
    for (const char* root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"})
      if (fs::exists(std::string(root) + event)) return "";
    return "no tracepoint " + w[1];
  }
  if (requirement == "no kprobes") {
    // What a kernel without kprobes says; a kernel with them runs kprobe cases in the VM.
    bool has = fs::exists("/sys/bus/event_source/devices/kprobe/type") ||
               fs::exists("/sys/kernel/tracing/kprobe_events") ||
               fs::exists("/sys/kernel/debug/tracing/kprobe_events");
    return has ? "this kernel has kprobes" : "";
  }
  if (requirement == "netfilter links" || requirement == "no netfilter links") {
    std::ifstream kallsyms("/proc/kallsyms");
    std::string line;
    bool has = false;
    while (!has && std::getline(kallsyms, line)) has = line.ends_with(" bpf_nf_link_attach");
    if (has == (requirement == "netfilter links")) return "";
    return has ? "this kernel has BPF netfilter links" : "this kernel has no BPF netfilter links";
  }
  if (w.size() == 3 && w[0] == "kernel" && w[1] == "symbol") {
    // Data symbols are listed only with CONFIG_KALLSYMS_ALL.
    std::ifstream kallsyms("/proc/kallsyms");
    std::string line;
    while (std::getline(kallsyms, line))
      if (line.ends_with(" " + w[2]) && !line.starts_with("0000000000000000")) return "";
    return "no kernel symbol " + w[2] + " in /proc/kallsyms";
  }
  if (requirement == "fuse") return fs::exists("/dev/fuse") ? "" : "no /dev/fuse";
  if (w.size() == 2 && w[0] == "program")
    return access(w[1].c_str(), X_OK) == 0 ? "" : "no program " + w[1];
  if (!requirement.empty()) return "unknown requirement `" + requirement + "`";
  return "";
}

struct Result {
  int status = -1;
  bool timed_out = false;
  bool signal_sent = false;
  double stop_seconds = 0;  // from the signal (or the start) to the end
  std::string out, err;
};

Result Execute(const Case& c, const std::string& script) {
  std::vector<std::string> argv = {BTAP_BINARY};
  argv.insert(argv.end(), c.args.begin(), c.args.end());
  if (!script.empty()) argv.push_back(script);
  argv.insert(argv.end(), c.script_args.begin(), c.script_args.end());
  if (!c.runner.empty()) {
    std::string object = script + ".bo";
    std::string compile = std::string(BTAP_BINARY) + " -p4 -o " + object;
    for (const std::string& a : c.args) compile += " '" + Replace(a, "'", "'\\''") + "'";
    compile += " " + script;
    if (!c.compile_before.empty()) compile = c.compile_before + " && " + compile;
    if (!c.compile_after.empty()) compile += " && " + c.compile_after;
    if (std::system(compile.c_str()) != 0) return {};
    argv = {BTAPRUN_BINARY};
    argv.insert(argv.end(), c.runner.begin() + 1, c.runner.end());
    argv.push_back(object);
    argv.insert(argv.end(), c.script_args.begin(), c.script_args.end());  // NAME=VALUE...
  }
  // Beside the script, or for a case without one (a listing) in the test's temp folder.
  std::string base = RuntimeWorkDir() + "/" + c.name;
  std::string out_path = base + ".out", err_path = base + ".err";
  // (Not an earlier run's, which `signal: ... when` would read before btap writes.)
  fs::remove(out_path);
  fs::remove(err_path);
  int broken[2] = {-1, -1};
  bool stalled = c.stdout_to == "stalled-pipe";  // a reader that never reads
  if ((c.stdout_to == "broken-pipe" || stalled) && pipe(broken) != 0) return {};
  int input[2] = {-1, -1};  // the `stdin:` text's pipe
  if (c.has_stdin && pipe2(input, O_CLOEXEC) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    if (input[0] >= 0) dup2(input[0], 0);
    if (!c.stdin_file.empty()) {
      int fd = open(c.stdin_file.c_str(), O_RDONLY);
      if (fd < 0 || dup2(fd, 0) < 0) _exit(126);
    }
    FILE* o = freopen(c.stdout_to == "full" ? "/dev/full" : out_path.c_str(), "w", stdout);
    FILE* e = freopen(err_path.c_str(), "w", stderr);
    if (!o || !e) _exit(126);
    // Appending, as `>>` would: btap and a -c command share these files, and a write that
    // does not take the shared file position's lock (sendfile, copy_file_range) can
    // otherwise overwrite what the other wrote meanwhile.
    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_APPEND);
    fcntl(2, F_SETFL, fcntl(2, F_GETFL) | O_APPEND);
    // btap as a user starts it, whatever this test runs under (a background job ignores
    // SIGINT, nohup SIGHUP).
    for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE}) signal(sig, SIG_DFL);
    for (const std::string& v : c.env)
      if (size_t eq = v.find('='); eq != std::string::npos)
        setenv(v.substr(0, eq).c_str(), v.substr(eq + 1).c_str(), 1);
    if (c.descriptors) {
      rlimit limit{static_cast<rlim_t>(c.descriptors), static_cast<rlim_t>(c.descriptors)};
      if (setrlimit(RLIMIT_NOFILE, &limit) != 0) _exit(126);
    }
    if (c.stdout_to == "closed") close(1);
    if (broken[1] >= 0) {
      dup2(broken[1], 1);
      close(broken[0]);
      close(broken[1]);
    }
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  if (broken[0] >= 0) {
    if (!stalled) close(broken[0]);
    close(broken[1]);
  }
  // The text goes in as btap takes it (it may be more than the pipe holds), then the
  // pipe ends; a btap that never reads it is not waited for.
  size_t fed = 0;
  if (input[0] >= 0) {
    signal(SIGPIPE, SIG_IGN);  // (btap may end before it reads it all)
    close(input[0]);
    fcntl(input[1], F_SETFL, O_NONBLOCK);
  }
  auto feed = [&] {
    if (input[1] < 0) return;
    while (fed < c.stdin_text.size()) {
      ssize_t n = write(input[1], c.stdin_text.data() + fed, c.stdin_text.size() - fed);
      if (n <= 0 && errno == EAGAIN) return;
      if (n <= 0) break;  // btap is gone
      fed += static_cast<size_t>(n);
    }
    close(input[1]);
    input[1] = -1;
  };
  Result r;
  auto start = std::chrono::steady_clock::now();
  auto signalled_at = start;
  bool signalled = c.signal.empty();
  // What btap has written to standard error so far, for `signal: ... when REGEX`.
  std::optional<std::regex> when;
  if (!c.signal_when.empty()) when.emplace(c.signal_when);
  std::string err_seen;
  auto err_line_matches = [&] {
    std::ifstream e(err_path);
    e.seekg(static_cast<std::streamoff>(err_seen.size()));
    std::stringstream more;
    more << e.rdbuf();
    size_t from = err_seen.rfind('\n') + 1;  // (0 when none)
    err_seen += more.str();
    for (size_t end; (end = err_seen.find('\n', from)) != std::string::npos; from = end + 1)
      if (std::regex_search(err_seen.substr(from, end - from), *when)) return true;
    return false;
  };
  int wstatus = 0;
  while (true) {
    feed();
    pid_t done = waitpid(pid, &wstatus, WNOHANG);
    if (done == pid) break;
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!signalled && (when ? err_line_matches() : elapsed >= c.signal_after)) {
      kill(pid, c.signal == "TERM" ? SIGTERM : c.signal == "HUP" ? SIGHUP : SIGINT);
      signalled = true;
      signalled_at = std::chrono::steady_clock::now();
    }
    if (elapsed > c.timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (input[1] >= 0) close(input[1]);
  if (stalled) close(broken[0]);
  r.signal_sent = signalled && !c.signal.empty();
  r.stop_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled_at).count();
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  std::ifstream o(out_path), e(err_path);
  std::stringstream so, se;
  so << o.rdbuf();
  se << e.rdbuf();
  r.out = so.str();
  r.err = se.str();
  return r;
}

void ExpectLinesMatch(const std::string& what, const std::string& patterns,
                      const std::string& text) {
  std::istringstream p(patterns);
  std::string pattern;
  while (std::getline(p, pattern)) {
    if (pattern.empty()) continue;
    std::regex re(pattern);
    std::istringstream t(text);
    std::string line;
    bool found = false;
    while (!found && std::getline(t, line)) found = std::regex_search(line, re);
    EXPECT_TRUE(found) << what << " has no line matching /" << pattern << "/:\n" << text;
  }
}

// A command's standard output (what undoes or checks a case's effect once btap is gone).
std::string RunAfter(const std::vector<std::string>& command) {
  int out[2];
  if (pipe(out) != 0) return "pipe failed";
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], 1);
    close(out[0]);
    close(out[1]);
    std::vector<std::string> argv = command;
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(out[1]);
  std::string text;
  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) text.append(buffer, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return text;
}

class RuntimeCase : public testing::TestWithParam<fs::path> {};

TEST_P(RuntimeCase, Runs) {
  Case c = Parse(GetParam());
  for (const std::string& r : c.requires_)
    if (std::string why = Missing(r); !why.empty()) GTEST_SKIP() << why;
  bool listing = std::any_of(c.args.begin(), c.args.end(),
                             [](const std::string& a) { return a == "-l" || a == "-L"; });
  ASSERT_TRUE(c.sections.count("script") || listing) << "no `--- script` section";
  std::string script = RuntimeWorkDir() + "/" + c.name + ".stp";
  for (auto& [name, text] : c.sections) text = Expand(Replace(text, "@SCRIPT@", script));
  for (std::string& a : c.args) a = Replace(a, "@SCRIPT@", script);
  for (std::string& a : c.after) a = Replace(a, "@SCRIPT@", script);
  for (std::string& a : c.runner) a = Replace(a, "@SCRIPT@", script);
  c.compile_before = Replace(c.compile_before, "@SCRIPT@", script);
  c.compile_after = Replace(c.compile_after, "@SCRIPT@", script);
  if (c.sections.count("script")) std::ofstream(script) << c.sections["script"];
  Result r = Execute(c, c.sections.count("script") ? script : "");
  ASSERT_FALSE(r.timed_out) << "timed out after " << c.timeout << " s; stderr:\n" << r.err;
  EXPECT_EQ(r.status, c.status) << "stderr:\n" << r.err << "stdout:\n" << r.out.substr(0, 4000);
  if (c.sections.count("stdout")) EXPECT_EQ(r.out, c.sections["stdout"]);
  if (c.sections.count("stderr")) EXPECT_EQ(r.err, c.sections["stderr"]);
  if (c.sections.count("stdout-regex"))
    ExpectLinesMatch("stdout", c.sections["stdout-regex"], r.out);
  if (c.sections.count("stderr-regex"))
    ExpectLinesMatch("stderr", c.sections["stderr-regex"], r.err);
  if (!c.signal_when.empty())
    EXPECT_TRUE(r.signal_sent) << "btap ended before a line of its standard error matched /"
                               << c.signal_when << "/; stderr:\n"
                               << r.err;
  if (c.stop_within > 0)
    EXPECT_LE(r.stop_seconds, c.stop_within) << "btap took " << r.stop_seconds << " s to stop"
                                             << (c.signal.empty() ? "" : " after the signal");
  for (const auto& [pattern, count] : c.stderr_counts) {
    std::regex re(pattern);
    std::istringstream t(r.err);
    std::string line;
    long n = 0;
    while (std::getline(t, line)) n += std::regex_search(line, re);
    EXPECT_EQ(n, count) << "stderr lines matching /" << pattern << "/:\n" << r.err.substr(0, 4000);
  }
  if (c.stdout_lines >= 0) {
    EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), c.stdout_lines) << "stderr:\n" << r.err;
  }
  if (!c.after.empty()) EXPECT_EQ(RunAfter(c.after), c.sections["after-stdout"]);
}

std::vector<fs::path> Cases() {
  std::vector<fs::path> cases;
  for (const auto& entry : fs::directory_iterator(BTAP_SOURCE_DIR "/tests/runtime/cases"))
    if (entry.path().extension() == ".test") cases.push_back(entry.path());
  std::sort(cases.begin(), cases.end());
  return cases;
}

INSTANTIATE_TEST_SUITE_P(Runtime, RuntimeCase, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<fs::path>& info) {
                           std::string name = info.param.stem().string();
                           for (char& ch : name)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });

}  // namespace
}  // namespace btap
