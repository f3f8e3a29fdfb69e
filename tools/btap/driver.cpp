// btap driver: runs the passes in order, reports each as stap does with -v, and keeps
// or discards what they produce (-p4, -k, -o).
#include "tools/btap/driver.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>

#include "codegen/header_types.h"
#include "codegen/lower.h"
#include "common/arena.h"
#include "common/diagnostics.h"
#include "frontend/ast_printer.h"
#include "frontend/frontend.h"
#include "runtime/output_files.h"
#include "runtime/session.h"
#include "semantic/elaborate.h"
#include "semantic/library_dump.h"
#include "semantic/listing.h"
#include "semantic/program.h"
#include "tools/btap/cache.h"

#ifndef BTAP_VERSION
#define BTAP_VERSION "0.1.0"
#endif

namespace btap::driver {
namespace fs = std::filesystem;

// docs/man/btap.1, built in for `btap --man`.
constexpr char kManPage[] =
#include "man_page.inc"
    ;

namespace {

struct PassTimer {
  struct rusage start_self, start_children;
  struct timespec start_time;
  PassTimer() {
    getrusage(RUSAGE_SELF, &start_self);
    getrusage(RUSAGE_CHILDREN, &start_children);
    clock_gettime(CLOCK_MONOTONIC, &start_time);
  }
  // stap's "in Xusr/Ysys/Zreal ms." (children included, for -c at pass 5).
  std::string Times() const {
    struct rusage self, children;
    struct timespec t;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    clock_gettime(CLOCK_MONOTONIC, &t);
    auto ms = [](const timeval& a, const timeval& b) {
      return (b.tv_sec - a.tv_sec) * 1000 + (b.tv_usec - a.tv_usec) / 1000;
    };
    long real = (t.tv_sec - start_time.tv_sec) * 1000 + (t.tv_nsec - start_time.tv_nsec) / 1000000;
    std::ostringstream s;
    s << "in "
      << ms(start_self.ru_utime, self.ru_utime) + ms(start_children.ru_utime, children.ru_utime)
      << "usr/"
      << ms(start_self.ru_stime, self.ru_stime) + ms(start_children.ru_stime, children.ru_stime)
      << "sys/" << real << "real ms.";
    return s.str();
  }
  // stap's "using Nvirt/Nres/Nshr/Ndata kb, in Xusr/Ysys/Zreal ms."
  std::string Report() const {
    long virt = 0, res = 0, shr = 0, data = 0;
    std::ifstream statm("/proc/self/statm");
    long text = 0, lib = 0;
    statm >> virt >> res >> shr >> text >> lib >> data;
    long page_kb = sysconf(_SC_PAGESIZE) / 1024;
    std::ostringstream s;
    s << "using " << virt * page_kb << "virt/" << res * page_kb << "res/" << shr * page_kb << "shr/"
      << data * page_kb << "data kb, " << Times();
    return s.str();
  }
};

// -k: the temporary directory is named when btap is done with it, however it ends.
struct KeptDirectory {
  std::string path;
  std::ostream* err = nullptr;
  ~KeptDirectory() {
    if (!path.empty()) *err << "Keeping temporary directory \"" << path << "\"\n";
  }
};

bool WriteFile(const std::string& path, std::string_view bytes, std::ostream& err) {
  std::ofstream file(path, std::ios::binary);
  file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!file.flush()) {
    err << "btap: error: cannot write `" << path << "`: " << strerror(errno) << '\n';
    return false;
  }
  return true;
}

// The script's text, read before pass 1 because the cache key needs it.
bool ReadScript(const Options& options, std::istream& in, std::string* text, std::string* error) {
  if (options.script_text) {
    *text = *options.script_text;
    return true;
  }
  std::ostringstream buf;
  if (options.script_file == "-") {
    buf << in.rdbuf();
    *text = buf.str();
    return true;
  }
  int fd = open(options.script_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *error = strerror(errno);
    return false;
  }
  char chunk[65536];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n == 0) break;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = strerror(errno);
      close(fd);
      return false;
    }
    text->append(chunk, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

// -vv: the tapset folders searched, in stap's words, one line per folder.
void ReportSearched(sema::TapsetLibrary& library, std::ostream& err) {
  std::vector<std::pair<std::string, size_t>> folders;
  for (const sema::TapsetFile& f : library.files()) {
    std::string dir = fs::path(f.path).parent_path().string();
    if (folders.empty() || folders.back().first != dir) folders.push_back({dir, 0});
    ++folders.back().second;
  }
  for (const auto& [dir, n] : folders)
    err << "Searched: \"" << dir << "\", found: " << n << ", processed: " << n << '\n';
}

}  // namespace

