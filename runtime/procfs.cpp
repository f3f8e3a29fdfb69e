// procfs probes' files, served over the kernel's FUSE protocol (see procfs.h). The few
// requests a folder of small files needs are answered here, one at a time, from the
// session's event loop; the probes run in the interpreter between two requests.
#include "runtime/procfs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>

#include "runtime/user_side.h"

namespace btap::runtime {

namespace {

constexpr char kBase[] = "/run/btap";
constexpr uint32_t kMaxWrite = 128 * 1024;
// The device hands over one whole request per read: the largest write and its headers.
constexpr size_t kBufferSize = kMaxWrite + 4096;
constexpr uint64_t kValidSeconds = 3600;  // the files never change while mounted
constexpr int kRequestBatch = 64;         // requests answered before the event loop looks again

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string Leaf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The object's metadata names the folder and the files: a module name of letters, digits
// and `_`, and paths of non-empty parts other than `.` and `..` (as the compiler checks
// them), so that an object cannot mount or remove anything outside /run/btap/MODULE.
bool SafeModuleName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool SafePath(const std::string& path) {
  size_t at = 0;
  while (true) {
    size_t end = path.find('/', at);
    std::string part = path.substr(at, end == std::string::npos ? std::string::npos : end - at);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos)
      return false;
    if (end == std::string::npos) return true;
    at = end + 1;
  }
}

// Folders of sessions that were killed (SIGKILL, a crash): their connection is gone and
// every look at them fails with ENOTCONN. Each new procfs session unmounts them.
void ClearDeadFolders() {
  DIR* dir = opendir(kBase);
  if (!dir) return;
  std::vector<std::string> dead;
  while (dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    struct stat st;
    std::string path = std::string(kBase) + "/" + name;
    if (stat(path.c_str(), &st) != 0 && errno == ENOTCONN) dead.push_back(path);
  }
  closedir(dir);
  for (const std::string& path : dead) {
    umount2(path.c_str(), MNT_DETACH);
    rmdir(path.c_str());
  }
}

}  // namespace

struct ProcfsServer::Node {
  uint64_t id = 0;
  uint64_t parent = 0;
  std::string name;  // in its folder
  bool directory = false;
  std::map<std::string, uint64_t> children;
  const meta::Probe* reader = nullptr;
  std::vector<const meta::Probe*> writers;
  uint32_t mode = 0;  // permission bits
  size_t max = 0;     // the text's room, with its NUL
};

struct ProcfsServer::Handle {
  uint64_t id = 0;
  bool filled = false;
  bool failed = false;  // the read probe's handler failed: every read is an error
  std::string text;
};

std::string ProcfsFolder(const meta::Meta& meta) {
  return std::string(kBase) + "/" + meta.script_name;
}

// (Write probes of "__stdin" are input probes, which read standard input: input.cpp.)
bool IsFileProbe(const meta::Probe& p) {
  return p.family == static_cast<uint8_t>(meta::ProbeKind::Procfs) &&
         !(p.numbers[2] && p.target == meta::kInputFile);
}

bool HasProcfsProbes(const meta::Meta& meta) {
  return std::any_of(meta.probes.begin(), meta.probes.end(), IsFileProbe);
}

ProcfsServer::ProcfsServer(UserSide& user, RunProbe run) : user_(user), run_(std::move(run)) {}

std::unique_ptr<ProcfsServer> ProcfsServer::Prepare(const meta::Meta& meta, UserSide& user,
                                                    RunProbe run, std::string* error) {
  if (!SafeModuleName(meta.script_name)) {
    *error = "the object's module name `" + meta.script_name +
             "` cannot name a procfs folder: it must be letters, digits and `_`";
    return nullptr;
  }
  for (const meta::Probe& p : meta.probes)
    if (IsFileProbe(p) && !SafePath(p.target)) {
      *error = "the object's procfs file \"" + p.target + "\" of `" + p.point +
               "` is no path under the module's folder";
      return nullptr;
    }
  std::unique_ptr<ProcfsServer> server(new ProcfsServer(user, std::move(run)));
  server->folder_ = ProcfsFolder(meta);
  server->max_string_len_ = std::max<uint32_t>(meta.limits.max_string_len, 2);
  if (!server->Build(meta, error) || !server->Reserve(error)) return nullptr;
  return server;
}

