// Tracepoint catalog: format-file parsing and BTF spelling on hand-made inputs, then the real
// tracefs and kernel BTF of this machine (skipped without root or tracefs).
#include "semantic/machine/tracepoints.h"

#include <bpf/btf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace btap::sema {
namespace {

namespace fs = std::filesystem;

constexpr const char* kVmlinuxBtf = "/sys/kernel/btf/vmlinux";

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/btap-tracepoints-XXXXXX";
    path_ = mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& text) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }

 private:
  std::string path_;
};

std::string Describe(const std::vector<TracepointArg>& args) {
  std::string out;
  for (const TracepointArg& a : args) out += (out.empty() ? "" : " ") + a.name + ":" + a.c_type;
  return out;
}

std::vector<std::string> Spellings(const std::vector<const Tracepoint*>& tps) {
  std::vector<std::string> out;
  for (const Tracepoint* tp : tps) out.push_back(tp->Spelling());
  return out;
}

const TracepointArg* FindArg(const std::vector<TracepointArg>& args, const std::string& name) {
  for (const TracepointArg& a : args)
    if (a.name == name) return &a;
  return nullptr;
}

constexpr const char* kFakeFormat =
    "name: y\n"
    "ID: 7\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:char prev_comm[16];\toffset:8;\tsize:16;\tsigned:0;\n"
    "\tfield:pid_t  prev_pid;\toffset:24;\tsize:4;\tsigned:1;\n"
    "\tfield:__data_loc char[] name;\toffset:28;\tsize:4;\tsigned:0;\n"
    "\tfield:const char * filename;\toffset:32;\tsize:8;\tsigned:0;\n"
    "\tfield:struct sk_buff * * skbs[2][3];\toffset:40;\tsize:48;\tsigned:0;\n"
    "\tfield:garbage without a semicolon\n"
    "\n"
    "print fmt: \"comm=%s\", REC->prev_comm\n";

TEST(TracepointFormat, ParsesFieldsAndSkipsCommonOnes) {
  std::vector<TracepointArg> args = ParseFormatFields(kFakeFormat);
  EXPECT_EQ(Describe(args),
            "prev_comm:char[16] prev_pid:pid_t name:__data_loc char[] filename:const char* "
            "skbs:struct sk_buff**[2][3]");
  ASSERT_EQ(args.size(), 5u);
  TracepointArg comm{
      .name = "prev_comm", .c_type = "char[16]", .size = 16, .is_array = true, .offset = 8};
  EXPECT_EQ(args[0], comm);
  EXPECT_TRUE(args[1].is_signed);
  EXPECT_EQ(args[1].size, 4u);
  EXPECT_TRUE(args[2].is_dynamic);
  EXPECT_FALSE(args[2].is_array);  // the record holds a 4-byte locator, not the chars
  EXPECT_EQ(args[2].offset, 28u);
  EXPECT_TRUE(args[3].is_pointer);
  EXPECT_EQ(args[3].offset, 32u);
  EXPECT_TRUE(args[4].is_array);
  EXPECT_FALSE(args[4].is_pointer);  // an array of pointers
}

TEST(TracepointFormat, OldKernelsSpellHeaderFieldsSpecial) {
  std::vector<TracepointArg> args = ParseFormatFields(
      "\tfield special:unsigned short common_type;\toffset:0;\tsize:2;\n"
      "\tfield:unsigned long args[6];\toffset:16;\tsize:48;\tsigned:0;\n");
  EXPECT_EQ(Describe(args), "args:unsigned long[6]");
  EXPECT_TRUE(ParseFormatFields("").empty());
}

TEST(Tracepoint, Spelling) {
  EXPECT_EQ((Tracepoint{"sched", "sched_switch"}.Spelling()), "sched:sched_switch");
  EXPECT_EQ((Tracepoint{"", "sched_switch"}.Spelling()), "sched_switch");
}

