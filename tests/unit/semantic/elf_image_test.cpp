// ElfImage on real files: this test binary, small C programs built here with `cc` (SDT
// notes, debuglinks, runpaths, PLT layouts), bash; SDT argument parsing; and broken or
// truncated inputs.
#include "semantic/machine/elf_image.h"

#include <elf.h>
#include <gtest/gtest.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <set>
#include <sstream>

// A function of the test itself, to be found by name and by address.
extern "C" __attribute__((noinline, used)) int ElfImageTestMarker(int x) { return x * 3 + 1; }

namespace btap::sema {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/btap-elf-image-XXXXXX";
    path_ = mkdtemp(tmpl) ? fs::canonical(tmpl).string() : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
  const std::string& path() const { return path_; }
  void Write(const std::string& rel, const std::string& text) const {
    fs::path p = fs::path(path_) / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
  }

 private:
  std::string path_;
};

// Restores an environment variable when the test is done with it.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_, old_->c_str(), 1);
    else
      unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

std::string Output(const std::string& command) {
  std::string out;
  if (FILE* p = popen(command.c_str(), "r")) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
    pclose(p);
  }
  return out;
}

bool Succeeds(const std::string& command) {
  return system((command + " >/dev/null 2>&1").c_str()) == 0;
}

bool HaveCompiler() { return Succeeds("cc --version"); }

// Builds `source` into dir/name; "" on success, else the compiler's output.
std::string Build(const TempDir& dir, const std::string& name, const std::string& source,
                  const std::string& flags = "") {
  dir.Write(name + ".c", source);
  std::string out = Output("cc -o " + (dir / name) + " " + (dir / name) + ".c " + flags + " 2>&1");
  return fs::exists(dir / name) ? "" : "cc failed: " + out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const ElfSymbol* FindFunction(const ElfImage& image, const std::string& name) {
  for (const ElfSymbol& f : image.functions())
    if (f.name == name) return &f;
  return nullptr;
}

uintptr_t MainProgramBias() {
  uintptr_t bias = 0;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        *static_cast<uintptr_t*>(data) = info->dlpi_addr;
        return 1;  // the first object is the program itself
      },
      &bias);
  return bias;
}

#define REQUIRE_CC() \
  if (!HaveCompiler()) GTEST_SKIP() << "no C compiler `cc` to build test programs"

TEST(ElfImage, FindsThisTestsOwnFunctionAndItsFileBytes) {
  std::string error;
  std::unique_ptr<ElfImage> image = ElfImage::Open("/proc/self/exe", &error);
  ASSERT_NE(image, nullptr) << error;
  EXPECT_EQ(image->path(), fs::canonical("/proc/self/exe").string());
#ifdef __x86_64__
  EXPECT_EQ(image->machine(), EM_X86_64);
  EXPECT_TRUE(image->is_64());
#endif
  const ElfSymbol* marker = FindFunction(*image, "ElfImageTestMarker");
  ASSERT_NE(marker, nullptr);
  auto runtime = reinterpret_cast<uintptr_t>(&ElfImageTestMarker);
  EXPECT_EQ(marker->addr, runtime - MainProgramBias());
  ASSERT_GT(marker->size, 1u);
  EXPECT_EQ(image->FunctionAt(marker->addr), marker);
  EXPECT_EQ(image->FunctionAt(marker->addr + marker->size - 1), marker);
  const ElfSymbol* after = image->FunctionAt(marker->addr + marker->size);
  EXPECT_TRUE(after == nullptr || after->name != marker->name);
  EXPECT_EQ(image->FunctionAt(0), nullptr);
  EXPECT_EQ(image->SymbolAddress("ElfImageTestMarker"), marker->addr);

  // The file offset holds the very bytes that run.
  std::optional<uint64_t> offset = image->FileOffset(marker->addr);
  ASSERT_TRUE(offset.has_value());
  std::string file = ReadFile(image->path());
  ASSERT_LE(*offset + marker->size, file.size());
  EXPECT_EQ(memcmp(file.data() + *offset, reinterpret_cast<const void*>(&ElfImageTestMarker),
                   marker->size),
            0);

  EXPECT_TRUE(std::is_sorted(image->functions().begin(), image->functions().end(),
                             [](const ElfSymbol& a, const ElfSymbol& b) {
                               return a.addr != b.addr ? a.addr < b.addr : a.name < b.name;
                             }));
  EXPECT_NE(std::find(image->needed().begin(), image->needed().end(), "libc.so.6"),
            image->needed().end());
  EXPECT_EQ(image->interpreter().rfind('/', 0), 0u) << image->interpreter();
  EXPECT_FALSE(image->FileOffset(~uint64_t{0}).has_value());
}

