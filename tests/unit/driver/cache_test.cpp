// The compiled-object cache (tools/btap/cache.cpp) through the driver and the real
// binary: hits, misses when an input changes, eviction, damaged entries, concurrent
// stores, --disable-cache/--clean-cache/--poison-cache and a probed binary replaced.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <sstream>
#include <thread>

#include "common/object_meta.h"
#include "tests/unit/driver/run_btap.h"
#include "tools/btap/cache.h"
#include "tools/btap/driver.h"

namespace btap::driver {
namespace {

namespace fs = std::filesystem;

// Every test of this binary, and every btap it starts, uses a private cache (not the
// user's), so that no test sees another's entries unless it means to.
class PrivateCache : public testing::Environment {
 public:
  void SetUp() override {
    std::string dir = fs::path(testing::TempDir()) / "btap_cache_XXXXXX";
    if (mkdtemp(dir.data())) setenv("BTAP_CACHE", (dir + "/objects").c_str(), 1);
  }
};
testing::Environment* const kPrivateCache = testing::AddGlobalTestEnvironment(new PrivateCache);

const char kHello[] = "probe begin { printf(\"hello\\n\"); exit() }";

void WriteAll(const fs::path& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// A fresh cache folder for one test, in $BTAP_CACHE while it runs; the current
// directory is a fresh one beside it.
class CacheTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string name = testing::UnitTest::GetInstance()->current_test_info()->name();
    root_ = fs::path(testing::TempDir()) / ("cache_" + name);
    fs::remove_all(root_);
    fs::create_directories(root_ / "work");
    dir_ = root_ / "objects";
    saved_ = getenv("BTAP_CACHE") ? getenv("BTAP_CACHE") : "";
    setenv("BTAP_CACHE", dir_.c_str(), 1);
    old_cwd_ = fs::current_path();
    fs::current_path(root_ / "work");
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    setenv("BTAP_CACHE", saved_.c_str(), 1);
  }

  // The cache's entries (file names), sorted.
  std::vector<std::string> Entries() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (e.path().extension() == ".bo") names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  // Every file in the folder, temporaries included.
  std::vector<std::string> AllFiles() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) names.push_back(e.path().filename());
    std::sort(names.begin(), names.end());
    return names;
  }
  fs::path Only() const {
    std::vector<std::string> e = Entries();
    return e.size() == 1 ? dir_ / e[0] : fs::path();
  }

  fs::path root_, dir_, old_cwd_;
  std::string saved_;
};

bool UsedCache(const Ran& r) { return r.err.find("Pass 3: using cached ") != std::string::npos; }

TEST_F(CacheTest, ARepeatedScriptSkipsPassesOneToFour) {
  Ran first = RunBtap({"-v", "-e", kHello});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.out, "hello\n");
  EXPECT_FALSE(UsedCache(first)) << first.err;
  ASSERT_EQ(Entries().size(), 1u);
  fs::path entry = Only();
  EXPECT_EQ(ReadAll(dir_ / "cache_mb_limit"), "256\n");  // stap's default, written as stap does

  Ran again = RunBtap({"-v", "-e", kHello});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, "hello\n");
  EXPECT_EQ(again.err.find("Pass 1:"), std::string::npos) << again.err;
  std::string expected = "Pass 3: using cached " + entry.string() + "\nPass 4: using cached " +
                         entry.string() + "\nPass 5: starting run.\n";
  EXPECT_EQ(again.err.rfind(expected, 0), 0u) << again.err;

  // What only the run uses (-T, -o, -vv) is not part of the key; -v is, since it changes
  // the warnings an entry replays.
  Ran quiet = RunBtap({"-e", kHello});
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(Entries().size(), 2u);
  quiet = RunBtap({"-T", "30", "-o", "out.txt", "-e", kHello});
  ASSERT_EQ(quiet.status, 0) << quiet.err;
  EXPECT_EQ(ReadAll("out.txt"), "hello\n");
  EXPECT_EQ(quiet.err, "");
  EXPECT_EQ(Entries().size(), 2u);
  EXPECT_TRUE(UsedCache(RunBtap({"-vv", "-e", kHello})));
  // Pass 3 alone never uses it: it prints the IR.
  Ran p3 = RunBtap({"-v", "-p3", "-e", kHello});
  ASSERT_EQ(p3.status, 0) << p3.err;
  EXPECT_NE(p3.err.find("Pass 3: translated to BPF"), std::string::npos) << p3.err;
  EXPECT_NE(p3.out.find("target triple"), std::string::npos);
}