namespace {

// Reads a -D NAME=VALUE limit.
bool Limit(const std::string& define, const char* name, uint32_t* value, std::string* error) {
  std::string prefix = std::string(name) + "=";
  if (define.rfind(prefix, 0) != 0) return true;
  std::string text = define.substr(prefix.size());
  char* end = nullptr;
  errno = 0;
  unsigned long v = std::strtoul(text.c_str(), &end, 0);
  if (text.empty() || *end || errno || v > 0xffffffffUL) {
    *error = "-D " + define + ": expected a number";
    return false;
  }
  *value = static_cast<uint32_t>(v);
  return true;
}

// A digest of everything that decides the object: every source text (script and
// library) and the options that reach code generation.
std::string Digest(const SourceManager& sm, const codegen::CompileOptions& c) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&](std::string_view s) {
    for (unsigned char ch : s) h = (h ^ ch) * 1099511628211ull;
    h = (h ^ 0xff) * 1099511628211ull;
  };
  for (size_t i = 0; i < sm.size(); ++i) {
    mix(sm.file(static_cast<FileId>(i)).name());
    mix(sm.file(static_cast<FileId>(i)).text());
  }
  for (const auto& [name, value] : c.global_values) mix(name + "=" + value);
  for (const std::string& d : c.c_defines) mix("-D" + d);
  mix("--compatible=" + c.compatible);
  mix(std::to_string(c.max_string_len) + "/" + std::to_string(c.max_map_entries) + "/" +
      std::to_string(c.max_errors) + "/" + std::to_string(c.max_action) + "/" +
      std::to_string(c.max_nesting) + "/" + std::to_string(c.ring_buffer_bytes));
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace

bool CompileOptionsFrom(const Options& options, const SourceManager& sm, codegen::CompileOptions* c,
                        std::string* error) {
  for (const std::string& d : options.defines) {
    if (!Limit(d, "MAXSTRINGLEN", &c->max_string_len, error) ||
        !Limit(d, "MAXMAPENTRIES", &c->max_map_entries, error) ||
        !Limit(d, "MAXERRORS", &c->max_errors, error) ||
        !Limit(d, "MAXACTION", &c->max_action, error) ||
        !Limit(d, "MAXNESTING", &c->max_nesting, error) ||
        !Limit(d, "BTAP_RINGBUF_BYTES", &c->ring_buffer_bytes, error))
      return false;
    if (d == "BTAP_NO_STACK_CHECK" || d.starts_with("BTAP_NO_STACK_CHECK="))
      c->check_stack_chains = false;
  }
  for (const std::string& g : options.globals) {
    size_t eq = g.find('=');
    if (eq == std::string::npos || eq == 0) {
      *error = "-G " + g + ": expected NAME=VALUE";
      return false;
    }
    c->global_values.push_back({g.substr(0, eq), g.substr(eq + 1)});
  }
  if (c->max_string_len < 16 || c->max_string_len > 4096) {
    *error = "MAXSTRINGLEN must be between 16 and 4096";
    return false;
  }
  if (c->max_nesting < 1 || c->max_nesting > 1000) {
    *error = "MAXNESTING must be between 1 and 1000";
    return false;
  }
  if (c->max_map_entries == 0) {
    *error = "MAXMAPENTRIES must be at least 1";
    return false;
  }
  uint32_t ring = c->ring_buffer_bytes;
  if (ring && (ring < 4096 || (ring & (ring - 1)))) {
    *error = "BTAP_RINGBUF_BYTES must be a power of two of at least 4096";
    return false;
  }
  c->guru = options.guru;
  c->c_defines = options.defines;
  c->compatible = options.compatible;
  c->script_hash = Digest(sm, *c);
  c->script_name =
      !options.module_name.empty() ? options.module_name : "btap_" + c->script_hash.substr(0, 12);
  return true;
}

