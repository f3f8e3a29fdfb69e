// Kernel modules that load and go while a session runs. stap arms a module("M") probe when
// M loads after the session started, and disarms it when M goes (its runtime registers a
// module notifier). A BPF tool has no notifier: two small raw tracepoint programs, written
// here as instructions, send the name of each module that loads (`module_load`, traced
// when the module is formed, before its init runs) or is freed (`module_free`) to a ring
// buffer, and the session (re)attaches or detaches the probes of that module when it reads
// the record. Arming is therefore asynchronous: a function that runs before the session
// has read the record (the module's init, say) is missed.
#include "runtime/attach/module_watch.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>

#include "runtime/attach/attach.h"

namespace btap::runtime {
namespace {

constexpr int kNameSize = 56;  // MODULE_NAME_LEN (64 - sizeof(unsigned long))

struct Event {
  uint64_t loaded;
  char name[kNameSize];
};

// The offset of `struct module`'s `name` in this kernel, from its BTF; -1 without it.
int ModuleNameOffset() {
  struct btf* btf = btf__load_vmlinux_btf();
  if (libbpf_get_error(btf)) return -1;
  int offset = -1;
  int id = btf__find_by_name_kind(btf, "module", BTF_KIND_STRUCT);
  if (id > 0) {
    const struct btf_type* t = btf__type_by_id(btf, id);
    const struct btf_member* m = btf_members(t);
    for (int i = 0; i < btf_vlen(t); ++i, ++m) {
      const char* name = btf__name_by_offset(btf, m->name_off);
      if (name && std::strcmp(name, "name") == 0) {
        offset = static_cast<int>(btf_member_bit_offset(t, i) / 8);
        break;
      }
    }
  }
  btf__free(btf);
  return offset;
}

// The program for one tracepoint: its first argument is the module; its name is copied
// into an Event on the stack, which goes to the ring buffer.
int LoadProgram(int map_fd, int name_offset, bool loaded) {
  constexpr int16_t kEvent = -static_cast<int16_t>(sizeof(Event));
  const bpf_insn code[] = {
      {BPF_LDX | BPF_MEM | BPF_DW, BPF_REG_6, BPF_REG_1, 0, 0},  // r6 = ctx->args[0]
      {BPF_ST | BPF_MEM | BPF_DW, BPF_REG_10, 0, kEvent, loaded ? 1 : 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_1, 0, 0, kEvent + 8},  // r1 = &event.name
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, kNameSize},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_6, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_3, 0, 0, name_offset},  // r3 = mod->name
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_probe_read_kernel_str},
      {BPF_LD | BPF_DW | BPF_IMM, BPF_REG_1, BPF_PSEUDO_MAP_FD, 0, map_fd},
      {0, 0, 0, 0, 0},
      {BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_2, BPF_REG_10, 0, 0},
      {BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_2, 0, 0, kEvent},  // r2 = &event
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, sizeof(Event)},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_4, 0, 0, 0},
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_ringbuf_output},
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, loaded ? "btap_mod_load" : "btap_mod_free",
                       "GPL", code, std::size(code), nullptr);
}

}  // namespace

ModuleWatch::~ModuleWatch() {
  if (ring_) ring_buffer__free(ring_);
  for (int fd : fds_) close(fd);
  if (map_fd_ >= 0) close(map_fd_);
}

bool ModuleWatch::Start(std::string* error) {
  int name_offset = ModuleNameOffset();
  if (name_offset < 0) {
    *error = "the kernel's BTF has no `struct module` with a `name`";
    return false;
  }
  map_fd_ = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "btap_modules", 0, 0, 16 * 4096, nullptr);
  if (map_fd_ < 0) {
    *error = std::string("cannot make its ring buffer: ") + std::strerror(errno);
    return false;
  }
  for (bool loaded : {true, false}) {
    const char* event = loaded ? "module_load" : "module_free";
    int prog = LoadProgram(map_fd_, name_offset, loaded);
    if (prog < 0) {
      *error = std::string("cannot load its program for `") + event + "`: " + std::strerror(errno);
      return false;
    }
    fds_.push_back(prog);
    int link = bpf_raw_tracepoint_open(event, prog);
    if (link < 0) {
      *error =
          std::string("cannot attach to the tracepoint `") + event + "`: " + std::strerror(errno);
      return false;
    }
    fds_.push_back(link);
  }
  auto sample = [](void* context, void* data, size_t size) {
    auto* self = static_cast<ModuleWatch*>(context);
    if (size < sizeof(Event)) return 0;
    Event event;
    std::memcpy(&event, data, sizeof event);
    self->events_.emplace_back(std::string(event.name, strnlen(event.name, kNameSize)),
                               event.loaded != 0);
    return 0;
  };
  ring_ = ring_buffer__new(map_fd_, sample, this, nullptr);
  if (!ring_) {
    *error = std::string("cannot read its ring buffer: ") + std::strerror(errno);
    return false;
  }
  return true;
}

int ModuleWatch::fd() const { return ring_ ? ring_buffer__epoll_fd(ring_) : -1; }

void ModuleWatch::Take(const std::function<void(const std::string&, bool)>& each) {
  if (!ring_) return;
  ring_buffer__consume(ring_);
  std::vector<std::pair<std::string, bool>> events;
  events.swap(events_);
  for (const auto& [name, loaded] : events) each(name, loaded);
}

std::string ProbeModule(const meta::Probe& probe) {
  auto kind = static_cast<meta::ProbeKind>(probe.family);
  if (kind != meta::ProbeKind::Kprobe && kind != meta::ProbeKind::Kretprobe) return "";
  std::string module;
  for (const std::string& line : TargetLines(probe.target)) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) return "";
    std::string name = line.substr(0, colon);
    if (!module.empty() && name != module) return "";
    module = name;
  }
  return module;
}

bool ModuleLoaded(const std::string& name) {
  // /sys/module spells a module's name as the kernel does (underscores for dashes).
  std::string spelled = name;
  for (char& c : spelled)
    if (c == '-') c = '_';
  return access(("/sys/module/" + spelled).c_str(), F_OK) == 0;
}

}  // namespace btap::runtime