TEST_F(CacheTest, AHitRepeatsTheWarningsOfItsCompilation) {
  const char* script = "probe begin { printf(\"%d\\n\", n); exit() }";
  Ran first = RunBtap({"-e", script});
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_EQ(first.out, "0\n");
  EXPECT_NE(first.err.find("warning: never-assigned local variable `n`"), std::string::npos)
      << first.err;
  Ran again = RunBtap({"-e", script});
  EXPECT_EQ(again.out, "0\n");
  EXPECT_EQ(again.err, first.err);
  EXPECT_EQ(Entries().size(), 1u);
  // -w silences them: another entry, with none.
  again = RunBtap({"-w", "-e", script});
  EXPECT_EQ(again.err, "");
  again = RunBtap({"-w", "-e", script});
  EXPECT_EQ(again.err, "");
  EXPECT_EQ(Entries().size(), 2u);
}

TEST_F(CacheTest, Pass4WritesTheCachedObjectWherePass4WritesObjects) {
  Ran first = RunBtap({"-v", "-p4", "-e", kHello});
  ASSERT_EQ(first.status, 0) << first.err;
  std::string name = first.out.substr(0, first.out.size() - 1);
  ASSERT_EQ(name.rfind("btap_", 0), 0u) << name;
  std::string compiled = ReadAll(name);
  fs::remove(name);
  Ran again = RunBtap({"-v", "-p4", "-e", kHello});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_TRUE(UsedCache(again)) << again.err;
  EXPECT_NE(again.err.find("Pass 4: using cached "), std::string::npos);
  EXPECT_EQ(again.out, name + "\n");  // the script's own name, from the object
  EXPECT_TRUE(ReadAll(name) == compiled);
  // -o names the file; a cached -p4 object runs later at pass 5 from the same entry.
  again = RunBtap({"-v", "-p4", "-o", "named.bo", "-e", kHello});
  EXPECT_EQ(again.out, "named.bo\n");
  EXPECT_TRUE(ReadAll("named.bo") == compiled);
  again = RunBtap({"-v", "-e", kHello});
  EXPECT_TRUE(UsedCache(again)) << again.err;
  EXPECT_EQ(again.out, "hello\n");
}

TEST_F(CacheTest, AnyInputChangeIsAMiss) {
  fs::create_directories(root_ / "lib");
  WriteAll(root_ / "lib/mine.stp", "function greeting() { return \"hello\" }\n");
  std::string script =
      "global x; probe begin { printf(\"%s %s %d\\n\", greeting(), @1, x); exit() }";
  std::string lib = (root_ / "lib").string();
  auto run = [&](std::vector<std::string> extra, const char* arg = "a") {
    std::vector<std::string> argv = {"-v", "-I", lib};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.insert(argv.end(), {"-e", script, arg});
    return RunBtap(argv);
  };
  Ran r = run({});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello a 0\n");
  EXPECT_TRUE(UsedCache(run({}))) << "same inputs hit";

  size_t entries = Entries().size();
  auto expect_miss = [&](const Ran& r, const std::string& out, const char* what) {
    EXPECT_EQ(r.status, 0) << what << ": " << r.err;
    EXPECT_EQ(r.out, out) << what;
    EXPECT_FALSE(UsedCache(r)) << what << ":\n" << r.err;
    EXPECT_EQ(Entries().size(), ++entries) << what;
  };
  expect_miss(run({}, "b"), "hello b 0\n", "a script argument");
  expect_miss(run({"-D", "MAXSTRINGLEN=256"}), "hello a 0\n", "-D");
  expect_miss(run({"-G", "x=1"}), "hello a 1\n", "-G");
  expect_miss(run({"-u"}), "hello a 0\n", "-u");
  expect_miss(run({"-m", "named"}), "hello a 0\n", "-m");
  WriteAll(root_ / "lib/mine.stp", "function greeting() { return \"howdy\" }\n");
  expect_miss(run({}), "howdy a 0\n", "a tapset's text");
  WriteAll(root_ / "lib/other.stp", "function unused() { return 1 }\n");
  expect_miss(run({}), "howdy a 0\n", "a new tapset file in an -I folder");
  script += " ";
  expect_miss(run({}), "howdy a 0\n", "the script's text");
}

