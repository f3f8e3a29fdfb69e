// procfs probes' files (stap's /proc/systemtap/MODULE/PATH). A BPF tool cannot add /proc
// entries, so the runtime serves them itself: a FUSE file system, spoken directly over
// /dev/fuse, mounted at /run/btap/MODULE while the session runs. Reading a file runs its
// read probe once per open (the reader gets the `$value` it set, at any offset); each
// write runs the file's write probes with what was written in `$value`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/object_meta.h"

namespace btap::runtime {

class UserSide;

// What a procfs probe's `$value` holds while it runs (the interpreter's helper reads and
// writes it, user_side.cpp).
struct ProcfsValue {
  std::string text;         // a read probe's: what it set, cut to max - 1 bytes
  size_t max = 0;           // the file's size limit, with room for a NUL
  std::string written;      // a write probe's: what the writer wrote
  bool overflowed = false;  // the read probe set more than max - 1 bytes (an error)
  // The reader or writer, whose task the handler sees (pid(), uid(), execname()), as
  // stap's handlers run in its context.
  uint32_t tid = 0, tgid = 0, ppid = 0, uid = 0, gid = 0;
  std::string comm;
};

// The folder a session's files are under: /run/btap/MODULE.
std::string ProcfsFolder(const meta::Meta& meta);
// A probe of a file served here (not an input probe, runtime/input.h).
bool IsFileProbe(const meta::Probe& p);
bool HasProcfsProbes(const meta::Meta& meta);

class ProcfsServer {
 public:
  // Runs one user-side probe; false when its handler failed (the error is reported).
  using RunProbe = std::function<bool(const meta::Probe&)>;

  // Checks the files of `meta`'s procfs probes and takes /dev/fuse and their folder,
  // before any probe runs; null with the reason when it cannot.
  static std::unique_ptr<ProcfsServer> Prepare(const meta::Meta& meta, UserSide& user, RunProbe run,
                                               std::string* error);
  // Mounts the files once the probes are attached (a file mounted earlier would hang its
  // readers through the begin probes and the attaching).
  bool Mount(std::string* error);
  // Unmounts (lazily: a reader still in a file gets an error) and removes the folder.
  ~ProcfsServer();
  ProcfsServer(const ProcfsServer&) = delete;
  ProcfsServer& operator=(const ProcfsServer&) = delete;

  int fd() const { return fd_; }
  const std::string& folder() const { return folder_; }
  // Answers the requests waiting on the device; false when the connection has ended.
  bool Serve();

 private:
  struct Node;
  struct Handle;
  ProcfsServer(UserSide& user, RunProbe run);
  bool Build(const meta::Meta& meta, std::string* error);
  bool Reserve(std::string* error);  // /dev/fuse and the folder
  void Unmount();
  void Dispatch(const uint8_t* request, size_t size);
  void Caller(ProcfsValue& value) const;
  void Reply(uint64_t unique, int error, const void* data = nullptr, size_t size = 0);
  void Init(uint64_t unique, const uint8_t* in, size_t size);
  void Lookup(uint64_t unique, uint64_t node, const char* name, size_t size);
  void GetAttr(uint64_t unique, uint64_t node);
  void Open(uint64_t unique, uint64_t node, bool directory);
  void Read(uint64_t unique, uint64_t node, const uint8_t* in, size_t size);
  void Write(uint64_t unique, uint64_t node, const uint8_t* in, size_t size);
  void ReadDir(uint64_t unique, uint64_t node, const uint8_t* in, size_t size);
  void Release(uint64_t unique, const uint8_t* in, size_t size);
  bool Fill(Handle& h, const Node& n);
  Node* Find(uint64_t node);
  void Attributes(const Node& n, void* attr) const;

  UserSide& user_;
  RunProbe run_;
  int fd_ = -1;
  bool mounted_ = false;
  std::string folder_;
  uint32_t max_string_len_ = 0;
  uint32_t uid_ = 0, gid_ = 0;
  int64_t started_ = 0;                       // the files' times (seconds)
  std::vector<std::unique_ptr<Node>> nodes_;  // nodes_[i] is node i + 1 (1: the folder)
  std::vector<std::unique_ptr<Handle>> handles_;
  uint64_t next_handle_ = 1;
  std::vector<uint8_t> buffer_;
  uint32_t caller_tid_ = 0, caller_uid_ = 0, caller_gid_ = 0;  // the request's
};

}  // namespace btap::runtime