ProcfsServer::~ProcfsServer() { Unmount(); }

// The folder tree of the probes' paths; a path's read probe and write probes share a file.
bool ProcfsServer::Build(const meta::Meta& meta, std::string* error) {
  uid_ = geteuid();
  gid_ = getegid();
  started_ = time(nullptr);
  auto root = std::make_unique<Node>();
  root->id = FUSE_ROOT_ID;
  root->directory = true;
  root->mode = 0555;
  nodes_.push_back(std::move(root));
  std::map<std::string, uint64_t> by_path{{"", FUSE_ROOT_ID}};
  // The node for `path`, made with its folders; 0 when a file is in the way.
  std::function<uint64_t(const std::string&, bool)> make = [&](const std::string& path,
                                                               bool directory) -> uint64_t {
    if (auto it = by_path.find(path); it != by_path.end()) {
      Node* n = Find(it->second);
      return n->directory == directory ? n->id : 0;
    }
    uint64_t parent = make(Parent(path), true);
    if (!parent) return 0;
    auto n = std::make_unique<Node>();
    n->id = nodes_.size() + 1;
    n->parent = parent;
    n->name = Leaf(path);
    n->directory = directory;
    n->mode = directory ? 0555 : 0;
    Find(parent)->children[n->name] = n->id;
    by_path[path] = n->id;
    nodes_.push_back(std::move(n));
    return nodes_.back()->id;
  };
  for (const meta::Probe& p : meta.probes) {
    if (!IsFileProbe(p)) continue;
    uint64_t id = make(p.target, false);
    if (!id) {
      *error = "procfs file \"" + p.target + "\" of `" + p.point + "` is also a folder";
      return false;
    }
    Node* n = Find(id);
    uint32_t umask = static_cast<uint32_t>(p.numbers[1]) & 0777;
    if (p.numbers[2]) {
      n->writers.push_back(&p);
      n->mode |= 0222 & ~umask;
    } else {
      n->reader = &p;
      n->mode |= 0444 & ~umask;
      n->max = p.numbers[0] > 0 ? static_cast<size_t>(p.numbers[0]) : max_string_len_;
    }
  }
  return true;
}

bool ProcfsServer::Reserve(std::string* error) {
  fd_ = open("/dev/fuse", O_RDWR | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) {
    *error = std::string("procfs probes need FUSE to serve their files: cannot open /dev/fuse: ") +
             std::strerror(errno);
    return false;
  }
  ClearDeadFolders();
  struct stat st;
  // (Another session may remove /run/btap between the two calls: then again.)
  int made = -1;
  for (int tries = 0; made != 0 && tries < 3; ++tries) {
    mkdir(kBase, 0755);
    made = mkdir(folder_.c_str(), 0755);
    if (made != 0 && errno == EEXIST) made = 0;
  }
  if (made != 0) {
    *error = "cannot make the procfs folder " + folder_ + ": " + std::strerror(errno);
    return false;
  }
  struct stat parent;
  if (stat(folder_.c_str(), &st) == 0 && stat(kBase, &parent) == 0 && st.st_dev != parent.st_dev) {
    *error = "the procfs folder " + folder_ + " is in use: another session of module `" +
             Leaf(folder_) + "` runs (use -m NAME)";
    return false;
  }
  return true;
}

bool ProcfsServer::Mount(std::string* error) {
  std::string options = "fd=" + std::to_string(fd_) +
                        ",rootmode=40555,user_id=" + std::to_string(uid_) +
                        ",group_id=" + std::to_string(gid_) + ",allow_other,default_permissions";
  if (mount("btap", folder_.c_str(), "fuse.btap", MS_NOSUID | MS_NODEV | MS_NOEXEC,
            options.c_str()) != 0) {
    *error = "cannot mount the procfs folder " + folder_ + ": " + std::strerror(errno);
    rmdir(folder_.c_str());
    return false;
  }
  mounted_ = true;
  buffer_.resize(kBufferSize);
  return true;
}