TEST_F(CacheTest, KeyOfProcessProbesDependsOnWhereRelativeNamesResolve) {
  Options o;
  frontend::PPConfig pp = MachineConfig(o);
  sema::TargetKernel kernel;
  std::string begin = "probe begin {}", process = "probe process(\"a.out\").function(\"main\") {}";
  std::string k1 = CacheKey(o, begin, pp, kernel), p1 = CacheKey(o, process, pp, kernel);
  EXPECT_EQ(k1, CacheKey(o, begin, pp, kernel));
  EXPECT_EQ(k1.size(), 32u);
  fs::create_directories(root_ / "elsewhere");
  fs::current_path(root_ / "elsewhere");
  EXPECT_EQ(CacheKey(o, begin, pp, kernel), k1);
  EXPECT_NE(CacheKey(o, process, pp, kernel), p1);
  o.target_pid = 1;  // target() becomes usable: a different program
  EXPECT_NE(CacheKey(o, begin, pp, kernel), k1);
}

// Starts `program` with `arg` and returns once the child runs it (its /proc/PID/exe is no
// longer this test's), so that -x's executable is the program's.
pid_t StartProgram(const fs::path& program, const char* arg) {
  pid_t pid = fork();
  if (pid == 0) {
    execl(program.c_str(), program.c_str(), arg, static_cast<char*>(nullptr));
    _exit(127);
  }
  fs::path self = fs::read_symlink("/proc/self/exe");
  for (int i = 0; i < 500; ++i) {
    std::error_code ec;
    fs::path exe = fs::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
    if (!ec && exe != self) break;
    usleep(10000);
  }
  return pid;
}

void Stop(pid_t pid) {
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
}

TEST_F(CacheTest, DashXNamesTheExecutableNotThePid) {
  // Two processes of one program: `process` alone names the file for both, so they share
  // a key (and the object names the file, not /proc/PID/exe).
  fs::path sleep = fs::canonical("/bin/sleep");
  pid_t a = StartProgram(sleep, "30"), b = StartProgram(sleep, "30");
  Options o;
  o.target_pid = a;
  std::string error;
  EXPECT_EQ(TargetProgram(o, &error), sleep.string()) << error;
  frontend::PPConfig pp = MachineConfig(o);
  sema::TargetKernel kernel;
  std::string script = "probe process.plt {}";
  std::string key = CacheKey(o, script, pp, kernel);
  o.target_pid = b;
  EXPECT_EQ(CacheKey(o, script, pp, kernel), key);
  Ran listed = RunBtap({"-p2", "-x", std::to_string(b), "-e", script});
  EXPECT_NE(listed.out.find("process(\"" + sleep.string() + "\")"), std::string::npos)
      << listed.out << listed.err;
  EXPECT_EQ(listed.out.find("/proc/"), std::string::npos) << listed.out;
  Stop(a);
  Stop(b);

  // A process whose executable has been deleted is an error at a path-less process probe.
  fs::path gone = root_ / "gone";
  fs::copy_file(sleep, gone);
  pid_t c = StartProgram(gone, "30");
  fs::remove(gone);
  o.target_pid = c;
  error.clear();
  EXPECT_EQ(TargetProgram(o, &error), "");
  EXPECT_NE(error.find("has been deleted"), std::string::npos) << error;
  Ran refused = RunBtap({"-p2", "-x", std::to_string(c), "-e", script});
  EXPECT_NE(refused.status, 0);
  EXPECT_NE(refused.err.find("error: `process` without a path names -x's program: "),
            std::string::npos)
      << refused.err;
  Stop(c);
}

TEST_F(CacheTest, KeyOfAnotherKernelIsItsFiles) {
  // -r: the image, its extracted BTF and its config, by path, size and modification time.
  Options o;
  frontend::PPConfig pp = MachineConfig(o);
  sema::TargetKernel other;
  other.running = false;
  other.release = "6.1.0-test";
  other.image = (root_ / "vmlinuz").string();
  other.btf_path = (root_ / "vmlinux.btf").string();
  other.config_path = (root_ / "config").string();
  WriteAll(other.image, "image");
  WriteAll(other.btf_path, "btf");
  WriteAll(other.config_path, "CONFIG_BPF=y\n");
  std::string script = "probe begin {}";
  std::string k = CacheKey(o, script, pp, other);
  EXPECT_EQ(CacheKey(o, script, pp, other), k);
  EXPECT_NE(CacheKey(o, script, pp, sema::TargetKernel{}), k);  // the running kernel
  WriteAll(other.btf_path, "btf, another build");
  std::string k2 = CacheKey(o, script, pp, other);
  EXPECT_NE(k2, k);
  WriteAll(other.config_path, "CONFIG_BPF=m\nCONFIG_KPROBES=y\n");
  EXPECT_NE(CacheKey(o, script, pp, other), k2);
}