TEST(ElfImage, OpensBashInAFewMilliseconds) {
  std::string bash = FindProgram("bash");
  if (bash.empty()) GTEST_SKIP() << "no bash in $PATH";
  auto start = std::chrono::steady_clock::now();
  std::string error;
  std::unique_ptr<ElfImage> image = ElfImage::Open(bash, &error);
  auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start);
  ASSERT_NE(image, nullptr) << error;
  EXPECT_LT(ms.count(), 100) << "opening " << bash << " took " << ms.count() << " ms";
  EXPECT_GT(image->functions().size(), 100u);
  EXPECT_TRUE(std::any_of(image->functions().begin(), image->functions().end(),
                          [](const ElfSymbol& f) { return f.exported; }));
}

TEST(ElfImage, ExplainsFilesItCannotRead) {
  std::string error;
  EXPECT_EQ(ElfImage::Open("/nonexistent/btap-elf", &error), nullptr);
  EXPECT_EQ(error, "cannot open `/nonexistent/btap-elf`: No such file or directory");

  TempDir dir;
  dir.Write("notes.txt", "just some text\n");
  EXPECT_EQ(ElfImage::Open(dir / "notes.txt", &error), nullptr);
  EXPECT_EQ(error, "`" + (dir / "notes.txt") + "` is not an ELF file");
  dir.Write("empty", "");
  EXPECT_EQ(ElfImage::Open(dir / "empty", &error), nullptr);
  EXPECT_EQ(error, "`" + (dir / "empty") + "` is not an ELF file");
  EXPECT_EQ(ElfImage::Open(dir.path(), &error), nullptr);
  EXPECT_EQ(error, "cannot open `" + dir.path() + "`: Is a directory");
  EXPECT_EQ(ElfImage::Open(dir / "missing", nullptr), nullptr);  // error is optional
}

constexpr const char* kSmallProgram = "int main(void) { return 0; }\n";

// Whatever survives of a damaged file must be safe to use.
void Exercise(const ElfImage& image) {
  for (const ElfSymbol& f : image.functions()) {
    image.FunctionAt(f.addr);
    image.FileOffset(f.addr);
  }
  std::vector<SdtArg> args;
  std::string error;
  for (const SdtNote& n : image.sdt_notes()) ParseSdtArgs(n.args, &args, &error);
  FindDebugFile(image, nullptr, "/nonexistent");
}

TEST(ElfImage, SurvivesTruncatedAndCorruptedFiles) {
  TempDir dir;
  // A small program keeps the rewrites quick; this test binary when there is no compiler.
  std::string source = "/proc/self/exe";
  if (HaveCompiler() && Build(dir, "small", kSmallProgram, "-g -Wl,--build-id").empty())
    source = dir / "small";
  std::string original = ReadFile(source);
  ASSERT_GT(original.size(), 8192u);
  std::string path = dir / "broken";
  size_t n = original.size();
  for (size_t len : {size_t{4}, size_t{16}, size_t{52}, size_t{63}, size_t{64}, size_t{65},
                     size_t{300}, size_t{4096}, n / 3, n / 2, n - 4096, n - 1}) {
    dir.Write("broken", original.substr(0, len));
    std::string error;
    std::unique_ptr<ElfImage> image = ElfImage::Open(path, &error);
    if (image)
      Exercise(*image);
    else
      EXPECT_FALSE(error.empty()) << len;
  }
  // Random bytes in the headers and in the section header table, deterministically.
  std::mt19937 rng(42);
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(original.data());
  size_t shoff = std::min<size_t>(eh->e_shoff, n - 1);
  for (int round = 0; round < 300; ++round) {
    std::string bytes = original;
    for (int k = 0; k < 6; ++k) {
      size_t at = rng() % 3 == 0 ? rng() % 128 : shoff + rng() % (n - shoff);
      bytes[at] = static_cast<char>(rng());
    }
    dir.Write("broken", bytes);
    std::unique_ptr<ElfImage> image = ElfImage::Open(path, nullptr);
    if (image) Exercise(*image);
  }
}