void ProcfsServer::Unmount() {
  if (mounted_) umount2(folder_.c_str(), MNT_DETACH);
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!folder_.empty()) rmdir(folder_.c_str());
  rmdir(kBase);  // when no other session has files there
  mounted_ = false;
}

bool ProcfsServer::Serve() {
  // A bounded batch, as the ring buffer's: readers in a loop cannot keep the session
  // from seeing a stop (the descriptor stays readable, so the loop comes back).
  for (int served = 0; fd_ >= 0 && served < kRequestBatch; ++served) {
    ssize_t n = read(fd_, buffer_.data(), buffer_.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOENT) continue;  // a request the reader gave up on
      return errno == EAGAIN;
    }
    if (n == 0) return false;
    Dispatch(buffer_.data(), static_cast<size_t>(n));
  }
  return fd_ >= 0;
}

void ProcfsServer::Reply(uint64_t unique, int error, const void* data, size_t size) {
  fuse_out_header out{};
  out.unique = unique;
  out.error = -error;
  out.len = static_cast<uint32_t>(sizeof out + (error ? 0 : size));
  iovec parts[2] = {{&out, sizeof out}, {const_cast<void*>(data), error ? 0 : size}};
  // A reader that was interrupted meanwhile makes this fail (ENOENT): nothing to do.
  (void)!writev(fd_, parts, data && !error ? 2 : 1);
}

ProcfsServer::Node* ProcfsServer::Find(uint64_t node) {
  if (node == 0 || node > nodes_.size()) return nullptr;
  return nodes_[node - 1].get();
}

void ProcfsServer::Dispatch(const uint8_t* request, size_t size) {
  if (size < sizeof(fuse_in_header)) return;
  fuse_in_header header;
  std::memcpy(&header, request, sizeof header);
  const uint8_t* in = request + sizeof header;
  caller_tid_ = header.pid;
  caller_uid_ = header.uid;
  caller_gid_ = header.gid;
  size_t in_size = std::min<size_t>(size, header.len) - sizeof header;
  switch (header.opcode) {
    case FUSE_INIT:
      return Init(header.unique, in, in_size);
    case FUSE_LOOKUP:
      return Lookup(header.unique, header.nodeid, reinterpret_cast<const char*>(in), in_size);
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
      return;  // no answer is expected (the nodes live as long as the mount)
    case FUSE_GETATTR:
      return GetAttr(header.unique, header.nodeid);
    case FUSE_SETATTR: {
      // `echo x > FILE` truncates (nothing to truncate) and touch sets times; the files'
      // owner and modes are the probes', not to be changed.
      fuse_setattr_in set{};
      std::memcpy(&set, in, std::min(in_size, sizeof set));
      if (set.valid & (FATTR_MODE | FATTR_UID | FATTR_GID)) return Reply(header.unique, EPERM);
      return GetAttr(header.unique, header.nodeid);
    }
    case FUSE_OPEN:
      return Open(header.unique, header.nodeid, false);
    case FUSE_OPENDIR:
      return Open(header.unique, header.nodeid, true);
    case FUSE_READ:
      return Read(header.unique, header.nodeid, in, in_size);
    case FUSE_WRITE:
      return Write(header.unique, header.nodeid, in, in_size);
    case FUSE_READDIR:
      return ReadDir(header.unique, header.nodeid, in, in_size);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
      return Release(header.unique, in, in_size);
    case FUSE_FLUSH:
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR:
    case FUSE_DESTROY:
      return Reply(header.unique, 0);
    case FUSE_CREATE:
    case FUSE_MKNOD:
    case FUSE_MKDIR:
    case FUSE_UNLINK:
    case FUSE_RMDIR:
    case FUSE_RENAME:
    case FUSE_RENAME2:
    case FUSE_LINK:
    case FUSE_SYMLINK:
      return Reply(header.unique, EACCES);
    default:
      return Reply(header.unique, ENOSYS);
  }
}