TEST(TracepointCatalog, FakeTracefs) {
  TempDir dir;
  dir.Write("available_events", "x:y\n\nx:y\nb:a\ngarbage\n:n\ns:\n");
  dir.Write("events/x/y/format", kFakeFormat);
  TracepointCatalog c = TracepointCatalog::Load(dir.path(), "/nonexistent/vmlinux");
  EXPECT_EQ(c.error(), "");
  EXPECT_EQ(c.tracefs_root(), dir.path());
  EXPECT_EQ(Spellings(c.Match("*")), (std::vector<std::string>{"b:a", "x:y"}));
  ArgSource source = ArgSource::Btf;
  const std::vector<TracepointArg>* args = c.Args({"x", "y"}, &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Format);
  EXPECT_EQ(args->size(), 5u);
  EXPECT_EQ(c.Args({"x", "y"}), args);  // cached
  EXPECT_EQ(c.Args({"b", "a"}), nullptr);
  EXPECT_EQ(c.Args({"..", "x"}), nullptr);
  EXPECT_NE(c.error().find("/nonexistent/vmlinux"), std::string::npos) << c.error();
}

TEST(TracepointCatalog, EventsDirectoryWhenNoAvailableEvents) {
  TempDir dir;
  dir.Write("events/s1/e1/format", kFakeFormat);
  dir.Write("events/s1/enable", "0\n");
  dir.Write("events/s2/e2/format", "");
  dir.Write("events/header_page", "");
  TracepointCatalog c = TracepointCatalog::Load(dir.path(), "/nonexistent/vmlinux");
  EXPECT_EQ(Spellings(c.Match("*:*")), (std::vector<std::string>{"s1:e1", "s2:e2"}));
  const std::vector<TracepointArg>* args = c.Args({"s2", "e2"});
  ASSERT_NE(args, nullptr);
  EXPECT_TRUE(args->empty());
}

TEST(TracepointCatalog, NothingAvailableIsNotFatal) {
  TempDir dir;
  TracepointCatalog c = TracepointCatalog::Load(dir.path(), "/nonexistent/vmlinux");
  EXPECT_TRUE(c.all().empty());
  EXPECT_NE(c.error().find("no tracefs events"), std::string::npos) << c.error();
  EXPECT_NE(c.error().find("/nonexistent/vmlinux"), std::string::npos) << c.error();
  EXPECT_TRUE(c.Match("*").empty());
  EXPECT_EQ(c.Args({"sched", "sched_switch"}), nullptr);
}

// A hand-made BTF: the same shapes the kernel emits for one tracepoint.
class HandMadeBtf : public ::testing::Test {
 protected:
  void SetUp() override {
    b_ = btf__new_empty();
    ASSERT_NE(b_, nullptr);
    int_ = btf__add_int(b_, "int", 4, BTF_INT_SIGNED);
    uint_ = btf__add_int(b_, "unsigned int", 4, 0);
    char_ = btf__add_int(b_, "char", 1, BTF_INT_CHAR);
    const_char_ = btf__add_const(b_, char_);
    task_ = btf__add_struct(b_, "task_struct", 8);
    btf__add_field(b_, "pid", int_, 0, 0);
    task_ptr_ = btf__add_ptr(b_, task_);
    pid_t_ = btf__add_typedef(b_, "pid_t", int_);
  }
  void TearDown() override { btf__free(b_); }

  // `btf_trace_<name>` is an unnamed `void (*)(void*, args...)`; `__traceiter_<name>` names them.
  void AddTracepoint(const std::string& name, bool with_names) {
    // Parameters attach to the type added last, so every other type comes first.
    int void_ptr = btf__add_ptr(b_, 0);
    int comm_ptr = btf__add_ptr(b_, const_char_);
    int proto = btf__add_func_proto(b_, 0);
    btf__add_func_param(b_, "", void_ptr);
    btf__add_func_param(b_, "", task_ptr_);
    btf__add_func_param(b_, "", comm_ptr);
    btf__add_func_param(b_, "", pid_t_);
    btf__add_typedef(b_, ("btf_trace_" + name).c_str(), btf__add_ptr(b_, proto));
    if (!with_names) return;
    int named = btf__add_func_proto(b_, int_);
    for (const char* n : {"__data", "p", "comm", "pid"}) btf__add_func_param(b_, n, void_ptr);
    btf__add_func(b_, ("__traceiter_" + name).c_str(), BTF_FUNC_GLOBAL, named);
  }