constexpr const char* kSdtProgram = R"(#include <sys/sdt.h>
int main(int argc, char** argv) {
  long b = argc * 7L;
  DTRACE_PROBE2(myprov, myprobe, argc, b);
  STAP_PROBE(myprov, noargs);
  return 0;
}
)";

bool HaveSdtHeader() {
  TempDir dir;
  dir.Write("t.c", "#include <sys/sdt.h>\n");
  return Succeeds("cc -fsyntax-only " + (dir / "t.c"));
}

#define REQUIRE_SDT()   \
  REQUIRE_CC();         \
  if (!HaveSdtHeader()) \
  GTEST_SKIP() << "sys/sdt.h is missing (/usr/include/sys/sdt.h; install systemtap-sdt-dev)"

const SdtNote* FindNote(const ElfImage& image, const std::string& name) {
  for (const SdtNote& n : image.sdt_notes())
    if (n.name == name) return &n;
  return nullptr;
}

TEST(ElfImage, ReadsSdtNotesAtTheirProbeSites) {
  REQUIRE_SDT();
  TempDir dir;
  ASSERT_EQ(Build(dir, "sdt", kSdtProgram, "-O2"), "");
  std::string error;
  std::unique_ptr<ElfImage> image = ElfImage::Open(dir / "sdt", &error);
  ASSERT_NE(image, nullptr) << error;
  ASSERT_EQ(image->sdt_notes().size(), 2u);
  const SdtNote* probe = FindNote(*image, "myprobe");
  ASSERT_NE(probe, nullptr);
  EXPECT_EQ(probe->provider, "myprov");
  EXPECT_EQ(probe->semaphore, 0u);
  const ElfSymbol* main_fn = image->FunctionAt(probe->pc);
  ASSERT_NE(main_fn, nullptr);
  EXPECT_EQ(main_fn->name, "main");
#ifdef __x86_64__
  std::optional<uint64_t> offset = image->FileOffset(probe->pc);
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(static_cast<unsigned char>(ReadFile(image->path()).at(*offset)), 0x90)
      << "the probe site is a nop";
  std::vector<SdtArg> args;
  ASSERT_TRUE(ParseSdtArgs(probe->args, &args, &error)) << error;
  ASSERT_EQ(args.size(), 2u) << probe->args;
  EXPECT_EQ(args[0].size, 4);  // int argc
  EXPECT_TRUE(args[0].is_signed);
  EXPECT_EQ(args[1].size, 8);  // long b
  EXPECT_TRUE(args[1].is_signed);
#endif
  const SdtNote* noargs = FindNote(*image, "noargs");
  ASSERT_NE(noargs, nullptr);
  EXPECT_EQ(noargs->args, "");
  std::vector<SdtArg> none = {SdtArg{}};
  EXPECT_TRUE(ParseSdtArgs(noargs->args, &none, &error));
  EXPECT_TRUE(none.empty());

  // Moving .stapsdt.base, as prelink does, moves the probe addresses with it.
  ASSERT_TRUE(Succeeds("objcopy --change-section-address .stapsdt.base+0x1000 " + (dir / "sdt") +
                       " " + (dir / "moved")));
  std::unique_ptr<ElfImage> moved = ElfImage::Open(dir / "moved", &error);
  ASSERT_NE(moved, nullptr) << error;
  ASSERT_NE(FindNote(*moved, "myprobe"), nullptr);
  EXPECT_EQ(FindNote(*moved, "myprobe")->pc, probe->pc + 0x1000);
}

TEST(ElfImage, ReadsSdtSemaphores) {
  REQUIRE_SDT();
  TempDir dir;
  ASSERT_EQ(Build(dir, "sem", R"(#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>
__extension__ unsigned short myprov_guarded_semaphore __attribute__((section(".probes")));
int main(void) {
  if (myprov_guarded_semaphore) STAP_PROBE1(myprov, guarded, 5);
  return 0;
}
)"),
            "");
  std::string error;
  std::unique_ptr<ElfImage> image = ElfImage::Open(dir / "sem", &error);
  ASSERT_NE(image, nullptr) << error;
  const SdtNote* note = FindNote(*image, "guarded");
  ASSERT_NE(note, nullptr);
  std::optional<uint64_t> semaphore = image->SymbolAddress("myprov_guarded_semaphore");
  ASSERT_TRUE(semaphore.has_value());
  EXPECT_NE(note->semaphore, 0u);
  EXPECT_EQ(note->semaphore, *semaphore);
  std::vector<SdtArg> args;
  ASSERT_TRUE(ParseSdtArgs(note->args, &args, &error)) << error;
  ASSERT_EQ(args.size(), 1u);
  EXPECT_EQ(args[0].kind, SdtArg::Kind::Constant);
  EXPECT_EQ(args[0].value, 5);
}

