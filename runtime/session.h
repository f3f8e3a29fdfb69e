// One run of a compiled object (pass 5, and btaprun): open and check it, load it into
// the kernel, attach its probes, stream output records as text until a stop (signal,
// timeout, or a stop request), then detach and drain every pending record.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "common/object_meta.h"
#include "runtime/output.h"

struct bpf_object;
struct bpf_link;
struct ring_buffer;

namespace btap::runtime {

struct RunOptions {
  double timeout_seconds = 0;  // -T; 0: none
  bool handle_signals = true;  // SIGINT / SIGTERM stop the session
};

class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Checks the object and its metadata (nothing is loaded yet).
  bool Open(std::vector<uint8_t> object, std::string* error);
  // Loads maps and programs; a verifier rejection comes with the verifier's log.
  bool Load(std::string* error);
  bool Attach(std::string* error);
  // Streams output to `out` until stopped; then detaches and drains.
  bool Run(const RunOptions& options, std::ostream& out, std::string* error);
  // Asks Run to stop (thread- and signal-safe).
  void RequestStop();

  const meta::Meta& meta() const { return meta_; }

 private:
  void Detach();

  std::vector<uint8_t> object_;
  meta::Meta meta_;
  OutputFormatter formatter_;
  bpf_object* bpf_ = nullptr;
  std::vector<bpf_link*> links_;
  ring_buffer* ring_ = nullptr;
  int stop_fd_ = -1;
  std::string pending_;  // formatted text not yet written
  std::string record_error_;
};

}  // namespace btap::runtime