TEST_F(CacheTest, OldestEntriesAreEvictedAfterAStore) {
  fs::create_directories(dir_);
  WriteAll(dir_ / "cache_mb_limit", "1\n");
  time_t now = time(nullptr);
  const char* names[] = {"aaaa.bo", "bbbb.bo", "cccc.bo"};
  for (int i = 0; i < 3; ++i) {
    WriteAll(dir_ / names[i], std::string(400 * 1024, 'x'));
    struct timespec times[2] = {{now - 300 + i * 100, 0}, {now - 300 + i * 100, 0}};
    ASSERT_EQ(utimensat(AT_FDCWD, (dir_ / names[i]).c_str(), times, 0), 0);
  }
  Ran r = RunBtap({"-vv", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("Cache cleaning successful, removed entries: " +
                       (dir_ / "aaaa.bo").string() + "\n"),
            std::string::npos)
      << r.err;
  std::vector<std::string> left = Entries();
  ASSERT_EQ(left.size(), 3u);
  EXPECT_EQ(std::count(left.begin(), left.end(), "aaaa.bo"), 0);
  EXPECT_EQ(std::count(left.begin(), left.end(), "bbbb.bo"), 1);
  EXPECT_EQ(std::count(left.begin(), left.end(), "cccc.bo"), 1);

  // A hit counts as a use: bbbb is now the oldest, then cccc, then the hello entry.
  std::erase(left, "bbbb.bo");
  std::erase(left, "cccc.bo");
  ASSERT_EQ(left.size(), 1u);
  fs::path hello = dir_ / left[0];
  struct timespec old[2] = {{now - 1000, 0}, {now - 1000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, hello.c_str(), old, 0), 0);
  ASSERT_TRUE(UsedCache(RunBtap({"-v", "-e", kHello})));
  EXPECT_GE(fs::last_write_time(hello), fs::last_write_time(dir_ / "cccc.bo"));
  WriteAll(dir_ / "dddd.bo", std::string(300 * 1024, 'x'));  // over the limit again
  r = RunBtap({"-vv", "-e", "probe begin { printf(\"other\\n\"); exit() }"});
  ASSERT_EQ(r.status, 0) << r.err;
  left = Entries();
  EXPECT_EQ(std::count(left.begin(), left.end(), "bbbb.bo"), 0) << r.err;
  EXPECT_EQ(std::count(left.begin(), left.end(), "cccc.bo"), 1) << r.err;
  EXPECT_TRUE(fs::exists(hello));
}

// Rewrites the entry's object header line so that its digest matches the body again: only
// the object's own section digests can then tell the damage.
void ResealEntry(const fs::path& entry) {
  std::string bytes = ReadAll(entry);
  size_t line = bytes.find("\nobject ") + 1, body = bytes.find('\n', line) + 1;
  std::string object = bytes.substr(body);
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(meta::Fnv1a(object)));
  WriteAll(entry, bytes.substr(0, line) + "object " + std::to_string(object.size()) + " " + hex +
                      "\n" + object);
}