  std::string WriteRaw(const TempDir& dir) {
    uint32_t size = 0;
    const void* raw = btf__raw_data(b_, &size);
    std::string path = dir.path() + "/btf";
    std::ofstream(path, std::ios::binary).write(static_cast<const char*>(raw), size);
    return path;
  }

  struct btf* b_ = nullptr;
  int int_, uint_, char_, const_char_, task_, task_ptr_, pid_t_;
};

TEST_F(HandMadeBtf, SpellsTypesLikeSystemTap) {
  EXPECT_EQ(BtfCType(b_, 0), "void");
  EXPECT_EQ(BtfCType(b_, uint_), "unsigned int");
  EXPECT_EQ(BtfCType(b_, btf__add_ptr(b_, const_char_)), "const char*");
  EXPECT_EQ(BtfCType(b_, btf__add_const(b_, btf__add_ptr(b_, char_))), "char* const");
  EXPECT_EQ(BtfCType(b_, task_ptr_), "struct task_struct*");
  EXPECT_EQ(BtfCType(b_, btf__add_ptr(b_, task_ptr_)), "struct task_struct**");
  EXPECT_EQ(BtfCType(b_, pid_t_), "pid_t");
  EXPECT_EQ(BtfCType(b_, btf__add_ptr(b_, 0)), "void*");
  EXPECT_EQ(BtfCType(b_, btf__add_array(b_, int_, int_, 4)), "int[4]");
  EXPECT_EQ(BtfCType(b_, btf__add_union(b_, "bar", 4)), "union bar");
  EXPECT_EQ(BtfCType(b_, btf__add_union(b_, "", 4)), "union {...}");
  EXPECT_EQ(BtfCType(b_, btf__add_enum(b_, "foo", 4)), "enum foo");
  EXPECT_EQ(BtfCType(b_, btf__add_fwd(b_, "file", BTF_FWD_STRUCT)), "struct file");
  EXPECT_EQ(BtfCType(b_, btf__add_volatile(b_, int_)), "volatile int");
  EXPECT_EQ(BtfCType(b_, btf__add_ptr(b_, btf__add_func_proto(b_, 0))), "<function>*");
  EXPECT_EQ(BtfCType(b_, 100000), "?");
}

TEST_F(HandMadeBtf, BtfOnlyCatalogTakesNamesFromTraceiter) {
  AddTracepoint("named_tp", true);
  AddTracepoint("anon_tp", false);
  TempDir dir;
  std::string path = WriteRaw(dir);
  TracepointCatalog c = TracepointCatalog::Load(dir.path() + "/no-tracefs", path);
  EXPECT_EQ(c.error(), "");
  EXPECT_EQ(c.tracefs_root(), "");
  EXPECT_EQ(Spellings(c.Match("*")), (std::vector<std::string>{"anon_tp", "named_tp"}));
  ArgSource source = ArgSource::Format;
  const std::vector<TracepointArg>* args = c.Args(c.all()[1], &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Btf);
  EXPECT_EQ(Describe(*args), "p:struct task_struct* comm:const char* pid:pid_t");
  TracepointArg pid{.name = "pid", .c_type = "pid_t", .size = 4, .is_signed = true};
  pid.btf_type = args->at(2).btf_type;  // its type in this BTF, for member chains
  EXPECT_NE(pid.btf_type, 0u);
  EXPECT_EQ(args->at(2), pid);
  EXPECT_TRUE(args->at(0).is_pointer);
  EXPECT_EQ(args->at(0).size, 8u);
  // Without a named function the arguments are numbered from 1.
  EXPECT_EQ(Describe(*c.Args(c.all()[0])), "arg1:struct task_struct* arg2:const char* arg3:pid_t");
  EXPECT_TRUE(c.bare().empty());  // a BTF-only catalog lists them all as events
  // An unknown system is only matched by globs that match the empty string.
  EXPECT_EQ(c.Match("*:named_tp").size(), 1u);
  EXPECT_TRUE(c.Match("sched:named_tp").empty());
}