void ProcfsServer::Init(uint64_t unique, const uint8_t* in, size_t size) {
  fuse_init_in init{};
  std::memcpy(&init, in, std::min(size, sizeof init));
  fuse_init_out out{};
  if (init.major > FUSE_KERNEL_VERSION) {
    // A newer kernel asks again with the version answered here.
    out.major = FUSE_KERNEL_VERSION;
    out.minor = FUSE_KERNEL_MINOR_VERSION;
    return Reply(unique, 0, &out, sizeof out);
  }
  if (init.major < FUSE_KERNEL_VERSION) return Reply(unique, EPROTO);
  out.major = FUSE_KERNEL_VERSION;
  out.minor = std::min<uint32_t>(init.minor, FUSE_KERNEL_MINOR_VERSION);
  out.max_readahead = init.max_readahead;
  out.flags = FUSE_BIG_WRITES & init.flags;
  out.max_background = 1;
  out.congestion_threshold = 1;
  out.max_write = kMaxWrite;
  out.time_gran = 1000000000;
  Reply(unique, 0, &out, sizeof out);
}

void ProcfsServer::Attributes(const Node& n, void* attr) const {
  fuse_attr a{};
  a.ino = n.id;
  a.mode = (n.directory ? S_IFDIR : S_IFREG) | n.mode;
  a.nlink = n.directory ? 2 : 1;
  a.uid = uid_;
  a.gid = gid_;
  a.atime = a.mtime = a.ctime = static_cast<uint64_t>(started_);
  a.blksize = 4096;
  std::memcpy(attr, &a, sizeof a);
}

void ProcfsServer::Lookup(uint64_t unique, uint64_t node, const char* name, size_t size) {
  Node* dir = Find(node);
  std::string leaf(name, strnlen(name, size));
  if (!dir || !dir->directory) return Reply(unique, ENOTDIR);
  auto it = dir->children.find(leaf);
  if (it == dir->children.end()) return Reply(unique, ENOENT);
  fuse_entry_out out{};
  out.nodeid = it->second;
  out.entry_valid = out.attr_valid = kValidSeconds;
  Attributes(*Find(it->second), &out.attr);
  Reply(unique, 0, &out, sizeof out);
}

void ProcfsServer::GetAttr(uint64_t unique, uint64_t node) {
  Node* n = Find(node);
  if (!n) return Reply(unique, ENOENT);
  fuse_attr_out out{};
  out.attr_valid = kValidSeconds;
  Attributes(*n, &out.attr);
  Reply(unique, 0, &out, sizeof out);
}

void ProcfsServer::Open(uint64_t unique, uint64_t node, bool directory) {
  Node* n = Find(node);
  if (!n) return Reply(unique, ENOENT);
  if (n->directory != directory) return Reply(unique, directory ? ENOTDIR : EISDIR);
  auto h = std::make_unique<Handle>();
  h->id = next_handle_++;
  fuse_open_out out{};
  out.fh = h->id;
  // The text is made at the first read of each open, and never cached by the kernel.
  if (!directory) out.open_flags = FOPEN_DIRECT_IO;
  handles_.push_back(std::move(h));
  Reply(unique, 0, &out, sizeof out);
}

// The task that made the request: its thread group and name from /proc (a task that has
// gone meanwhile keeps its thread id as both, and no name).
void ProcfsServer::Caller(ProcfsValue& value) const {
  value.tid = value.tgid = caller_tid_;
  value.uid = caller_uid_;
  value.gid = caller_gid_;
  std::string base = "/proc/" + std::to_string(caller_tid_);
  std::ifstream status(base + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.starts_with("Tgid:"))
      value.tgid = static_cast<uint32_t>(std::atoi(line.c_str() + 5));
    else if (line.starts_with("PPid:"))
      value.ppid = static_cast<uint32_t>(std::atoi(line.c_str() + 5));
    else if (line.starts_with("Uid:"))  // real, effective, saved, filesystem: the real one
      value.uid = static_cast<uint32_t>(std::atoi(line.c_str() + 4));
    else if (line.starts_with("Gid:"))
      value.gid = static_cast<uint32_t>(std::atoi(line.c_str() + 4));
  std::ifstream comm(base + "/comm");
  std::getline(comm, value.comm);
}

// Runs the file's read probe for this open, as stap fills its buffer at the first read.
bool ProcfsServer::Fill(Handle& h, const Node& n) {
  h.filled = true;
  if (!n.reader) return true;  // a write-only file that root reads: empty
  ProcfsValue value;
  value.max = n.max;
  Caller(value);
  user_.SetProcfsValue(&value);
  bool ok = run_(*n.reader);
  user_.SetProcfsValue(nullptr);
  h.text = std::move(value.text);
  // A text cut at maxsize is an error stap reports and still serves.
  h.failed = !ok && !value.overflowed;
  return !h.failed;
}