TEST_F(CacheTest, ADamagedEntryIsRebuiltNeverLoaded) {
  ASSERT_EQ(RunBtap({"-v", "-e", kHello}).status, 0);
  fs::path entry = Only();
  ASSERT_FALSE(entry.empty());
  const std::string good = ReadAll(entry);
  struct Damage {
    const char* what;
    std::function<std::string(std::string)> apply;
    bool reseal;
  };
  std::vector<Damage> damages = {
      {"digest mismatch",
       [](std::string b) {
         b[b.size() - 200] ^= 0x10;
         return b;
       },
       false},
      {"truncated", [](std::string b) { return b.substr(0, b.size() / 2); }, false},
      {"bad header",
       [](std::string b) {
         b[3] = 'X';
         return b;
       },
       false},
      {"object: ", [](std::string b) { return b.substr(0, b.size() - 64) + std::string(64, 0); },
       true},
  };
  for (const Damage& d : damages) {
    WriteAll(entry, d.apply(good));
    if (d.reseal) ResealEntry(entry);
    Ran r = RunBtap({"-v", "-e", kHello});
    EXPECT_EQ(r.status, 0) << d.what << ": " << r.err;
    EXPECT_EQ(r.out, "hello\n") << d.what;
    EXPECT_FALSE(UsedCache(r)) << d.what;
    EXPECT_NE(r.err.find("btap: note: cache entry `" + entry.string() + "` is damaged ("),
              std::string::npos)
        << d.what << ":\n"
        << r.err;
    EXPECT_NE(r.err.find(d.what), std::string::npos) << r.err;
    EXPECT_TRUE(ReadAll(entry) == good) << d.what << ": rebuilt and replaced";
  }
  // Without -v (another entry) the rebuild is silent.
  ASSERT_EQ(RunBtap({"-e", kHello}).status, 0);
  std::vector<std::string> both = Entries();
  ASSERT_EQ(both.size(), 2u);
  fs::path quiet = dir_ / (dir_ / both[0] == entry ? both[1] : both[0]);
  const std::string quiet_good = ReadAll(quiet);
  WriteAll(quiet, quiet_good.substr(0, 100));
  Ran r = RunBtap({"-e", kHello});
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_TRUE(ReadAll(quiet) == quiet_good);
}