// A tracepoint that BTF knows and tracefs does not (DECLARE_TRACE) is bare: matched by name,
// with its arguments from BTF, and by a `sys:name` pattern that names it in full.
TEST_F(HandMadeBtf, BareTracepointsBesideTracefsEvents) {
  AddTracepoint("event_tp", true);
  AddTracepoint("bare_tp", true);
  AddTracepoint("anon_tp", false);
  TempDir dir;
  std::string path = WriteRaw(dir);
  dir.Write("tracefs/available_events", "x:event_tp\nx:other\n");
  TracepointCatalog c = TracepointCatalog::Load(dir.path() + "/tracefs", path);
  EXPECT_EQ(c.error(), "");
  EXPECT_EQ(Spellings(c.Match("x:event_tp")), std::vector<std::string>{"x:event_tp"});
  EXPECT_EQ(Spellings(c.Match("event_tp")), std::vector<std::string>{"x:event_tp"});
  EXPECT_EQ(Spellings(c.Match("*")),
            (std::vector<std::string>{"x:event_tp", "x:other", "anon_tp", "bare_tp"}));
  EXPECT_EQ(Spellings(c.Match("*_tp")),
            (std::vector<std::string>{"x:event_tp", "anon_tp", "bare_tp"}));
  EXPECT_EQ(Spellings(c.Match("*:a*")), std::vector<std::string>{"anon_tp"});
  EXPECT_EQ(Spellings(c.Match(":bare_tp")), std::vector<std::string>{"bare_tp"});
  EXPECT_EQ(Spellings(c.Match("sched:bare_tp")), std::vector<std::string>{"bare_tp"});
  EXPECT_EQ(Spellings(c.Match("x:*")), (std::vector<std::string>{"x:event_tp", "x:other"}));
  EXPECT_TRUE(c.Match("sched:bare_*").empty());  // a system glob that needs a system
  EXPECT_TRUE(c.Match("nosuch_tp").empty());
  ArgSource source = ArgSource::Format;
  const std::vector<TracepointArg>* args = c.Args(*c.Match("bare_tp")[0], &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Btf);
  EXPECT_EQ(Describe(*args), "p:struct task_struct* comm:const char* pid:pid_t");
  EXPECT_EQ(Describe(*c.Args(*c.Match("anon_tp")[0])),
            "arg1:struct task_struct* arg2:const char* arg3:pid_t");
}

TEST_F(HandMadeBtf, BareTracepointsNeedBtfOnlyWhenThePatternMayNameOne) {
  TempDir dir;
  dir.Write("tracefs/available_events", "x:event_tp\n");
  TracepointCatalog c = TracepointCatalog::Load(dir.path() + "/tracefs", "/nonexistent/vmlinux");
  EXPECT_EQ(c.Match("x:event_tp").size(), 1u);
  EXPECT_EQ(c.Match("x:*").size(), 1u);
  EXPECT_EQ(c.error(), "");  // BTF was not read
  EXPECT_TRUE(c.Match("bare_tp").empty());
  EXPECT_NE(c.error().find("/nonexistent/vmlinux"), std::string::npos) << c.error();
}

// The real tracefs and BTF of this machine, loaded once for the suite.
class LiveKernel : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { catalog_ = new TracepointCatalog(TracepointCatalog::Load()); }
  static void TearDownTestSuite() { delete catalog_; }
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to read (and perhaps mount) tracefs";
    if (catalog_->tracefs_root().empty())
      GTEST_SKIP() << "tracefs unavailable: " << catalog_->error();
  }
  static TracepointCatalog* catalog_;
};
TracepointCatalog* LiveKernel::catalog_ = nullptr;