// The PLT stubs objdump names `NAME@plt`, by address.
std::map<uint64_t, std::string> ObjdumpPlt(const std::string& path) {
  std::map<uint64_t, std::string> out;
  std::istringstream in(Output("objdump -d -j .plt -j .plt.sec -j .plt.got " + path));
  std::regex stub("^([0-9a-f]+) <([^@+>]+)@plt>:$");
  std::smatch m;
  for (std::string line; std::getline(in, line);)
    if (std::regex_match(line, m, stub)) out[std::stoull(m[1], nullptr, 16)] = m[2];
  return out;
}

TEST(ElfImage, NamesPltStubsOfEveryLayout) {
  REQUIRE_CC();
  if (!Succeeds("objdump --version")) GTEST_SKIP() << "no objdump to compare with";
  // malloc's address is taken, so it is bound by GLOB_DAT and called through .plt.got.
  std::string source =
      "#include <stdlib.h>\n#include <string.h>\n#include <unistd.h>\n"
      "void *(*volatile taken)(size_t) = malloc;\n"
      "int main(int argc, char **argv) {\n"
      "  void *p = malloc(argc);\n  free(p);\n"
      "  return (int)strlen(argv[0]) + getpid() * 0;\n}\n";
  TempDir dir;
  // Lazy .plt; IBT's .plt.sec with -z now; a non-PIE program with absolute slots.
  std::vector<std::string> layouts = {"", "-fcf-protection=full -Wl,-z,ibtplt -Wl,-z,now",
                                      "-no-pie -fno-pic -Wl,-z,now"};
  for (size_t i = 0; i < layouts.size(); ++i) {
    SCOPED_TRACE(layouts[i]);
    std::string name = "plt" + std::to_string(i);
    ASSERT_EQ(Build(dir, name, source, layouts[i]), "");
    std::string error;
    auto image = ElfImage::Open(dir / name, &error);
    ASSERT_TRUE(image) << error;
    std::map<uint64_t, std::string> read;
    for (const ElfSymbol& s : image->plt()) read[s.addr] = s.name;
    std::map<uint64_t, std::string> want = ObjdumpPlt(dir / name);
    EXPECT_EQ(read, want);
    std::set<std::string> names;
    for (const auto& [addr, n] : read) names.insert(n);
    for (const char* n : {"malloc", "free", "strlen", "getpid"}) EXPECT_TRUE(names.count(n)) << n;
    EXPECT_TRUE(
        std::is_sorted(image->plt().begin(), image->plt().end(),
                       [](const ElfSymbol& a, const ElfSymbol& b) { return a.addr < b.addr; }));
  }
  // A system program: /bin/ls calls malloc, free and strcmp through .plt.got on Debian.
  if (fs::exists("/bin/ls")) {
    std::string error;
    auto ls = ElfImage::Open("/bin/ls", &error);
    ASSERT_TRUE(ls) << error;
    std::map<uint64_t, std::string> read;
    for (const ElfSymbol& s : ls->plt()) read[s.addr] = s.name;
    EXPECT_EQ(read, ObjdumpPlt("/bin/ls"));
  }
}