void ProcfsServer::Read(uint64_t unique, uint64_t node, const uint8_t* in, size_t size) {
  fuse_read_in r{};
  std::memcpy(&r, in, std::min(size, sizeof r));
  Node* n = Find(node);
  auto it =
      std::find_if(handles_.begin(), handles_.end(), [&](const auto& h) { return h->id == r.fh; });
  if (!n || it == handles_.end()) return Reply(unique, EBADF);
  Handle& h = **it;
  if (!h.filled) Fill(h, *n);
  if (h.failed) return Reply(unique, EIO);
  if (r.offset >= h.text.size()) return Reply(unique, 0, "", 0);
  size_t count = std::min<size_t>(r.size, h.text.size() - r.offset);
  Reply(unique, 0, h.text.data() + r.offset, count);
}

// One write runs the file's write probes with up to MAXSTRINGLEN - 1 of its bytes (less
// when the file's read probe has a smaller maxsize); the writer is told how many were
// taken, and writes the rest again, as from stap's files.
void ProcfsServer::Write(uint64_t unique, uint64_t node, const uint8_t* in, size_t size) {
  fuse_write_in w{};
  if (size < sizeof w) return Reply(unique, EINVAL);
  std::memcpy(&w, in, sizeof w);
  Node* n = Find(node);
  if (!n || n->directory) return Reply(unique, EISDIR);
  if (n->writers.empty()) return Reply(unique, EACCES);
  size_t count = std::min<size_t>(w.size, size - sizeof w);
  size_t room = max_string_len_ - 1;
  if (n->reader) room = std::min(room, n->max - 1);
  // At least a byte a write: a writer told 0 bytes were taken writes them again forever.
  count = std::min(count, std::max<size_t>(room, 1));
  ProcfsValue value;
  Caller(value);
  value.written.assign(reinterpret_cast<const char*>(in + sizeof w), count);
  bool ok = true;
  user_.SetProcfsValue(&value);
  for (const meta::Probe* p : n->writers) ok = run_(*p) && ok;
  user_.SetProcfsValue(nullptr);
  if (!ok) return Reply(unique, EIO);
  fuse_write_out out{};
  out.size = static_cast<uint32_t>(count);
  Reply(unique, 0, &out, sizeof out);
}

void ProcfsServer::ReadDir(uint64_t unique, uint64_t node, const uint8_t* in, size_t size) {
  fuse_read_in r{};
  std::memcpy(&r, in, std::min(size, sizeof r));
  Node* dir = Find(node);
  if (!dir || !dir->directory) return Reply(unique, ENOTDIR);
  const Node* up = Find(dir->parent);
  std::vector<std::pair<std::string, const Node*>> entries{{".", dir}, {"..", up ? up : dir}};
  for (const auto& [name, id] : dir->children) entries.emplace_back(name, Find(id));
  std::vector<uint8_t> out;
  for (size_t i = r.offset; i < entries.size(); ++i) {
    const auto& [name, entry] = entries[i];
    size_t record = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + name.size());
    if (out.size() + record > r.size) break;
    size_t at = out.size();
    out.resize(at + record, 0);
    fuse_dirent d{};
    d.ino = entry->id;
    d.off = i + 1;
    d.namelen = static_cast<uint32_t>(name.size());
    d.type = entry->directory ? DT_DIR : DT_REG;
    std::memcpy(out.data() + at, &d, FUSE_NAME_OFFSET);
    std::memcpy(out.data() + at + FUSE_NAME_OFFSET, name.data(), name.size());
  }
  Reply(unique, 0, out.data(), out.size());
}

void ProcfsServer::Release(uint64_t unique, const uint8_t* in, size_t size) {
  fuse_release_in r{};
  std::memcpy(&r, in, std::min(size, sizeof r));
  std::erase_if(handles_, [&](const auto& h) { return h->id == r.fh; });
  Reply(unique, 0);
}

}  // namespace btap::runtime
