// SIGKILL of btap or btaprun at any moment (compiling, loading, attaching, running)
// leaves nothing of the session in the kernel: every program, map and link is held by a
// descriptor of the process, so the kernel drops them with it. Checked with /proc and bpftool.
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
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/runtime/work_dir.h"

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

// Each kill stops the session first (SIGSTOP) and takes what it holds from its
// descriptors' /proc fdinfo (map_id, prog_id, link_id), with the maps its programs use
// (bpftool's map_ids); then SIGKILL, and every one of those objects must go. Only the
// killed session's objects count: others' come and go meanwhile (tests, benchmarks run
// beside this one), and bpftool here says nothing of who holds an object.
using Ids = std::map<std::string, std::set<long>>;  // by kind: prog, map, link

// The objects of one kind that exist now, and for programs the maps each one uses.
std::set<long> Existing(const std::string& kind,
                        std::map<long, std::set<long>>* maps_of = nullptr) {
  std::set<long> ids;
  std::string json = Capture("bpftool -j " + kind + " show 2>/dev/null");
  std::regex record(R"(\{"id":(\d+),)");
  std::regex map_ids(R"("map_ids":\[([0-9,]*)\])");
  std::vector<std::pair<size_t, long>> starts;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), record);
       it != std::sregex_iterator(); ++it)
    starts.push_back({static_cast<size_t>(it->position()), std::stol((*it)[1])});
  for (size_t i = 0; i < starts.size(); ++i) {
    ids.insert(starts[i].second);
    if (!maps_of) continue;
    size_t end = i + 1 < starts.size() ? starts[i + 1].first : json.size();
    std::string text = json.substr(starts[i].first, end - starts[i].first);
    std::smatch used;
    if (!std::regex_search(text, used, map_ids)) continue;
    std::stringstream list(used[1].str());
    for (std::string id; std::getline(list, id, ',');)
      if (!id.empty()) (*maps_of)[starts[i].second].insert(std::stol(id));
  }
  return ids;
}

// What a stopped process holds, by its descriptors, and the maps its programs use.
Ids Held(pid_t pid) {
  Ids held;
  std::error_code ec;
  std::string dir = "/proc/" + std::to_string(pid) + "/fdinfo";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream info(entry.path());
    std::string line;
    while (std::getline(info, line))
      for (const char* kind : {"map", "prog", "link"})
        if (line.rfind(std::string(kind) + "_id:", 0) == 0)
          held[kind].insert(std::stol(line.substr(line.find(':') + 1)));
  }
  if (!held.count("prog")) return held;
  std::map<long, std::set<long>> maps_of;
  Existing("prog", &maps_of);
  for (long prog : held["prog"]) held["map"].insert(maps_of[prog].begin(), maps_of[prog].end());
  return held;
}

// Which of a killed process's objects the kernel still has.
std::string Leftovers(const Ids& held) {
  std::string found;
  for (const auto& [kind, ids] : held) {
    std::set<long> now = Existing(kind);
    for (long id : ids)
      if (now.count(id)) found += kind + " " + std::to_string(id) + "; ";
  }
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
  std::string dir = RuntimeWorkDir() + "/kill_test";
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
  std::mt19937 random(20261204);
  std::uniform_int_distribution<int> delay_ms(0, 1500);
  int rounds_holding = 0;  // rounds killed with objects in the kernel
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
    kill(pid, SIGSTOP);  // (a bpf() call under way completes first)
    int status = 0;
    Ids held;
    if (waitpid(pid, &status, WUNTRACED) == pid && WIFSTOPPED(status)) held = Held(pid);
    rounds_holding += !held.empty();
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    // The kernel frees what the descriptors held shortly after the process is gone.
    std::string left;
    for (int wait = 0; wait < 100; ++wait) {
      left = Leftovers(held);
      if (left.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    EXPECT_EQ(left, "") << (runner ? "btaprun" : "btap") << " killed after " << delay << " ms";
  }
  EXPECT_GT(rounds_holding, 0) << "no session was killed while it held objects";
}

}  // namespace
}  // namespace btap