TEST(FindDebugFile, FollowsBuildIdAndDebuglink) {
  REQUIRE_CC();
  TempDir dir;
  ASSERT_EQ(Build(dir, "prog", kSmallProgram, "-g -Wl,--build-id"), "");
  ASSERT_TRUE(Succeeds("cd " + dir.path() + " && objcopy --only-keep-debug prog prog.debug" +
                       " && objcopy --strip-debug --add-gnu-debuglink=prog.debug prog stripped"));
  std::string error;
  std::unique_ptr<ElfImage> full = ElfImage::Open(dir / "prog", &error);
  ASSERT_NE(full, nullptr) << error;
  EXPECT_TRUE(full->has_debug_info());
  EXPECT_EQ(FindDebugFile(*full), full->path());

  std::unique_ptr<ElfImage> image = ElfImage::Open(dir / "stripped", &error);
  ASSERT_NE(image, nullptr) << error;
  EXPECT_FALSE(image->has_debug_info());
  EXPECT_EQ(image->debuglink(), "prog.debug");
  std::string readelf = Output("readelf -n " + (dir / "stripped"));
  size_t at = readelf.find("Build ID: ");
  ASSERT_NE(at, std::string::npos) << readelf;
  std::string id = readelf.substr(at + 10, readelf.find('\n', at) - at - 10);
  EXPECT_EQ(image->build_id(), id);
  EXPECT_EQ(full->build_id(), id);

  // The debuglink, beside the file and then in .debug/.
  std::string root = dir / "debug-root";
  std::vector<std::string> tried;
  EXPECT_EQ(FindDebugFile(*image, &tried, root), dir / "prog.debug");
  EXPECT_EQ(tried, (std::vector<std::string>{
                       root + "/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug",
                       dir / "prog.debug"}));
  fs::create_directories(dir / ".debug");
  fs::rename(dir / "prog.debug", dir / ".debug/prog.debug");
  EXPECT_EQ(FindDebugFile(*image, nullptr, root), dir / ".debug/prog.debug");
  std::unique_ptr<ElfImage> debug = ElfImage::Open(dir / ".debug/prog.debug", &error);
  ASSERT_NE(debug, nullptr) << error;
  EXPECT_TRUE(debug->has_debug_info());

  // The build id wins over the debuglink.
  std::string by_id = root + "/.build-id/" + id.substr(0, 2) + "/" + id.substr(2) + ".debug";
  fs::create_directories(fs::path(by_id).parent_path());
  fs::copy_file(dir / ".debug/prog.debug", by_id);
  EXPECT_EQ(FindDebugFile(*image, nullptr, root), by_id);
  fs::remove(by_id);

  // A debug file whose CRC does not match is not the one.
  std::ofstream(dir / ".debug/prog.debug", std::ios::app) << "x";
  tried.clear();
  EXPECT_EQ(FindDebugFile(*image, &tried, root), "");
  EXPECT_EQ(tried.size(), 4u);
  EXPECT_EQ(tried.back(), root + dir.path() + "/prog.debug");
}

TEST(FindLibraries, WalksDtNeededThroughRunpathAndSystemDirs) {
  REQUIRE_CC();
  TempDir dir;
  fs::create_directories(dir / "lib");
  dir.Write("lib/elftest.c", "int elftest(void) { return 7; }\n");
  ASSERT_TRUE(Succeeds("cc -shared -fPIC -o " + (dir / "lib/libelftest.so") + " " +
                       (dir / "lib/elftest.c")));
  std::string main_c = "int elftest(void);\nint main(void) { return elftest(); }\n";
  ASSERT_EQ(
      Build(dir, "prog", main_c, "-L" + (dir / "lib") + " -lelftest -Wl,-rpath,'$ORIGIN/lib'"), "");
  ASSERT_EQ(Build(dir, "plain", main_c, "-L" + (dir / "lib") + " -lelftest"), "");
  std::string error;
  std::unique_ptr<ElfImage> prog = ElfImage::Open(dir / "prog", &error);
  ASSERT_NE(prog, nullptr) << error;
  ASSERT_EQ(prog->runpath().size() + prog->rpath().size(), 1u);

  std::vector<std::string> libc = FindLibraries(*prog, "libc.so*");
  ASSERT_EQ(libc.size(), 1u);
  EXPECT_EQ(fs::path(libc[0]).filename().string().rfind("libc.so", 0), 0u) << libc[0];
  EXPECT_EQ(libc[0], fs::canonical(libc[0]).string());

  std::string own = dir / "lib/libelftest.so";
  EXPECT_EQ(FindLibraries(*prog, "libelftest.so"), std::vector<std::string>{own});
  std::vector<std::string> all = FindLibraries(*prog, "*");
  ASSERT_GE(all.size(), 2u);
  EXPECT_EQ(all[0], own);  // breadth first, in DT_NEEDED order
  EXPECT_EQ(all[1], libc[0]);
  EXPECT_TRUE(FindLibraries(*prog, "libnothing*").empty());
  EXPECT_EQ(FindLibraries(*prog, own), std::vector<std::string>{own});
  EXPECT_EQ(FindLibraries(*prog, dir / "lib/*.so"), std::vector<std::string>{own});
  EXPECT_TRUE(FindLibraries(*prog, dir / "lib/missing.so").empty());

  // Without a runpath only LD_LIBRARY_PATH leads to it.
  std::unique_ptr<ElfImage> plain = ElfImage::Open(dir / "plain", &error);
  ASSERT_NE(plain, nullptr) << error;
  {
    ScopedEnv env("LD_LIBRARY_PATH", "");
    EXPECT_TRUE(FindLibraries(*plain, "libelftest.so").empty());
  }
  ScopedEnv env("LD_LIBRARY_PATH", dir / "lib");
  EXPECT_EQ(FindLibraries(*plain, "libelftest.so"), std::vector<std::string>{own});
}