int RunObject(std::vector<uint8_t> object, const Options& options, std::ostream& out,
              std::ostream& err) {
  runtime::Session session;
  std::string error;
  if (!session.Open(std::move(object), &error)) {
    err << "btap: error: " << error << '\n';
    return 1;
  }
  runtime::RunOptions run;
  run.timeout_seconds = options.timeout.value_or(0);
  run.command = options.command;
  run.target_pid = options.target_pid.value_or(0);
  run.verbose = options.verbose > 1;
  if (options.output_file.empty()) {
    if (&out == &std::cout) run.output_fd = STDOUT_FILENO;
    return session.Execute(run, out, err);
  }
  // As staprun: the name is expanded, and the file truncated, when the run starts.
  runtime::OutputFiles files;
  if (!files.Open(options.output_file, options.file_limit, &error)) {
    err << "btap: error: " << error << '\n';
    return 1;
  }
  run.files = &files;
  int status = session.Execute(run, files.stream(), err);
  // (A failure the session met it reported, naming the file it could not make.)
  if (!session.output_failed() && !files.stream().flush()) {
    err << "btap: error: cannot write output file `" << files.name() << "`: " << strerror(errno)
        << '\n';
    return 1;
  }
  return status;
}

int Run(const std::vector<std::string>& argv, std::istream& in, std::ostream& out,
        std::ostream& err) {
  Options options;
  std::string error;
  if (!ParseOptions(argv, &options, &error)) {
    err << "btap: error: " << error << '\n';
    return 1;
  }
  if (options.help) {
    out << UsageText();
    return 0;
  }
  if (options.man) {
    out << kManPage;
    return 0;
  }
  if (options.version) {
    out << "btap " << BTAP_VERSION << " (SystemTap language " << options.compatible
        << ", runtime bpf)\n";
    return 0;
  }
  if (!options.no_warnings)
    for (const std::string& w : options.warnings) err << "btap: warning: " << w << '\n';
  if (options.clean_cache) {  // as stap: clean, then exit
    ObjectCache cache(DefaultCacheDir(), options.verbose, err);
    if (cache.Usable()) cache.Clean();
    return 0;
  }
  // -r: the kernel to compile for. Another kernel than the running one cannot run here.
  sema::TargetKernel target;
  if (!sema::FindTargetKernel(options.kernel_release, &target, &error)) {
    err << "btap: error: " << error << '\n';
    return 1;
  }
  if (!target.running && options.pass == 5 && !options.list_pattern &&
      options.dump_library.empty()) {
    if (!options.no_warnings)
      err << "WARNING: kernel release/architecture mismatch with host forces last-pass 4.\n";
    options.pass = 4;
  }
  // Said first, before any pass could fail for want of privileges in its own words.
  if (!options.list_pattern && options.dump_library.empty() && options.pass == 5 && !MayLoadBpf()) {
    err << "btap: error: running a script needs root privileges (loading BPF programs); run "
           "btap as root, or compile with `-p4` and run the object as root with `btaprun`\n";
    return 1;
  }
  bool kernel_hidden = !MayLoadBpf() && !TracefsReadable();
  if (options.list_pattern && kernel_hidden && ListingNeedsKernel(*options.list_pattern)) {
    err << "btap: error: listing kernel probe points needs root privileges (tracefs is "
           "readable by root only); run btap as root\n";
    return 1;
  }
  KeptDirectory kept{{}, &err};
  if (options.keep) {
    std::string why;
    kept.path = MakeTempDir(&why);
    if (kept.path.empty()) {
      err << "btap: error: " << why << '\n';
      return 1;
    }
    if (options.verbose > 1) err << "Created temporary directory \"" << kept.path << "\"\n";
  }
  SourceManager sm;
  Arena arena;
  DiagnosticSink diags;
  diags.set_suppress_warnings(options.no_warnings);
  diags.set_warnings_as_errors(options.warnings_as_errors);
  diags.set_keep_duplicates(options.verbose > 0);
  frontend::PPConfig config = MachineConfig(options, target);
  config.kernel_terms = std::make_shared<std::vector<KernelTerm>>();
  if (options.verbose > 1)
    err << "Session arch: " << config.arch << " release: " << config.kernel_vr << '\n';
  std::string script_text;  // listing (-l, -L) and the library dumps have none
  if (std::string why; !options.list_pattern && options.dump_library.empty() &&
                       !ReadScript(options, in, &script_text, &why)) {
    err << "btap: error: cannot read script `" << options.script_file << "`: " << why << '\n';
    return 1;
  }

  // Pass 4 and 5: the cache may hold the object already (-k wants pass 3's IR as well).
  ObjectCache cache(options.pass >= 4 && !options.disable_cache && !options.list_pattern &&
                            options.dump_library.empty()
                        ? DefaultCacheDir()
                        : "",
                    options.verbose, err);
  std::string cache_key;
  if (cache.Usable()) {
    cache_key = CacheKey(options, script_text, config, target);
    std::vector<uint8_t> object;
    meta::Meta meta;
    std::string warnings;
    if (!options.poison_cache && !options.keep &&
        cache.Lookup(cache_key, &object, &meta, &warnings)) {
      std::string entry = cache.EntryPath(cache_key);
      err << warnings;
      if (options.verbose)
        err << "Pass 3: using cached " << entry << "\nPass 4: using cached " << entry << '\n';
      return FinishObject(std::move(object), meta.script_name, options, out, err);
    }
  }

  PassTimer timer;

  // Pass 1 parses the tapset library as well as the script, as stap does.
  sema::TapsetLibrary library(sm, arena);
  sema::LibraryOptions library_options;
  library_options.pp = config;
  library_options.include_dirs = options.include_dirs;
  library.Load(library_options, diags);
  if (options.verbose > 1) ReportSearched(library, err);
  sema::Machine machine("", target.btf_path, target.running, target.modules_dir);
  machine.set_target_kernel(target);
  // The files `@cast` header types came from: a cache entry is stale once one changes.
  std::vector<std::string> header_files;
  machine.header_types().set_compiler([&](const std::vector<std::string>& h, std::string* e) {
    return codegen::CompileHeaderTypes(h, e, &header_files);
  });
  // -v says where the kernel's DWARF came from, or why a vmlinux was passed over.
  auto dwarf_notes = [&] {
    if (!options.verbose) return;
    if (const sema::KernelDwarf* d = machine.kernel_dwarf_if_made())
      for (const std::string& n : d->notes()) err << n << '\n';
    for (const auto& [name, d] : machine.module_dwarfs())
      for (const std::string& n : d->notes()) err << n << '\n';
  };
  sema::ElaborateOptions elaborate_options;
  elaborate_options.keep_unused = options.unoptimized;
  elaborate_options.report_elisions = options.verbose > 0;
  elaborate_options.has_target = !options.command.empty() || options.target_pid.has_value();
  elaborate_options.target_program =
      TargetProgram(options, &elaborate_options.target_program_error);

  if (!options.dump_library.empty()) {
    bool all = options.verbose > 0;  // as stap: `_` names with -v
    std::vector<std::string> lines = options.dump_library == "functions"
                                         ? sema::DumpFunctions(library, all)
                                     : options.dump_library == "probe-aliases"
                                         ? sema::DumpProbeAliases(library, machine, diags, all)
                                         : sema::DumpProbeTypes();
    RenderDiagnostics(sm, diags, err);
    for (const std::string& line : lines) out << line << '\n';
    return diags.has_errors() ? 1 : 0;
  }

  if (options.list_pattern) {
    std::vector<std::string> lines =
        sema::ListProbePoints(*options.list_pattern, options.list_variables, config,
                              {sm, arena, diags, library, machine, elaborate_options});
    dwarf_notes();
    RenderDiagnostics(sm, diags, err);
    for (const std::string& line : lines) out << line << '\n';
    return lines.empty() || diags.has_errors() ? 1 : 0;
  }

  FileId script = sm.AddFile(
      options.script_text || options.script_file == "-" ? "<input>" : options.script_file,
      std::move(script_text));

  frontend::ParseOptions parse_options;
  parse_options.pp = config;
  parse_options.privileged = options.guru;
  ast::File* file = frontend::ParseFile(sm, script, &library.macros(), parse_options, arena, diags);

  // Each pass's warnings are said when it ends, as stap's are; a failure says the rest.
  RenderedMark rendered;
  auto failed = [&](int pass, std::string_view what) {
    if (pass == 2 && kernel_hidden)
      err << "btap: note: btap is not running as root, so tracepoints and system calls, "
             "which tracefs describes to root only, cannot be resolved\n";
    RenderDiagnosticsSince(sm, diags, &rendered, err);
    size_t n = diags.error_count();
    err << n << (n == 1 ? " error" : " errors") << " generated.\n";
    if (options.verbose) err << "Pass " << pass << ": " << what << " failed.\n";
    return 1;
  };
  if (diags.has_errors()) return failed(1, "parse");
  if (options.verbose)
    err << "Pass 1: parsed user script and " << library.files().size() + library.macro_file_count()
        << " library scripts " << timer.Report() << '\n';
  if (options.pass == 1) {
    RenderDiagnostics(sm, diags, err);
    frontend::PrintFile(*file, out);
    return 0;
  }

  PassTimer timer2;
  std::unique_ptr<sema::Program> program =
      sema::Elaborate(file, {sm, arena, diags, library, machine, elaborate_options});
  dwarf_notes();
  if (diags.has_errors()) return failed(2, "analysis");
  // Kept for the cache, which says them again on a hit, as stap's passes would.
  std::ostringstream warnings;
  RenderDiagnosticsSince(sm, diags, &rendered, warnings);
  err << warnings.str();
  if (options.verbose)
    err << "Pass 2: analyzed script: " << program->probes.size() << " probes, "
        << program->functions.size() << " functions, 0 embeds, " << program->globals.size()
        << " globals " << timer2.Report() << '\n';
  if (options.pass == 2) {
    sema::PrintProgram(*program, options.verbose > 0, out);
    return 0;
  }

  PassTimer timer3;
  codegen::CompileOptions compile;
  std::string why;
  if (!CompileOptionsFrom(options, sm, &compile, &why)) {
    err << "btap: error: " << why << '\n';
    return 1;
  }
  compile.kernel_terms = *config.kernel_terms;
  compile.kernel_release = config.kernel_vr;
  compile.want_ir = (options.pass == 3 && !options.dump_asm) || options.keep;
  compile.want_assembly = options.pass == 3 && options.dump_asm;
  codegen::Compiled compiled;
  // (Under -W a warning is an error: the compile then fails here, and nothing is cached.)
  if (!codegen::Compile(*program, sm, compile, diags, &compiled) || diags.has_errors())
    return failed(3, "translation");
  // Code generation's warnings (embedded C's, for one) on a compile that succeeded.
  std::ostringstream codegen_warnings;
  RenderDiagnosticsSince(sm, diags, &rendered, codegen_warnings);
  err << codegen_warnings.str();
  warnings << codegen_warnings.str();
  if (options.verbose)
    err << "Pass 3: translated to BPF (" << compiled.meta.probes.size() << " programs, "
        << compiled.meta.formats.size() << " formats) " << timer3.Report() << '\n';
  std::string object_name = compile.script_name + ".bo";
  if (options.keep && !WriteFile(kept.path + "/" + compile.script_name + ".ll", compiled.ir, err))
    return 1;
  if (options.pass == 3) {
    out << (options.dump_asm ? compiled.assembly : compiled.ir);
    return 0;
  }

  // Pass 4: the object is kept only with -p4 (in the current directory, or -o FILE,
  // btap's extension) or -k (in the temporary directory); pass 5 runs it from memory.
  PassTimer timer4;
  std::string_view bytes(reinterpret_cast<const char*>(compiled.object.data()),
                         compiled.object.size());
  if (options.keep && !WriteFile(kept.path + "/" + object_name, bytes, err)) return 1;
  if (options.verbose)
    err << "Pass 4: compiled BPF into \"" << object_name << "\" " << timer4.Times() << '\n';
  if (options.verbose > 1)
    err << "Object \"" << object_name << "\": " << compiled.object.size() << " bytes, "
        << compiled.meta.probes.size() << " programs\n";
  if (!cache_key.empty()) cache.Store(cache_key, compiled.object, warnings.str(), header_files);
  return FinishObject(std::move(compiled.object), compile.script_name, options, out, err);
}

// After pass 4, compiled or from the cache: -p4 writes the object, pass 5 runs it.
int FinishObject(std::vector<uint8_t> object, const std::string& script_name,
                 const Options& options, std::ostream& out, std::ostream& err) {
  if (options.pass == 4) {
    std::string path = !options.output_file.empty() ? options.output_file : script_name + ".bo";
    std::string_view bytes(reinterpret_cast<const char*>(object.data()), object.size());
    if (!WriteFile(path, bytes, err)) return 1;
    out << path << '\n';
    return 0;
  }
  PassTimer timer5;
  if (options.verbose) err << "Pass 5: starting run.\n";
  int status = RunObject(std::move(object), options, out, err);
  if (options.verbose) {
    if (status == 0)
      err << "Pass 5: run completed " << timer5.Times() << '\n';
    else
      err << "Pass 5: run failed.\n";
  }
  return status;
}

}  // namespace btap::driver