TEST_F(LiveKernel, CatalogIsAvailableEvents) {
  std::ifstream in(catalog_->tracefs_root() + "/available_events");
  std::set<std::string> expected;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) expected.insert(line);
  std::set<std::string> actual;
  for (const Tracepoint& tp : catalog_->all()) actual.insert(tp.Spelling());
  EXPECT_EQ(actual, expected);
  EXPECT_EQ(actual.size(), catalog_->all().size());  // unique
  EXPECT_TRUE(std::is_sorted(catalog_->all().begin(), catalog_->all().end()));
}

TEST_F(LiveKernel, SchedSwitchArgsComeFromBtf) {
  if (access(kVmlinuxBtf, R_OK) != 0) GTEST_SKIP() << "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)";
  ArgSource source = ArgSource::Format;
  const std::vector<TracepointArg>* args = catalog_->Args({"sched", "sched_switch"}, &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Btf);
  // prev_state joined the prototype in 5.18.
  std::string expected = "preempt:bool prev:struct task_struct* next:struct task_struct*";
  if (args->size() == 4) expected += " prev_state:unsigned int";
  EXPECT_EQ(Describe(*args), expected);
  EXPECT_EQ(args->at(0).size, 1u);
  EXPECT_TRUE(args->at(1).is_pointer);
  EXPECT_EQ(args->at(1).size, 8u);
}

TEST_F(LiveKernel, SyscallArgsComeFromTheFormatFile) {
  ArgSource source = ArgSource::Btf;
  const std::vector<TracepointArg>* args =
      catalog_->Args({"syscalls", "sys_enter_openat"}, &source);
  if (!args) GTEST_SKIP() << "kernel lacks syscalls:sys_enter_openat (CONFIG_FTRACE_SYSCALLS)";
  EXPECT_EQ(source, ArgSource::Format);
  // The record also carries __syscall_nr before the arguments.
  std::string all = Describe(*args);
  EXPECT_NE(all.find("dfd:int filename:const char* flags:int mode:umode_t"), std::string::npos)
      << all;
  EXPECT_EQ(all.find("common_"), std::string::npos) << all;
  const TracepointArg* filename = FindArg(*args, "filename");
  ASSERT_NE(filename, nullptr);
  EXPECT_TRUE(filename->is_pointer);
  EXPECT_EQ(filename->size, 8u);
  EXPECT_EQ(filename->offset, FindArg(*args, "dfd")->offset + 8);
}

TEST_F(LiveKernel, Match) {
  EXPECT_EQ(Spellings(catalog_->Match("sched:sched_switch")),
            std::vector<std::string>{"sched:sched_switch"});
  std::vector<std::string> sw = Spellings(catalog_->Match("sched:sched_sw*"));
  EXPECT_NE(std::find(sw.begin(), sw.end(), "sched:sched_switch"), sw.end());
  for (const std::string& s : sw) EXPECT_TRUE(s.starts_with("sched:sched_sw")) << s;
  EXPECT_EQ(Spellings(catalog_->Match("sched_switch")),
            std::vector<std::string>{"sched:sched_switch"});
  EXPECT_EQ(Spellings(catalog_->Match("*:sched_switch")),
            std::vector<std::string>{"sched:sched_switch"});
  EXPECT_TRUE(catalog_->Match("nosuch:*").empty());
  EXPECT_TRUE(catalog_->Match("sched:").empty());
  std::vector<const Tracepoint*> sched = catalog_->Match("sched:*");
  EXPECT_GT(sched.size(), 10u);
  EXPECT_TRUE(std::is_sorted(sched.begin(), sched.end(),
                             [](const Tracepoint* a, const Tracepoint* b) { return *a < *b; }));
  EXPECT_EQ(catalog_->Match("*").size(), catalog_->all().size() + catalog_->bare().size());
}