TEST(FindProgram, SearchesPathLikeAShell) {
  std::string sh = FindProgram("sh");
  ASSERT_FALSE(sh.empty());
  EXPECT_EQ(sh[0], '/');
  EXPECT_EQ(fs::path(sh).filename(), "sh");
  EXPECT_EQ(access(sh.c_str(), X_OK), 0);
  EXPECT_EQ(FindProgram("definitely-not-a-program"), "");
  EXPECT_EQ(FindProgram(""), "");

  TempDir dir;
  dir.Write("a/tool", "#!/bin/sh\n");  // not executable: skipped
  dir.Write("b/tool", "#!/bin/sh\n");
  fs::permissions(dir / "b/tool", fs::perms::owner_all);
  dir.Write("c/tool", "#!/bin/sh\n");
  fs::permissions(dir / "c/tool", fs::perms::owner_all);
  {
    ScopedEnv path("PATH", (dir / "a") + ":" + (dir / "b") + ":" + (dir / "c"));
    EXPECT_EQ(FindProgram("tool"), dir / "b/tool");
  }
  EXPECT_EQ(FindProgram(dir / "a/../a/tool"), dir / "a/tool");  // a path is taken as is
  EXPECT_EQ(FindProgram(dir / "a/none"), "");
  std::string relative = fs::relative(dir / "b/tool").string();
  EXPECT_EQ(FindProgram(relative), dir / "b/tool");
}

std::vector<SdtArg> Parse(const std::string& text) {
  std::vector<SdtArg> args;
  std::string error;
  EXPECT_TRUE(ParseSdtArgs(text, &args, &error)) << text << ": " << error;
  return args;
}

std::string ParseError(const std::string& text) {
  std::vector<SdtArg> args;
  std::string error;
  EXPECT_FALSE(ParseSdtArgs(text, &args, &error)) << text;
  return error;
}

TEST(ParseSdtArgs, ReadsRegistersMemoryAndConstants) {
  using K = SdtArg::Kind;
  std::vector<SdtArg> a = Parse("-4@%edi 8@-8(%rbp) 4@$5 -8@%r12 1@%al 8@(%rax,%rbx,8) 4@16(%rsp)");
  ASSERT_EQ(a.size(), 7u);
  EXPECT_EQ(a[0].kind, K::Register);
  EXPECT_EQ(a[0].reg, 5);
  EXPECT_EQ(a[0].size, 4);
  EXPECT_TRUE(a[0].is_signed);
  EXPECT_EQ(a[0].reg_bytes, 4);
  EXPECT_EQ(a[1].kind, K::Memory);
  EXPECT_EQ(a[1].reg, 6);
  EXPECT_EQ(a[1].value, -8);
  EXPECT_EQ(a[1].size, 8);
  EXPECT_FALSE(a[1].is_signed);
  EXPECT_EQ(a[2].kind, K::Constant);
  EXPECT_EQ(a[2].value, 5);
  EXPECT_EQ(a[2].size, 4);
  EXPECT_EQ(a[3].kind, K::Register);
  EXPECT_EQ(a[3].reg, 12);
  EXPECT_EQ(a[3].reg_bytes, 8);
  EXPECT_TRUE(a[3].is_signed);
  EXPECT_EQ(a[4].reg, 0);
  EXPECT_EQ(a[4].size, 1);
  EXPECT_EQ(a[4].reg_bytes, 1);
  EXPECT_FALSE(a[4].high_byte);
  EXPECT_EQ(a[5].kind, K::Memory);
  EXPECT_EQ(a[5].reg, 0);
  EXPECT_EQ(a[5].index_reg, 3);
  EXPECT_EQ(a[5].scale, 8);
  EXPECT_EQ(a[5].value, 0);
  EXPECT_EQ(a[6].kind, K::Memory);
  EXPECT_EQ(a[6].reg, 7);
  EXPECT_EQ(a[6].value, 16);
  EXPECT_EQ(a[6].size, 4);
}

