// The compiled-object cache (see cache.h): the key, and entries that are one file each —
// a header naming the key and the files the object depends on, then the object.
#include "tools/btap/cache.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <sstream>

#include "common/build_id.h"
#include "common/object_meta.h"
#include "llvm/Support/BLAKE3.h"
#include "runtime/object.h"
#include "semantic/tapsets.h"

namespace btap::driver {
namespace fs = std::filesystem;

namespace {

constexpr char kMagic[] = "btap-cache 1";
constexpr char kEntrySuffix[] = ".bo";
constexpr char kTempSuffix[] = ".tmp";
constexpr char kLimitFile[] = "cache_mb_limit";

std::string Hex(const uint8_t* bytes, size_t n) {
  static const char kHex[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) s += {kHex[bytes[i] >> 4], kHex[bytes[i] & 15]};
  return s;
}

bool ReadWhole(const std::string& path, std::string* out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  out->clear();
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      close(fd);
      return false;
    }
    out->append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return true;
}

// btap's own build: the executable's GNU build id, read from its loaded notes; else the
// file's size and modification time.
std::string SelfIdentity() {
  std::string id;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        auto* out = static_cast<std::string*>(data);
        for (int i = 0; i < info->dlpi_phnum && out->empty(); ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          *out = BuildIdInNotes(reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr),
                                ph.p_memsz);
        }
        return 1;  // the first object is the executable
      },
      &id);
  if (!id.empty()) return "build-id " + id;
  struct stat st;
  if (stat("/proc/self/exe", &st) != 0) return "unknown";
  return "exe " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string StatIdentity(const std::string& path) {
  struct stat st;
  if (path.empty() || stat(path.c_str(), &st) != 0) return path + " (none)";
  return path + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// The running kernel: its build id (/sys/kernel/notes), else its BTF's size and digest.
std::string RunningKernelIdentity() {
  struct utsname u;
  uname(&u);
  std::string id = std::string(u.release) + " " + u.version + " " + u.machine;
  if (std::string build = RunningKernelBuildId(); !build.empty()) return id + " build-id " + build;
  std::string btf;
  if (ReadWhole("/sys/kernel/btf/vmlinux", &btf)) {
    auto digest = llvm::BLAKE3::hash(
        llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t*>(btf.data()), btf.size()));
    return id + " btf " + std::to_string(btf.size()) + " " + Hex(digest.data(), 16);
  }
  return id;
}

// The roots of the tapset library as sema::TapsetLibrary finds them; the copy built
// into btap is covered by btap's own identity.
std::vector<std::string> TapsetRoots(const Options& options) {
  std::vector<std::string> roots;
  if (std::string library = sema::DefaultTapsetDir(); !library.empty()) roots.push_back(library);
  roots.insert(roots.end(), options.include_dirs.begin(), options.include_dirs.end());
  return roots;
}

class KeyHasher {
 public:
  // Length-prefixed, so that no two different field lists hash the same bytes.
  void Add(std::string_view tag, std::string_view value) {
    std::string head = std::string(tag) + '\0' + std::to_string(value.size()) + ':';
    hasher_.update(llvm::StringRef(head));
    hasher_.update(llvm::StringRef(value.data(), value.size()));
  }
  std::string Hex() {
    auto digest = hasher_.final();
    return driver::Hex(digest.data(), 16);
  }

 private:
  llvm::BLAKE3 hasher_;
};

}  // namespace

// Whether `text` has a probe point component `word(` (`process("a.out")`, `module ("m")`),
// not merely the word (a comment's "process ID").
static bool NamesPoint(std::string_view text, std::string_view word) {
  for (size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    bool starts =
        at == 0 || !(std::isalnum(static_cast<unsigned char>(text[at - 1])) || text[at - 1] == '_');
    size_t next = text.find_first_not_of(" \t", at + word.size());
    if (starts && next != std::string_view::npos && text[next] == '(') return true;
  }
  return false;
}

std::string DefaultCacheDir() {
  if (const char* env = std::getenv("BTAP_CACHE"); env && *env) return env;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return std::string(xdg) + "/btap/objects";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.cache/btap/objects";
  return "";
}

