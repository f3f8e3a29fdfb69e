// SIGKILL of btap or btaprun at any moment (compiling, loading, attaching, running)
// leaves nothing of the session in the kernel: every program, map and link is held by a
// descriptor of the process, so the kernel drops them with it. Checked with bpftool.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace btap {
namespace {

std::string Capture(const std::string& command) {
  std::string out;
  FILE* p = popen(command.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

// btap's objects by their names: its programs (probe_N, entry_N, syscall_*, process_*)
// and maps (btap_*, g_* globals, global data sections).
bool Btaps(const std::string& kind, const std::string& name) {
  if (kind == "prog")
    return name.rfind("probe_", 0) == 0 || name.rfind("entry_", 0) == 0 ||
           name.rfind("syscall_", 0) == 0 || name.rfind("process_", 0) == 0;
  return name.rfind("btap_", 0) == 0 || name.rfind("g_", 0) == 0 ||
         name.find(".bss") != std::string::npos || name.find(".data") != std::string::npos ||
         name.find(".rodata") != std::string::npos;
}

// The ids bpftool lists for one kind of object (prog, map), and of those btap's that no
// process holds a descriptor of. Objects are top-level JSON records `{"id":N,...}` with a
// `"name"`; `"pids":[...]`, where bpftool reports them, names their holders.
struct Objects {
  std::set<long> all, unheld;
};

Objects List(const std::string& kind) {
  Objects o;
  std::string json = Capture("bpftool -j " + kind + " show 2>/dev/null");
  std::regex record(R"(\{"id":(\d+),)");
  std::regex named(R"re("name":"([^"]*)")re");
  std::vector<std::pair<size_t, long>> starts;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), record);
       it != std::sregex_iterator(); ++it)
    starts.push_back({static_cast<size_t>(it->position()), std::stol((*it)[1])});
  for (size_t i = 0; i < starts.size(); ++i) {
    size_t end = i + 1 < starts.size() ? starts[i + 1].first : json.size();
    std::string text = json.substr(starts[i].first, end - starts[i].first);
    o.all.insert(starts[i].second);
    std::smatch name;
    if (!std::regex_search(text, name, named) || !Btaps(kind, name[1])) continue;
    if (text.find("\"pids\":") == std::string::npos) o.unheld.insert(starts[i].second);
  }
  return o;
}

// What the kernel holds now that no process holds and that was not there before.
std::string Leftovers(const std::map<std::string, std::set<long>>& before) {
  std::string found;
  for (const auto& [kind, ids] : before)
    for (long id : List(kind).unheld)
      if (!ids.count(id)) found += kind + " " + std::to_string(id) + "; ";
  // Uprobes made through tracefs (libbpf's legacy path) would stay as events.
  std::ifstream events("/sys/kernel/tracing/uprobe_events");
  std::string line;
  while (std::getline(events, line))
    if (line.find("libbpf_") != std::string::npos) found += "uprobe event " + line + "; ";
  return found;
}

TEST(RuntimeKill, NothingStaysAttached) {
  if (Capture("command -v bpftool").empty()) GTEST_SKIP() << "bpftool is not installed";
  namespace fs = std::filesystem;
  std::string dir = testing::TempDir() + "/kill_test";
  fs::create_directories(dir);
  std::string script = dir + "/session.stp";
  // A tracepoint, the syscall dispatcher, a uprobe, a perf event and a user-side timer.
  std::ofstream(script) << "global n\n"
                        << "probe kernel.trace(\"raw_syscalls:sys_enter\") { n++ }\n"
                        << "probe syscall.getppid { n++ }\n"
                        << "probe process(\"" << BTAP_WORKLOAD
                        << "\").function(\"btap_bench_call\")"
                        << " { n++ }\n"
                        << "probe timer.profile { n++ }\n"
                        << "probe timer.ms(10) { printf(\"%d\\n\", n) }\n";
  std::string object = dir + "/session.bo";
  ASSERT_EQ(
      std::system(
          (std::string(BTAP_BINARY) + " -p4 -o " + object + " " + script + " >/dev/null").c_str()),
      0);
  std::map<std::string, std::set<long>> before;
  for (const char* kind : {"prog", "map"}) before[kind] = List(kind).all;

  std::mt19937 random(20261204);
  std::uniform_int_distribution<int> delay_ms(0, 1500);
  for (int round = 0; round < 24; ++round) {
    bool runner = round % 3 == 2;  // every third round kills btaprun
    int delay = delay_ms(random);
    pid_t pid = fork();
    if (pid == 0) {
      FILE* o = freopen("/dev/null", "w", stdout);
      FILE* e = freopen("/dev/null", "w", stderr);
      if (!o || !e) _exit(126);
      if (runner)
        execl(BTAPRUN_BINARY, BTAPRUN_BINARY, object.c_str(), static_cast<char*>(nullptr));
      else
        execl(BTAP_BINARY, BTAP_BINARY, script.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    ASSERT_GT(pid, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    // The kernel frees what the descriptors held shortly after the process is gone.
    std::string left;
    for (int wait = 0; wait < 100; ++wait) {
      left = Leftovers(before);
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(left, "") << (runner ? "btaprun" : "btap") << " killed after " << delay << " ms";
  }
}

}  // namespace
}  // namespace btap