TEST(ParseSdtArgs, ReadsTheRarerForms) {
  std::vector<SdtArg> a = Parse(
      "2@%ah -4@%r8d 8@$0xffffffffffffffff 8@$-3 8f@%xmm1 8@counter.0(%rip) 4@buf+8(%rip) "
      "8@(,%rcx,4) 8@0x601040 %eax -2@%r15w 8@-0x10(%r13)");
  ASSERT_EQ(a.size(), 12u);
  EXPECT_EQ(a[0].reg, 0);
  EXPECT_TRUE(a[0].high_byte);
  EXPECT_EQ(a[0].reg_bytes, 1);
  EXPECT_EQ(a[1].reg, 8);
  EXPECT_EQ(a[1].reg_bytes, 4);
  EXPECT_EQ(a[2].value, -1);
  EXPECT_EQ(a[3].value, -3);
  EXPECT_TRUE(a[4].is_float);
  EXPECT_EQ(a[4].reg, 18);
  EXPECT_EQ(a[5].kind, SdtArg::Kind::Memory);
  EXPECT_EQ(a[5].symbol, "counter.0");
  EXPECT_EQ(a[5].reg, 16);
  EXPECT_EQ(a[5].value, 0);
  EXPECT_EQ(a[6].symbol, "buf");
  EXPECT_EQ(a[6].value, 8);
  EXPECT_EQ(a[7].reg, -1);
  EXPECT_EQ(a[7].index_reg, 2);
  EXPECT_EQ(a[7].scale, 4);
  EXPECT_EQ(a[8].kind, SdtArg::Kind::Memory);
  EXPECT_EQ(a[8].reg, -1);
  EXPECT_EQ(a[8].value, 0x601040);
  EXPECT_EQ(a[9].kind, SdtArg::Kind::Register);  // an old note without sizes
  EXPECT_EQ(a[9].size, 4);
  EXPECT_EQ(a[10].reg, 15);
  EXPECT_EQ(a[10].reg_bytes, 2);
  EXPECT_EQ(a[11].reg, 13);
  EXPECT_EQ(a[11].value, -16);
  EXPECT_TRUE(Parse("").empty());  // a probe without arguments
  EXPECT_TRUE(Parse("  ").empty());
}

TEST(ParseSdtArgs, NamesTheBadArgument) {
  EXPECT_EQ(ParseError("4@%bogus"), "bad SDT argument 1 `4@%bogus`: unknown register `%bogus`");
  EXPECT_EQ(ParseError("x@%eax"), "bad SDT argument 1 `x@%eax`: size `x` is not 1, 2, 4 or 8");
  EXPECT_EQ(ParseError("-4@%edi 8@%nope"),
            "bad SDT argument 2 `8@%nope`: unknown register `%nope`");
  EXPECT_EQ(ParseError("4@"), "bad SDT argument 1 `4@`: missing operand");
  EXPECT_EQ(ParseError("@%eax"), "bad SDT argument 1 `@%eax`: size `` is not 1, 2, 4 or 8");
  EXPECT_EQ(ParseError("3@%eax"), "bad SDT argument 1 `3@%eax`: size `3` is not 1, 2, 4 or 8");
  EXPECT_NE(ParseError("8@(%rax").find("unbalanced parenthesis"), std::string::npos);
  EXPECT_NE(ParseError("8@(%rax,%rbx,3)").find("scale `3`"), std::string::npos);
  EXPECT_NE(ParseError("8@%fs:0x28").find("segment"), std::string::npos);
  EXPECT_NE(ParseError("4@$foo").find("not a number"), std::string::npos);
  EXPECT_NE(ParseError("8@4(%eax)").find("cannot be used in an address"), std::string::npos);
  EXPECT_NE(ParseError("8@(%rax,%rsp)").find("cannot be used in an address"), std::string::npos);
  EXPECT_NE(ParseError("8@()").find("bad address"), std::string::npos);
  EXPECT_NE(ParseError("8@1+(%rax)").find("bad displacement"), std::string::npos);
  EXPECT_NE(ParseError("8@$99999999999999999999").find("not a number"), std::string::npos);
}

}  // namespace
}  // namespace btap::sema