std::string CacheKey(const Options& o, const std::string& script_text, const frontend::PPConfig& pp,
                     const sema::TargetKernel& kernel) {
  KeyHasher h;
  h.Add("btap", SelfIdentity());
  h.Add("script", script_text);
  // Its name is in the object (its name, its line info) and in the warnings an entry replays.
  h.Add("script name", o.script_text ? "" : o.script_file);
  for (const std::string& a : o.args) h.Add("arg", a);
  for (const std::string& d : o.defines) h.Add("-D", d);
  for (const std::string& g : o.globals) h.Add("-G", g);
  h.Add("flags", std::string(o.guru ? "g" : "") + (o.unoptimized ? "u" : "") +
                     (o.no_warnings ? "w" : "") + (o.warnings_as_errors ? "W" : "") +
                     (o.skip_badvars ? "s" : ""));
  h.Add("-m", o.module_name);
  // -v adds warnings (elided code) and keeps duplicates: the warnings an entry replays.
  h.Add("-v", o.verbose > 0 ? "1" : "0");
  h.Add("arch", pp.arch);
  h.Add("release", pp.kernel_vr);
  h.Add("compatible", o.compatible);
  // -c and -x reach the passes only as "there is a target" (target() is usable)...
  h.Add("target", !o.command.empty() || o.target_pid ? "1" : "0");
  // The kernel: another one's files whenever -r named an image (even of the running
  // release), else the running kernel's identity.
  if (kernel.running && kernel.btf_path.empty()) {
    h.Add("kernel", RunningKernelIdentity());
    // Loaded modules add tracepoints and functions that wildcards match.
    std::string modules;
    ReadWhole("/proc/modules", &modules);
    std::vector<std::string> names;
    std::istringstream lines(modules);
    for (std::string line; std::getline(lines, line);)
      names.push_back(line.substr(0, line.find(' ')));
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) h.Add("module", name);
  } else {
    h.Add("kernel image", StatIdentity(kernel.image));
    h.Add("kernel btf", StatIdentity(kernel.btf_path));
    h.Add("kernel config", StatIdentity(kernel.config_path));
    h.Add("kernel modules", kernel.modules_dir);
  }
  // A module's functions and types come from its BTF: a rebuilt module changes it.
  bool modules = NamesPoint(script_text, "module");
  bool process = NamesPoint(script_text, "process");
  // Every tapset and macro file btap would search, by name and contents: a file added,
  // removed or edited in a -I folder changes the key.
  for (const std::string& root : TapsetRoots(o)) {
    h.Add("root", root);
    for (const std::string& dir : sema::SearchFolders(root, pp)) {
      std::error_code ec;
      std::vector<std::string> names;
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        std::string ext = e.path().extension().string();
        if ((ext == ".stp" || ext == ".stpm") && e.is_regular_file(ec))
          names.push_back(e.path().filename().string());
      }
      std::sort(names.begin(), names.end());
      for (const std::string& name : names) {
        std::string text;
        if (!ReadWhole(dir + "/" + name, &text)) text = "(unreadable)";
        // A tapset alias may name a process or module too.
        process |= NamesPoint(text, "process");
        modules |= NamesPoint(text, "module");
        h.Add(dir + "/" + name, text);
      }
    }
  }
  // -c and -x reach the passes only as "there is a target" (above), except that a process
  // probe without a path names the target's program (-c's command, -x's executable: the
  // file, not the pid), and a relative path is looked for on $PATH, in the current
  // directory and on $LD_LIBRARY_PATH.
  if (process) {
    std::string unused;
    h.Add("target program", TargetProgram(o, &unused));
    std::error_code ec;
    h.Add("cwd", fs::current_path(ec).string());
    for (const char* var : {"PATH", "LD_LIBRARY_PATH"}) {
      const char* value = std::getenv(var);
      h.Add(var, value ? value : "");
    }
  }
  if (modules) {
    std::error_code ec;
    if (kernel.modules_dir.empty()) {  // the loaded modules' BTF
      for (const auto& e : fs::directory_iterator("/sys/kernel/btf", ec))
        h.Add("module btf", e.path().filename().string() + " " + std::to_string(e.file_size(ec)));
    } else {  // another kernel's .ko files, by name, size and time
      std::vector<std::string> files;
      for (auto it = fs::recursive_directory_iterator(kernel.modules_dir, ec);
           it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (it->is_symlink(ec)) {
          if (it->is_directory(ec)) it.disable_recursion_pending();
          continue;
        }
        if (it->path().extension() == ".ko") files.push_back(StatIdentity(it->path().string()));
      }
      std::sort(files.begin(), files.end());
      for (const std::string& f : files) h.Add("module file", f);
    }
  }
  return h.Hex();
}

ObjectCache::ObjectCache(std::string dir, int verbose, std::ostream& err)
    : dir_(std::move(dir)), verbose_(verbose), err_(err) {}

std::string ObjectCache::EntryPath(const std::string& key) const {
  return dir_ + "/" + key + kEntrySuffix;
}