// DECLARE_TRACE tracepoints (the scheduler's `*_tp` ones) have no event; BTF names them.
TEST_F(LiveKernel, BareSchedulerTracepoint) {
  if (access(kVmlinuxBtf, R_OK) != 0) GTEST_SKIP() << "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)";
  std::vector<const Tracepoint*> tps = catalog_->Match("sched_update_nr_running_tp");
  if (tps.empty()) GTEST_SKIP() << "kernel has no sched_update_nr_running_tp";
  EXPECT_EQ(Spellings(tps), std::vector<std::string>{"sched_update_nr_running_tp"});
  EXPECT_EQ(Spellings(catalog_->Match("sched:sched_update_nr_running_tp")),
            std::vector<std::string>{"sched_update_nr_running_tp"});
  ArgSource source = ArgSource::Format;
  const std::vector<TracepointArg>* args = catalog_->Args(*tps[0], &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Btf);
  EXPECT_EQ(Describe(*args), "rq:struct rq* change:int");
  for (const Tracepoint& tp : catalog_->bare()) {
    EXPECT_EQ(tp.system, "") << tp.name;
    EXPECT_TRUE(std::none_of(catalog_->all().begin(), catalog_->all().end(),
                             [&](const Tracepoint& e) { return e.name == tp.name; }))
        << tp.name;
  }
}

TEST_F(LiveKernel, BtfOnlyFallback) {
  if (access(kVmlinuxBtf, R_OK) != 0) GTEST_SKIP() << "kernel has no BTF (CONFIG_DEBUG_INFO_BTF)";
  TempDir empty;
  TracepointCatalog c = TracepointCatalog::Load(empty.path());
  EXPECT_EQ(c.error(), "");
  EXPECT_GT(c.all().size(), 100u);
  for (const Tracepoint& tp : c.all()) ASSERT_EQ(tp.system, "") << tp.name;
  EXPECT_EQ(Spellings(c.Match("sched_switch")), std::vector<std::string>{"sched_switch"});
  EXPECT_TRUE(c.Match("sched:sched_switch").empty());
  ArgSource source = ArgSource::Format;
  const std::vector<TracepointArg>* args = c.Args(*c.Match("sched_switch")[0], &source);
  ASSERT_NE(args, nullptr);
  EXPECT_EQ(source, ArgSource::Btf);
  EXPECT_EQ(args->at(1).name, "prev");
  // Syscall events have no raw-tracepoint prototype of their own.
  EXPECT_TRUE(c.Match("sys_enter_openat").empty());
}

// `btap -L 'kernel.trace("*")'` needs every event's arguments; the target is < 100 ms.
TEST_F(LiveKernel, ListingAllArgsIsFast) {
  using Clock = std::chrono::steady_clock;
  auto ms = [](Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); };
  Clock::time_point start = Clock::now();
  TracepointCatalog c = TracepointCatalog::Load();
  Clock::time_point loaded = Clock::now();
  size_t from_btf = 0, from_format = 0, unknown = 0, arg_count = 0;
  for (const Tracepoint& tp : c.all()) {
    ArgSource source;
    const std::vector<TracepointArg>* args = c.Args(tp, &source);
    if (!args) {
      ++unknown;
      continue;
    }
    ++(source == ArgSource::Btf ? from_btf : from_format);
    arg_count += args->size();
  }
  Clock::time_point done = Clock::now();
  std::printf(
      "[ timing ] %zu events: list %.2f ms, args %.2f ms, total %.2f ms "
      "(%zu from BTF, %zu from format, %zu unknown, %zu args)\n",
      c.all().size(), ms(loaded - start), ms(done - loaded), ms(done - start), from_btf,
      from_format, unknown, arg_count);
  EXPECT_EQ(unknown, 0u);
}

}  // namespace
}  // namespace btap::sema
