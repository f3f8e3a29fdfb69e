// Pass 2 against the real machine: tracepoints resolved from this kernel's tracefs and
// BTF, listing checked against tracefs, probe ordering data, alias bookkeeping.
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/kallsyms.h"
#include "frontend/ast_walk.h"
#include "semantic/listing.h"
#include "tests/unit/semantic/elab_helpers.h"
#include "tools/btap/driver.h"

namespace btap {
namespace {
namespace fs = std::filesystem;
using testing::Elaborate;

std::string EventsFile() {
  for (const char* root : {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"}) {
    std::string path = std::string(root) + "/available_events";
    if (fs::exists(path)) return path;
  }
  if (geteuid() == 0 && mount("nodev", "/sys/kernel/tracing", "tracefs", 0, nullptr) == 0)
    return "/sys/kernel/tracing/available_events";
  return "";
}

#define REQUIRE_TRACEFS()                                                     \
  std::string events_file = EventsFile();                                     \
  if (events_file.empty()) GTEST_SKIP() << "needs tracefs (root, mountable)"; \
  if (!fs::exists("/sys/kernel/btf/vmlinux")) GTEST_SKIP() << "needs kernel BTF"

TEST(Elaborate, PassesAreListedOnce) {
  std::vector<std::string> names;
  for (const sema::PassInfo& p : sema::AllSemanticPasses()) names.emplace_back(p.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"probes", "target variables", "symbols", "language checks",
                                      "recursion", "types", "print folding", "dead code"}));
}

TEST(Elaborate, TracepointArgumentsAreTyped) {
  REQUIRE_TRACEFS();
  auto r = Elaborate(
      "probe kernel.trace(\"sched:sched_switch\") { printf(\"%d %d\\n\", $prev, $next) }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  ASSERT_EQ(r->program->probes.size(), 1u);
  const sema::ProbeSpec& spec = r->program->probes[0]->spec;
  EXPECT_EQ(spec.point, "kernel.trace(\"sched:sched_switch\")");
  bool found = false;
  for (const sema::TargetArg& a : spec.args)
    if (a.name == "prev") found = a.c_type == "struct task_struct*";
  EXPECT_TRUE(found);
}

TEST(Elaborate, UnknownTracepointVariableSuggests) {
  REQUIRE_TRACEFS();
  auto r = Elaborate("probe kernel.trace(\"sched:sched_switch\") { print($prv) }");
  EXPECT_TRUE(r->diags.has_errors());
  EXPECT_NE(r->Errors().find("unknown target variable `$prv`"), std::string::npos) << r->Errors();
  EXPECT_NE(r->Errors().find("did you mean `$prev`"), std::string::npos) << r->Errors();
}

TEST(Elaborate, DefinedTellsTracepointVariables) {
  REQUIRE_TRACEFS();
  auto r = Elaborate(
      "probe kernel.trace(\"sched:sched_switch\") { a = @defined($prev); b = @defined($nope) }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
}

TEST(Elaborate, TracepointWildcardExpandsToEachEvent) {
  REQUIRE_TRACEFS();
  std::ifstream in(events_file);
  size_t sched = 0;
  for (std::string line; std::getline(in, line);) sched += line.rfind("sched:", 0) == 0;
  auto r = Elaborate("probe kernel.trace(\"sched:*\") { n = 1 }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  EXPECT_EQ(r->program->probes.size(), sched);
  EXPECT_GT(sched, 10u);
}

TEST(Elaborate, MissingTracepointIsAMismatchUnlessOptional) {
  REQUIRE_TRACEFS();
  auto r = Elaborate("probe kernel.trace(\"nosuch:event\") { }");
  EXPECT_NE(r->Errors().find("test.stp:1:14: error: no tracepoint matches `nosuch:event`\n"),
            std::string::npos)
      << r->Errors();
  auto ok = Elaborate("probe kernel.trace(\"nosuch:event\") ?, begin { }");
  EXPECT_FALSE(ok->diags.has_errors()) << ok->Errors();
  EXPECT_EQ(ok->program->probes.size(), 1u);
}

// Mistyped events get the nearest ones: `sys:name` against full spellings, a bare name
// against event names; transposed letters count as one typo.
TEST(Elaborate, MistypedTracepointsAndSyscallsGetSuggestions) {
  REQUIRE_TRACEFS();
  auto r = Elaborate("probe kernel.trace(\"sched:sched_swich\") { }");
  EXPECT_NE(r->Errors().find("error: no tracepoint matches `sched:sched_swich`; did you mean "
                             "`sched:sched_switch`"),
            std::string::npos)
      << r->Errors();
  r = Elaborate("probe kernel.trace(\"sched_swtch\") { }");
  EXPECT_NE(r->Errors().find("error: no tracepoint matches `sched_swtch`; did you mean "
                             "`sched_switch`?"),
            std::string::npos)
      << r->Errors();
  r = Elaborate("probe syscall.opne { }");
  EXPECT_NE(r->Errors().find("test.stp:1:15: error: probe point mismatch at `opne` (similar: "
                             "`open`)"),
            std::string::npos)
      << r->Errors();
  r = Elaborate("probe syscall.reed.return { }");
  EXPECT_NE(r->Errors().find("test.stp:1:15: error: probe point mismatch at `reed` (similar: "
                             "`read`"),
            std::string::npos)
      << r->Errors();
}

// stap points btap lacks say so rather than suggesting near names.
TEST(Elaborate, MissingStapPointsSayWhy) {
  auto r = Elaborate("probe python3.module(\"m\").function(\"f:x\") { }");
  EXPECT_NE(r->Errors().find("test.stp:1:27: error: bad line number `x` in `f:x`"),
            std::string::npos)
      << r->Errors();
  // (User and kernel .plt and .label probes exist: uprobe_plt, uprobe_label_plt_errors,
  // kernel_dwarf_host.sh.)
  r = Elaborate("probe kprobe.function(\"f\").label(\"out\") { }");
  EXPECT_NE(r->Errors().find("test.stp:1:28: error: probe point mismatch at `label(\"out\")`; "
                             "`.label` follows a function: process(\"PATH\").function(\"F\"), "
                             "kernel.function(\"F\") or module(\"M\").function(\"F\")"),
            std::string::npos)
      << r->Errors();
}

// A wildcard copies one body per match; its error is reported once, then counted.
TEST(Elaborate, CopiesOfOneBodyReportOnce) {
  auto r = Elaborate("probe begin, end, begin(1) { nosuch() }");
  EXPECT_EQ(r->diags.error_count(), 1u);
  EXPECT_EQ(r->diags.suppressed_errors(), 2u);
  EXPECT_EQ(r->Errors(),
            "test.stp:1:30: error: unresolved function `nosuch`\n"
            "probe begin, end, begin(1) { nosuch() }\n"
            "                             ^~~~~~\n"
            "Number of similar error messages suppressed: 2.\n"
            "Rerun with -v to see them.\n");
}

// -l lists exactly the events of this machine's tracefs, then bare tracepoints (no system:
// a `btf_trace_NAME` type with no event NAME). The bare part is checked by names known to be
// bare in kernels that have them, not by the listing's own rule.
TEST(Listing, AllTracepointsMatchTracefs) {
  REQUIRE_TRACEFS();
  std::set<std::string> events;
  std::ifstream in(events_file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) events.insert("kernel.trace(\"" + line + "\")");
  auto start = std::chrono::steady_clock::now();
  std::istringstream none;
  std::ostringstream out, err;
  int status = driver::Run({"-L", "kernel.trace(\"*\")"}, none, out, err);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  std::printf("listing %zu tracefs events with -L took %.1f ms\n", events.size(), ms.count());
  EXPECT_EQ(status, 0) << err.str();
  std::set<std::string> got_events, got_bare;
  std::istringstream lines(out.str());
  std::string previous;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_LT(previous, line) << "sorted and unique";
    previous = line;
    std::string point = line.substr(0, line.find(") ") + 1);
    (point.find(':') == std::string::npos ? got_bare : got_events).insert(point);
  }
  EXPECT_EQ(got_events, events);
  for (const std::string& bare : got_bare) EXPECT_FALSE(events.contains(bare)) << bare;
  // Declared with DECLARE_TRACE (no event) in the scheduler since 5.x: bare wherever the
  // kernel's BTF has their iterator.
  std::ifstream kallsyms("/proc/kallsyms");
  std::string text((std::istreambuf_iterator<char>(kallsyms)), std::istreambuf_iterator<char>());
  for (const char* name : {"sched_update_nr_running_tp", "pelt_cfs_tp"}) {
    if (text.find(std::string(" __traceiter_") + name + "\n") == std::string::npos) continue;
    EXPECT_TRUE(got_bare.contains(std::string("kernel.trace(\"") + name + "\")")) << name;
  }
}

TEST(Listing, VariablesOfATracepoint) {
  REQUIRE_TRACEFS();
  std::istringstream none;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-L", "kernel.trace(\"sched:sched_switch\")"}, none, out, err), 0);
  EXPECT_EQ(out.str().rfind("kernel.trace(\"sched:sched_switch\") $preempt:bool "
                            "$prev:struct task_struct* $next:struct task_struct*",
                            0),
            0u)
      << out.str();
}

TEST(Listing, NothingMatchedExitsOne) {
  std::istringstream none;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-l", "no.such.thing"}, none, out, err), 1);
  EXPECT_EQ(out.str(), "");
}

TEST(Listing, FamiliesAndAliasesWithLocals) {
  fs::path dir = fs::temp_directory_path() / ("btap-listing-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "ticks.stp") << "probe tick.fast = timer.ms(1) { name = \"fast\"; n = 1 }\n"
                                      "probe tick.slow = timer.s(1) { name = \"slow\" }\n";
  std::istringstream none;
  std::ostringstream out, err;
  EXPECT_EQ(driver::Run({"-I", dir.string(), "-L", "tick.*"}, none, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "tick.fast n:long name:string\ntick.slow name:string\n");
  std::ostringstream out2, err2;
  EXPECT_EQ(driver::Run({"-l", "begin*"}, none, out2, err2), 0) << err2.str();
  EXPECT_EQ(out2.str(), "begin\nbegin(number)\n");
  fs::remove_all(dir);
}

TEST(Elaborate, BeginEndSequenceNumbers) {
  auto r = Elaborate("probe begin(-5), end(3), error { }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  ASSERT_EQ(r->program->probes.size(), 3u);
  EXPECT_EQ(r->program->probes[0]->spec.sequence, -5);
  EXPECT_EQ(r->program->probes[1]->spec.family, sema::Family::End);
  EXPECT_EQ(r->program->probes[1]->spec.sequence, 3);
  EXPECT_EQ(r->program->probes[2]->spec.family, sema::Family::Error);
}

TEST(Elaborate, TimerPeriods) {
  auto r = Elaborate("probe timer.ms(250), timer.hz(100), timer.s(2).randomize(1) { }");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  ASSERT_EQ(r->program->probes.size(), 3u);
  EXPECT_EQ(r->program->probes[0]->spec.period_ns, 250000000);
  EXPECT_EQ(r->program->probes[1]->spec.period_ns, 10000000);
  EXPECT_EQ(r->program->probes[2]->spec.randomize_ns, 1000000000);
}

TEST(Elaborate, OutputIsDeterministic) {
  std::string script = "global a\nprobe begin { a[1] = strlen(\"x\"); print(thread_indent(1)) }";
  auto print = [&] {
    auto r = Elaborate(script);
    std::ostringstream out;
    sema::PrintProgram(*r->program, true, out);
    return out.str();
  };
  EXPECT_EQ(print(), print());
}

// @probewrite in an alias body tells whether the handler of each use writes the variable.
TEST(Elaborate, ProbewriteSeesTheHandler) {
  auto r = Elaborate(
      "probe tick = timer.ms(1) { custom = @probewrite(rate) }\n"
      "probe tick { rate = 5; println(custom) }\n"
      "probe tick { println(custom) }\n");
  ASSERT_FALSE(r->diags.has_errors()) << r->Errors();
  ASSERT_EQ(r->program->probes.size(), 2u);
  std::vector<bool> written;
  for (const sema::Probe* p : r->program->probes)
    ast::WalkTree(p->body, [&](ast::Node* n) {
      if (auto* w = ast::As<ast::Probewrite>(n)) written.push_back(w->written);
    });
  EXPECT_EQ(written, (std::vector<bool>{true, false}));
}

// kernel.data("SYMBOL"): the symbol is checked at compile time against /proc/kallsyms only
// when that describes the kernel compiled for; for another (-r) the runtime looks it up.
TEST(Elaborate, WatchpointSymbolCheckedOnlyForTheRunningKernel) {
  if (KernelSymbolAddress("_stext") == 0) GTEST_SKIP() << "/proc/kallsyms shows no addresses";
  const std::string text = "probe kernel.data(\"btap_no_such_symbol\").write { }\n";
  auto running = Elaborate(text);
  EXPECT_NE(running->Errors().find("no kernel symbol \"btap_no_such_symbol\""), std::string::npos)
      << running->Errors();
  auto other = Elaborate(text, {}, {}, /*running_kernel=*/false);
  EXPECT_EQ(other->Errors(), "");
}

}  // namespace
}  // namespace btap
