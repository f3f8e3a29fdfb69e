// Session lifecycle (see session.h). Shutdown is event-driven: one epoll set holds the
// ring buffer and an eventfd that signals and RequestStop() write to, so stopping never
// waits for a poll timeout.
#include "runtime/session.h"

#include <bpf/libbpf.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstring>
#include <mutex>

#include "runtime/attach/attach.h"
#include "runtime/object.h"

namespace btap::runtime {
namespace {

constexpr char kOutputMap[] = "btap_output";

// libbpf reports through one global callback; a load collects what it says.
std::mutex log_mutex;
std::string* log_sink = nullptr;

int CaptureLibbpf(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG || !log_sink) return 0;
  char buf[4096];
  int n = vsnprintf(buf, sizeof buf, format, args);
  if (n > 0) log_sink->append(buf, std::min<size_t>(n, sizeof buf - 1));
  return 0;
}

std::atomic<int> signal_fd{-1};

void OnSignal(int) {
  int fd = signal_fd.load();
  uint64_t one = 1;
  if (fd >= 0) (void)!write(fd, &one, sizeof one);
}

// The last `lines` lines of a log: a verifier log ends with what it rejected.
std::string Tail(const std::string& log, int lines) {
  size_t at = log.size();
  for (int i = 0; i <= lines && at != std::string::npos && at > 0; ++i)
    at = log.rfind('\n', at - 1);
  return at == std::string::npos ? log : log.substr(at + 1);
}

}  // namespace

Session::Session() { stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

Session::~Session() {
  Detach();
  if (ring_) ring_buffer__free(ring_);
  if (bpf_) bpf_object__close(bpf_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

bool Session::Open(std::vector<uint8_t> object, std::string* error) {
  object_ = std::move(object);
  if (!ReadObjectMeta(object_, &meta_, error)) return false;
  if (!formatter_.Init(meta_, error)) return false;
  std::string log;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_sink = &log;
    libbpf_set_print(CaptureLibbpf);
    bpf_ = bpf_object__open_mem(object_.data(), object_.size(), nullptr);
    log_sink = nullptr;
  }
  if (!bpf_) {
    *error = "libbpf cannot open the object: " + Tail(log, 5);
    return false;
  }
  return true;
}

bool Session::Load(std::string* error) {
  std::string log;
  int rc;
  {
    std::lock_guard<std::mutex> lock(log_mutex);
    log_sink = &log;
    libbpf_set_print(CaptureLibbpf);
    rc = bpf_object__load(bpf_);
    log_sink = nullptr;
  }
  if (rc != 0) {
    *error = "the kernel refused the compiled probes: " + std::string(std::strerror(-rc)) + "\n" +
             Tail(log, 12);
    return false;
  }
  if (bpf_map* map = bpf_object__find_map_by_name(bpf_, kOutputMap)) {
    ring_ = ring_buffer__new(
        bpf_map__fd(map),
        [](void* ctx, void* data, size_t size) {
          auto* self = static_cast<Session*>(ctx);
          std::span<const uint8_t> bytes(static_cast<const uint8_t*>(data), size);
          std::string why;
          if (!self->formatter_.FormatRecord(bytes, self->pending_, &why) &&
              self->record_error_.empty())
            self->record_error_ = why;
          return 0;
        },
        this, nullptr);
    if (!ring_) {
      *error = "cannot read the output ring buffer: " + std::string(std::strerror(errno));
      return false;
    }
  }
  return true;
}

bool Session::Attach(std::string* error) {
  for (const meta::Probe& p : meta_.probes) {
    if (p.user_side || p.program.empty()) continue;
    bpf_program* prog = bpf_object__find_program_by_name(bpf_, p.program.c_str());
    if (!prog) {
      *error = "the object has no program `" + p.program + "` for `" + p.point + "`";
      return false;
    }
    if (!AttachProbe(prog, p, links_, error)) return false;
  }
  return true;
}

void Session::RequestStop() {
  uint64_t one = 1;
  (void)!write(stop_fd_, &one, sizeof one);
}

void Session::Detach() {
  for (bpf_link* link : links_) bpf_link__destroy(link);
  links_.clear();
}

bool Session::Run(const RunOptions& options, std::ostream& out, std::string* error) {
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u32 = 1;
  epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd_, &ev);
  if (ring_) {
    ev.data.u32 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, ring_buffer__epoll_fd(ring_), &ev);
  }
  struct sigaction old_int {
  }, old_term{};
  if (options.handle_signals) {
    signal_fd = stop_fd_;
    struct sigaction sa {};
    sa.sa_handler = OnSignal;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
  }
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                      std::chrono::duration<double>(options.timeout_seconds));
  bool stop = false;
  while (!stop) {
    int wait = -1;
    if (options.timeout_seconds > 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) break;
      wait = static_cast<int>(left);
    }
    epoll_event events[4];
    int n = epoll_wait(ep, events, 4, wait);
    if (n < 0 && errno != EINTR) break;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u32 == 1) stop = true;
      if (events[i].data.u32 == 2) ring_buffer__consume(ring_);
    }
    out << pending_;
    pending_.clear();
  }
  Detach();
  if (ring_) ring_buffer__consume(ring_);  // records written before the detach
  out << pending_;
  pending_.clear();
  out.flush();
  if (options.handle_signals) {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
    signal_fd = -1;
  }
  close(ep);
  if (!record_error_.empty()) {
    *error = "malformed output record: " + record_error_;
    return false;
  }
  return true;
}

}  // namespace btap::runtime