bool ObjectCache::Usable() {
  if (dir_.empty()) return false;
  auto refuse = [&](const std::string& why) {
    if (verbose_) err_ << "btap: note: not using the cache `" << dir_ << "`: " << why << '\n';
    dir_.clear();
    return false;
  };
  // Each missing level is made private (0700), whatever the umask: a group-writable
  // folder would be refused below.
  for (size_t at = 1; at <= dir_.size(); ++at)
    if (at == dir_.size() || dir_[at] == '/') mkdir(dir_.substr(0, at).c_str(), 0700);
  struct stat st;
  if (stat(dir_.c_str(), &st) != 0) return refuse(strerror(errno));
  if (!S_ISDIR(st.st_mode)) return refuse("not a directory");
  // Objects from the cache are loaded into the kernel: nobody else may write them.
  if (st.st_uid != geteuid()) return refuse("it belongs to another user");
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return refuse("other users can write it");
  if (access(dir_.c_str(), W_OK | X_OK) != 0) return refuse(strerror(errno));
  return true;
}

bool ObjectCache::Lookup(const std::string& key, std::vector<uint8_t>* object, meta::Meta* meta,
                         std::string* warnings) {
  warnings->clear();
  if (dir_.empty()) return false;
  std::string path = EntryPath(key), bytes;
  if (!ReadWhole(path, &bytes)) return false;
  auto reject = [&](const std::string& why) {
    if (verbose_)
      err_ << "btap: note: cache entry `" << path << "` " << why << "; compiling again\n";
    return false;
  };
  std::istringstream header(bytes);
  std::string line;
  if (!std::getline(header, line) || line != std::string(kMagic) + " " + key)
    return reject("is damaged (bad header)");
  for (;;) {
    if (!std::getline(header, line)) return reject("is damaged (no object)");
    std::istringstream fields(line);
    std::string word;
    fields >> word;
    if (word == "file") {
      std::string recorded, path_of_file;
      uint64_t size = 0;
      fields >> size >> recorded;
      fields.get();
      std::getline(fields, path_of_file);
      if (path_of_file.empty()) return reject("is damaged (bad file line)");
      if (StatIdentity(path_of_file) != path_of_file + " " + std::to_string(size) + " " + recorded)
        return reject("is stale: `" + path_of_file + "` changed since it was compiled");
      continue;
    }
    if (word == "warnings") {
      size_t size = 0;
      fields >> size;
      if (fields.fail() || size > bytes.size()) return reject("is damaged (bad warnings line)");
      warnings->resize(size);
      if (!header.read(warnings->data(), static_cast<std::streamsize>(size)))
        return reject("is damaged (truncated)");
      continue;
    }
    if (word != "object") return reject("is damaged (bad header)");
    uint64_t size = 0;
    std::string digest;
    fields >> size >> digest;
    std::streamoff at = header.tellg();
    if (fields.fail() || at < 0 || bytes.size() - static_cast<size_t>(at) != size)
      return reject("is damaged (truncated)");
    std::string_view body(bytes.data() + at, size);
    char hex[17];
    // The digest covers the warnings too.
    snprintf(hex, sizeof hex, "%016llx",
             static_cast<unsigned long long>(meta::Fnv1a(body, meta::Fnv1a(*warnings))));
    if (digest != hex) return reject("is damaged (digest mismatch)");
    object->assign(body.begin(), body.end());
    break;
  }
  std::string error;
  if (!runtime::ReadObjectMeta(*object, meta, &error)) return reject("is damaged (" + error + ")");
  // Used now: eviction removes the least recently used entries first.
  utimensat(AT_FDCWD, path.c_str(), nullptr, 0);
  return true;
}