TEST_F(CacheTest, DisablePoisonAndCleanAsStapSpellsThem) {
  Ran r = RunBtap({"--disable-cache", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_TRUE(AllFiles().empty());  // nothing written, not even the folder's limit file

  ASSERT_EQ(RunBtap({"-v", "-e", kHello}).status, 0);
  fs::path entry = Only();
  const std::string good = ReadAll(entry);
  r = RunBtap({"-v", "--disable-cache", "-e", kHello});
  EXPECT_FALSE(UsedCache(r)) << r.err;  // nothing read either

  // --poison-cache: never read (the damage goes unnoticed), but written.
  WriteAll(entry, good.substr(0, 10));
  r = RunBtap({"-v", "--poison-cache", "-e", kHello});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(UsedCache(r));
  EXPECT_EQ(r.err.find("damaged"), std::string::npos) << r.err;
  EXPECT_TRUE(ReadAll(entry) == good);
  EXPECT_TRUE(UsedCache(RunBtap({"-v", "-e", kHello})));

  // --clean-cache: empties it and exits, script or not.
  ASSERT_EQ(RunBtap({"-v", "-e", "probe begin { exit() }"}).status, 0);
  ASSERT_EQ(Entries().size(), 2u);
  r = RunBtap({"-vv", "--clean-cache"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("Cache cleaning successful, removed entries: "), std::string::npos) << r.err;
  EXPECT_TRUE(Entries().empty());
  r = RunBtap({"--clean-cache", "-e", kHello});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "");  // not run
  EXPECT_TRUE(Entries().empty());
}

TEST_F(CacheTest, AFolderThatCannotBeUsedMeansNoCache) {
  WriteAll(root_ / "file", "");
  setenv("BTAP_CACHE", (root_ / "file/objects").c_str(), 1);
  Ran r = RunBtap({"-e", kHello});
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err, "");
  r = RunBtap({"-v", "-e", kHello});
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_NE(r.err.find("btap: note: not using the cache `" + (root_ / "file/objects").string() +
                       "`: Not a directory\n"),
            std::string::npos)
      << r.err;

  // Objects from the cache are loaded into the kernel: a folder others may write is refused.
  setenv("BTAP_CACHE", dir_.c_str(), 1);
  fs::create_directories(dir_);
  chmod(dir_.c_str(), 0777);
  r = RunBtap({"-v", "-e", kHello});
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_NE(r.err.find("`: other users can write it\n"), std::string::npos) << r.err;
  EXPECT_TRUE(AllFiles().empty());

  // A folder btap makes is private whatever the umask (002 would make it group-writable).
  fs::path fresh = root_ / "fresh/objects";
  setenv("BTAP_CACHE", fresh.c_str(), 1);
  mode_t old = umask(002);
  r = RunBtap({"-v", "-e", kHello});
  umask(old);
  EXPECT_EQ(r.out, "hello\n");
  EXPECT_EQ(r.err.find("not using the cache"), std::string::npos) << r.err;
  struct stat st;
  ASSERT_EQ(stat(fresh.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

// Runs the real btap binary with `argv`; its output goes to `out`.
pid_t Spawn(const std::vector<std::string>& argv, const fs::path& out) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> args = {const_cast<char*>(BTAP_BINARY)};
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(BTAP_BINARY, args.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Runs btap with `argv` in a process of its own, as a user runs it: its exit status, and
// in *log what it printed (both streams, to a file of this run's own under `dir`).
int RunLogged(const fs::path& dir, const std::vector<std::string>& argv, std::string* log) {
  static int runs = 0;
  fs::path out = dir / ("run" + std::to_string(++runs));
  int status = Wait(Spawn(argv, out));
  *log = ReadAll(out);
  return status;
}

TEST_F(CacheTest, ConcurrentStoresNeverLeaveATornEntry) {
  // Processes: several btaps compile and store the same entry at once.
  std::string script = "probe begin { printf(\"race\\n\"); exit() }";
  std::vector<pid_t> pids;
  for (int i = 0; i < 4; ++i)
    pids.push_back(
        Spawn({"-v", "-p4", "-o", "/dev/null", "-e", script}, root_ / std::to_string(i)));
  for (size_t i = 0; i < pids.size(); ++i)
    EXPECT_EQ(Wait(pids[i]), 0) << ReadAll(root_ / std::to_string(i));
  EXPECT_EQ(AllFiles().size(), 2u) << "one entry and the limit file, no temporaries";
  pid_t hit = Spawn({"-v", "-e", script}, root_ / "hit");
  EXPECT_EQ(Wait(hit), 0);
  std::string log = ReadAll(root_ / "hit");
  EXPECT_NE(log.find("Pass 3: using cached "), std::string::npos) << log;
  EXPECT_NE(log.find("race\n"), std::string::npos) << log;

  // Threads: stores of one key race with lookups, which see a whole entry or none.
  ASSERT_EQ(RunBtap({"-p4", "-o", "obj.bo", "-e", kHello}).status, 0);
  std::string bytes = ReadAll("obj.bo");
  std::vector<uint8_t> object(bytes.begin(), bytes.end());
  std::ostringstream notes;
  ObjectCache cache(dir_.string(), 1, notes);
  ASSERT_TRUE(cache.Usable());
  std::atomic<bool> done = false;
  std::atomic<int> hits = 0, wrong = 0;
  std::thread reader([&] {
    std::ostringstream reader_notes;
    ObjectCache mine(dir_.string(), 1, reader_notes);
    while (!done) {
      std::vector<uint8_t> got;
      meta::Meta meta;
      std::string warnings;
      if (mine.Lookup("race", &got, &meta, &warnings)) ++hits, wrong += got != object;
    }
    if (!reader_notes.str().empty()) ++wrong;
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t)
    writers.emplace_back([&] {
      for (int i = 0; i < 50; ++i) cache.Store("race", object);
    });
  for (std::thread& w : writers) w.join();
  done = true;
  reader.join();
  EXPECT_EQ(wrong, 0);
  EXPECT_GT(hits, 0);
  EXPECT_EQ(notes.str(), "");
  std::vector<std::string> files = AllFiles();
  EXPECT_EQ(std::count_if(files.begin(), files.end(),
                          [](const std::string& n) { return n.find(".tmp") != std::string::npos; }),
            0);
}

// The headers `@cast` takes types from, and what they include, are the entry's files: an
// edit makes it stale, and the new layout is compiled.
TEST_F(CacheTest, AnEditedCastHeaderIsRecompiledNotRunStale) {
  fs::path work = root_ / "work";
  WriteAll(work / "my.h", "#include \"inner.h\"\nstruct s { struct inner i; int a; };\n");
  WriteAll(work / "inner.h", "struct inner { int x; };\n");
  std::string script =
      "probe begin { printf(\"%d %d\\n\", @cast_module_sizeof(\"<./my.h>\", \"s\"), "
      "&@cast(0, \"s\", \"<./my.h>\")->a); exit() }";
  Ran r = RunBtap({"-v", "-e", script});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "8 4\n");
  r = RunBtap({"-v", "-e", script});
  EXPECT_TRUE(UsedCache(r)) << r.err;
  EXPECT_EQ(r.out, "8 4\n");
  ASSERT_TRUE(fs::exists(Only()));
  std::ifstream in(Only());
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find(" " + (work / "my.h").string() + "\n"), std::string::npos);
  EXPECT_NE(text.find(" " + (work / "inner.h").string() + "\n"), std::string::npos);

  WriteAll(work / "my.h", "#include \"inner.h\"\nstruct s { long b; struct inner i; int a; };\n");
  r = RunBtap({"-v", "-e", script});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(UsedCache(r)) << r.err;
  EXPECT_NE(r.err.find("is stale: `" + (work / "my.h").string() + "` changed"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "16 12\n");
  // A header the named one includes.
  WriteAll(work / "inner.h", "struct inner { int x[5]; };\n");
  r = RunBtap({"-v", "-e", script});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_FALSE(UsedCache(r)) << r.err;
  EXPECT_NE(r.err.find("is stale: `" + (work / "inner.h").string() + "` changed"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.out, "32 28\n");
  EXPECT_TRUE(UsedCache(RunBtap({"-v", "-e", script})));
}

TEST_F(CacheTest, AReplacedProbedBinaryIsRecompiledNotRunStale) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to attach uprobes";
  // The real binary, one process per run, as a user runs it.
  fs::path prog = root_ / "prog";
  fs::copy_file(BTAP_UPROBE_TARGET_O0, prog);
  std::string script = "probe process(\"" + prog.string() +
                       "\").function(\"negate_sum\") { printf(\"%d %d\\n\", $a, $b) }";
  auto run = [&](std::string* log) {
    return RunLogged(root_, {"-v", "-c", prog.string() + " calls", "-e", script}, log);
  };
  std::string log;
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_NE(log.find("\n20 22\n"), std::string::npos) << log;
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_NE(log.find("Pass 3: using cached "), std::string::npos) << log;
  EXPECT_NE(log.find("\n20 22\n"), std::string::npos) << log;
  // Another build of the program at the same path: the entry is stale.
  fs::copy_file(BTAP_UPROBE_TARGET_O2, prog, fs::copy_options::overwrite_existing);
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_EQ(log.find("Pass 3: using cached "), std::string::npos) << log;
  EXPECT_NE(log.find("is stale: `" + prog.string() + "` changed since it was compiled"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\n20 22\n"), std::string::npos) << log;
  EXPECT_EQ(log.find("build id"), std::string::npos) << log;
  ASSERT_EQ(run(&log), 0) << log;  // the entry was replaced
  EXPECT_NE(log.find("Pass 3: using cached "), std::string::npos) << log;
  EXPECT_NE(log.find("\n20 22\n"), std::string::npos) << log;
}

// A wildcard whose probes share one program names its file on the first line of the
// group's target (the offsets follow): the entry depends on that file all the same.
TEST_F(CacheTest, AReplacedBinaryOfASharedProgramIsRecompiled) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to attach uprobes";
  fs::path prog = root_ / "prog";
  fs::copy_file(BTAP_UPROBE_TARGET_O0, prog);
  // negate_sum and apply_scale: two functions, one program.
  std::string script = "probe process(\"" + prog.string() +
                       "\").function(\"*_s*\") { printf(\"in %s\\n\", ppfunc()) }";
  auto run = [&](std::string* log) {
    return RunLogged(root_, {"-vv", "-c", prog.string() + " calls", "-e", script}, log);
  };
  std::string log;
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_NE(log.find("multi-uprobe"), std::string::npos) << log;
  EXPECT_NE(log.find("\nin negate_sum\n"), std::string::npos) << log;
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_NE(log.find("Pass 3: using cached "), std::string::npos) << log;
  fs::copy_file(BTAP_UPROBE_TARGET_O2, prog, fs::copy_options::overwrite_existing);
  ASSERT_EQ(run(&log), 0) << log;
  EXPECT_EQ(log.find("Pass 3: using cached "), std::string::npos) << log;
  EXPECT_NE(log.find("is stale: `" + prog.string() + "` changed since it was compiled"),
            std::string::npos)
      << log;
  EXPECT_NE(log.find("\nin negate_sum\n"), std::string::npos) << log;
}

}  // namespace
}  // namespace btap::driver