void ObjectCache::Store(const std::string& key, std::span<const uint8_t> object,
                        const std::string& warnings, const std::vector<std::string>& files) {
  if (dir_.empty()) return;
  std::string header = std::string(kMagic) + " " + key + "\n";
  // Files the probes name (uprobe binaries, process paths) and the headers of `@cast`
  // types: a hit needs them unchanged.
  meta::Meta meta;
  std::string error;
  if (!runtime::ReadObjectMeta(object, &meta, &error)) return;
  std::vector<std::string> recorded;
  auto record = [&](const std::string& file) {
    struct stat st;
    if (file.empty() || file[0] != '/' || stat(file.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        std::find(recorded.begin(), recorded.end(), file) != recorded.end())
      return;
    recorded.push_back(file);
    header += "file " + StatIdentity(file).substr(file.size() + 1) + " " + file + "\n";
  };
  for (const meta::Probe& p : meta.probes) record(meta::TargetFile(p));
  for (const std::string& f : files) record(f);
  if (!warnings.empty()) header += "warnings " + std::to_string(warnings.size()) + "\n" + warnings;
  std::string_view body(reinterpret_cast<const char*>(object.data()), object.size());
  char hex[17];
  snprintf(hex, sizeof hex, "%016llx",
           static_cast<unsigned long long>(meta::Fnv1a(body, meta::Fnv1a(warnings))));
  header += "object " + std::to_string(object.size()) + " " + hex + "\n";

  std::string path = EntryPath(key);
  // A name of its own per writer, so that concurrent writers never share a file.
  std::string temp = dir_ + "/." + key + ".XXXXXX" + kTempSuffix;
  int fd = mkostemps(temp.data(), static_cast<int>(strlen(kTempSuffix)), O_CLOEXEC);
  if (fd >= 0) fchmod(fd, 0644);
  auto write_all = [&](std::string_view s) {
    while (!s.empty()) {
      ssize_t n = write(fd, s.data(), s.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  };
  bool ok = fd >= 0 && write_all(header) && write_all(body);
  if (fd >= 0 && close(fd) != 0) ok = false;
  if (!ok || rename(temp.c_str(), path.c_str()) != 0) {
    if (verbose_) err_ << "btap: note: cannot store `" << path << "`: " << strerror(errno) << '\n';
    unlink(temp.c_str());
    return;
  }
  if (verbose_ > 1) err_ << "Copying object to " << path << '\n';
  Evict(LimitBytes());
}

namespace {

struct Entry {
  std::string path;
  uint64_t size;
  struct timespec used;
};

std::vector<Entry> Entries(const std::string& dir, bool with_temporaries) {
  std::vector<Entry> entries;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    auto ends = [&](std::string_view s) {
      return name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0;
    };
    bool temporary = name[0] == '.' && ends(kTempSuffix);
    if (!(ends(kEntrySuffix) && name[0] != '.') && !(with_temporaries && temporary)) continue;
    struct stat st;
    if (lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    entries.push_back({e.path().string(), static_cast<uint64_t>(st.st_size), st.st_mtim});
  }
  return entries;
}

}  // namespace

size_t ObjectCache::Clean() {
  if (dir_.empty()) return 0;
  size_t removed = 0;
  std::string names;
  for (const Entry& e : Entries(dir_, true))
    if (unlink(e.path.c_str()) == 0) {
      ++removed;
      names += (names.empty() ? "" : ", ") + e.path;
    }
  if (verbose_ > 1 && !names.empty())
    err_ << "Cache cleaning successful, removed entries: " << names << '\n';
  return removed;
}

void ObjectCache::Evict(uint64_t limit_bytes) {
  if (dir_.empty()) return;
  std::vector<Entry> entries = Entries(dir_, true);
  // A temporary file an hour old belongs to a btap that died while storing it.
  time_t now = time(nullptr);
  uint64_t total = 0;
  std::vector<Entry> live;
  for (Entry& e : entries) {
    if (e.path.size() > 4 && e.path.compare(e.path.size() - 4, 4, kTempSuffix) == 0) {
      if (now - e.used.tv_sec > 3600) unlink(e.path.c_str());
      continue;
    }
    total += e.size;
    live.push_back(std::move(e));
  }
  std::sort(live.begin(), live.end(), [](const Entry& a, const Entry& b) {
    return a.used.tv_sec != b.used.tv_sec ? a.used.tv_sec < b.used.tv_sec
                                          : a.used.tv_nsec < b.used.tv_nsec;
  });
  std::string names;
  for (const Entry& e : live) {
    if (total <= limit_bytes) break;
    unlink(e.path.c_str());  // another btap may have removed it already
    total -= e.size;
    names += (names.empty() ? "" : ", ") + e.path;
  }
  if (verbose_ > 1 && !names.empty())
    err_ << "Cache cleaning successful, removed entries: " << names << '\n';
}

uint64_t ObjectCache::LimitBytes() {
  std::string path = dir_ + "/" + kLimitFile, text;
  uint64_t mb = kDefaultCacheLimitMb;
  if (ReadWhole(path, &text)) {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (end != text.c_str() && !errno) mb = v;
  } else {
    std::ofstream(path) << kDefaultCacheLimitMb << '\n';
    if (verbose_ > 1) err_ << "Cache limit file " << path << " missing, creating default." << '\n';
  }
  return mb > (UINT64_MAX >> 20) ? UINT64_MAX : mb << 20;
}

}  // namespace btap::driver
