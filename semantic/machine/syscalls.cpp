// The running kernel's system calls (see syscalls.h).
//
// Where the numbers come from: every `syscalls:sys_enter_NAME` event is a trace_event_call
// whose `data` is the kernel's `struct syscall_metadata` for NAME, and that holds the
// number this kernel dispatches it by. Opening the event's tracefs `format` file gives a
// file whose inode's i_private is that event call. A small BPF task_file iterator, run
// once over this process's open files, follows file → inode → event call → metadata and
// writes (fd, number) pairs. The struct offsets come from the kernel's BTF, so nothing
// depends on one kernel's layout, and opening a format file registers no tracepoint.
#include "semantic/machine/syscalls.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "semantic/machine/tracepoints.h"

namespace btap::sema {
namespace {

constexpr std::string_view kEnterPrefix = "sys_enter_";

struct BtfFree {
  void operator()(struct btf* b) const { btf__free(b); }
};

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The few BTF facts this file needs, found in one pass over the types. The names are
// kept as views of the BTF's own strings, sorted (kind, name, id), so building the index
// allocates once: a map of owned "KIND:NAME" strings cost one allocation per type, about
// 7% of compiling a script of 100 syscall tracepoints. A function is looked up by libbpf's
// own scan: there are tens of thousands of them, and only one is ever asked for.
class KernelTypes {
 public:
  explicit KernelTypes(const struct btf* b) : b_(b) {
    uint32_t count = btf__type_cnt(b);
    names_.reserve(count / 4);
    for (uint32_t id = 1; id < count; ++id) {
      const btf_type* t = btf__type_by_id(b, id);
      int kind = btf_kind(t);
      if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_TYPEDEF && kind != BTF_KIND_INT &&
          kind != BTF_KIND_ENUM)
        continue;
      const char* name = btf__name_by_offset(b, t->name_off);
      if (name && *name) names_.push_back({kind, name, id});
    }
    std::sort(names_.begin(), names_.end());
  }

  // The first type of `kind` named `name` (the lowest id), or -1.
  int Find(int kind, std::string_view name) const {
    if (kind == BTF_KIND_FUNC) {
      int id = btf__find_by_name_kind(b_, std::string(name).c_str(), BTF_KIND_FUNC);
      return id > 0 ? id : -1;
    }
    auto it = std::lower_bound(names_.begin(), names_.end(), Named{kind, name, 0});
    return it != names_.end() && it->kind == kind && it->name == name ? static_cast<int>(it->id)
                                                                      : -1;
  }

  // Byte offset of `member` in `struct name`, looking into anonymous members; -1 if absent.
  int64_t Offset(const std::string& name, const std::string& member) const {
    int id = Find(BTF_KIND_STRUCT, name);
    return id < 0 ? -1 : OffsetIn(static_cast<uint32_t>(id), member, 0);
  }

  // Width and signedness of a C type as the format file spells it.
  void Describe(SyscallArg* arg) const {
    std::string type = arg->c_type;
    if (!type.empty() && type.back() == '*') {
      arg->is_pointer = true;
      return;
    }
    if (type.starts_with("const ")) type = type.substr(6);
    int id = Find(BTF_KIND_TYPEDEF, type);
    if (id < 0) id = Find(BTF_KIND_INT, type);
    if (id < 0) id = Find(BTF_KIND_ENUM, type);
    if (id < 0) {
      arg->is_signed = true;  // unknown: a long
      return;
    }
    int resolved = btf__resolve_type(b_, static_cast<uint32_t>(id));
    const btf_type* t =
        resolved >= 0 ? btf__type_by_id(b_, static_cast<uint32_t>(resolved)) : nullptr;
    if (!t) return;
    if (btf_is_ptr(t)) {
      arg->is_pointer = true;
    } else if (btf_is_int(t)) {
      arg->size = t->size;
      arg->is_signed = btf_int_encoding(t) & BTF_INT_SIGNED;
    } else if (btf_is_enum(t)) {
      arg->size = t->size;
      arg->is_signed = btf_kflag(t);
    }
  }

 private:
  int64_t OffsetIn(uint32_t id, const std::string& member, int depth) const {
    const btf_type* t = btf__type_by_id(b_, id);
    if (!t || !btf_is_composite(t) || depth > 4) return -1;
    const btf_member* m = btf_members(t);
    for (uint16_t i = 0; i < btf_vlen(t); ++i) {
      int64_t at = btf_member_bit_offset(t, i) / 8;
      const char* name = btf__name_by_offset(b_, m[i].name_off);
      if (name && member == name) return at;
      if (!name || !*name) {
        int inner = btf__resolve_type(b_, m[i].type);
        int64_t found = inner < 0 ? -1 : OffsetIn(static_cast<uint32_t>(inner), member, depth + 1);
        if (found >= 0) return at + found;
      }
    }
    return -1;
  }

  struct Named {
    int kind;
    std::string_view name;
    uint32_t id;
    auto operator<=>(const Named&) const = default;
  };
  const struct btf* b_;
  std::vector<Named> names_;
};

// Instruction builders (the subset the iterator needs).
bpf_insn Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst;
  i.src_reg = src;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn MovReg(uint8_t dst, uint8_t src) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn MovImm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
}
bpf_insn AddImm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
}
bpf_insn RshImm(uint8_t dst, int32_t imm) {
  return Insn(BPF_ALU64 | BPF_RSH | BPF_K, dst, 0, 0, imm);
}
bpf_insn Load(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_LDX | BPF_MEM | size, dst, src, off, 0);
}
bpf_insn Store(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
  return Insn(BPF_STX | BPF_MEM | size, dst, src, off, 0);
}
bpf_insn StoreImm(uint8_t size, uint8_t dst, int16_t off, int32_t imm) {
  return Insn(BPF_ST | BPF_MEM | size, dst, 0, off, imm);
}
bpf_insn Call(int32_t helper) { return Insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
bpf_insn Exit() { return Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0); }

struct Offsets {
  int64_t task_tgid, file_inode, inode_private, file_call, call_data, meta_name, meta_nr;
};

// What the iterator writes per file: the number and name that the metadata says, read
// once taking the inode's i_private as the event call (older tracefs) and once as the
// trace_event_file that points to it (eventfs). The reader keeps the one whose name is
// the event's.
struct Sample {
  int32_t fd, nr[2];
  int32_t pad;
  char name[2][32];
};
static_assert(sizeof(Sample) == 80);
constexpr int16_t kSampleAt = -80, kReadAt = -88;

// The task_file iterator over this process's files.
std::vector<bpf_insn> IteratorProgram(const Offsets& o) {
  std::vector<bpf_insn> p;
  std::vector<size_t> pending;  // forward jumps to the current label
  auto jump_if_zero = [&](uint8_t reg) {
    pending.push_back(p.size());
    p.push_back(Insn(BPF_JMP | BPF_JEQ | BPF_K, reg, 0, 0, 0));
  };
  auto label = [&] {
    for (size_t at : pending) p[at].off = static_cast<int16_t>(p.size() - at - 1);
    pending.clear();
  };
  // r7 = *(size bytes at base + offset), 0 when unreadable.
  auto read_at = [&](uint8_t base, int64_t offset, int size) {
    p.push_back(StoreImm(BPF_DW, BPF_REG_10, kReadAt, 0));
    p.push_back(MovReg(BPF_REG_1, BPF_REG_10));
    p.push_back(AddImm(BPF_REG_1, kReadAt));
    p.push_back(MovImm(BPF_REG_2, size));
    p.push_back(MovReg(BPF_REG_3, base));
    p.push_back(AddImm(BPF_REG_3, static_cast<int32_t>(offset)));
    p.push_back(Call(BPF_FUNC_probe_read_kernel));
    p.push_back(Load(size == 4 ? BPF_W : BPF_DW, BPF_REG_7, BPF_REG_10, kReadAt));
  };
  // From an event call in r9: its metadata's number and name into the sample.
  auto metadata = [&](int which) {
    read_at(BPF_REG_9, o.call_data, 8);
    jump_if_zero(BPF_REG_7);
    p.push_back(MovReg(BPF_REG_9, BPF_REG_7));
    read_at(BPF_REG_9, o.meta_nr, 4);
    p.push_back(Store(BPF_W, BPF_REG_10, BPF_REG_7, kSampleAt + 4 + 4 * which));
    read_at(BPF_REG_9, o.meta_name, 8);
    jump_if_zero(BPF_REG_7);
    p.push_back(MovReg(BPF_REG_1, BPF_REG_10));
    p.push_back(AddImm(BPF_REG_1, kSampleAt + 16 + 32 * which));
    p.push_back(MovImm(BPF_REG_2, 32));
    p.push_back(MovReg(BPF_REG_3, BPF_REG_7));
    p.push_back(Call(BPF_FUNC_probe_read_kernel_str));
  };
  p.push_back(MovReg(BPF_REG_6, BPF_REG_1));  // ctx
  for (int16_t at = kSampleAt; at < 0; at += 8) p.push_back(StoreImm(BPF_DW, BPF_REG_10, at, 0));
  p.push_back(Load(BPF_DW, BPF_REG_8, BPF_REG_6, 24));  // ctx->file
  jump_if_zero(BPF_REG_8);
  p.push_back(Load(BPF_DW, BPF_REG_9, BPF_REG_6, 8));  // ctx->task
  jump_if_zero(BPF_REG_9);
  read_at(BPF_REG_9, o.task_tgid, 4);
  p.push_back(Call(BPF_FUNC_get_current_pid_tgid));
  p.push_back(RshImm(BPF_REG_0, 32));
  pending.push_back(p.size());
  p.push_back(Insn(BPF_JMP | BPF_JNE | BPF_X, BPF_REG_0, BPF_REG_7, 0, 0));
  read_at(BPF_REG_8, o.file_inode, 8);
  jump_if_zero(BPF_REG_7);
  read_at(BPF_REG_7, o.inode_private, 8);
  jump_if_zero(BPF_REG_7);
  p.push_back(MovReg(BPF_REG_8, BPF_REG_7));  // the event call, or its trace_event_file
  std::vector<size_t> to_out = std::move(pending);
  pending.clear();
  p.push_back(MovReg(BPF_REG_9, BPF_REG_8));
  metadata(0);
  label();
  read_at(BPF_REG_8, o.file_call, 8);
  jump_if_zero(BPF_REG_7);
  p.push_back(MovReg(BPF_REG_9, BPF_REG_7));
  metadata(1);
  label();
  p.push_back(Load(BPF_W, BPF_REG_1, BPF_REG_6, 16));  // ctx->fd
  p.push_back(Store(BPF_W, BPF_REG_10, BPF_REG_1, kSampleAt));
  p.push_back(Load(BPF_DW, BPF_REG_1, BPF_REG_6, 0));  // ctx->meta
  p.push_back(Load(BPF_DW, BPF_REG_1, BPF_REG_1, 0));  // meta->seq
  p.push_back(MovReg(BPF_REG_2, BPF_REG_10));
  p.push_back(AddImm(BPF_REG_2, kSampleAt));
  p.push_back(MovImm(BPF_REG_3, sizeof(Sample)));
  p.push_back(Call(BPF_FUNC_seq_write));
  pending = std::move(to_out);
  label();
  p.push_back(MovImm(BPF_REG_0, 0));
  p.push_back(Exit());
  return p;
}

// Runs the iterator and returns what it wrote, by fd.
bool ReadSamples(const KernelTypes& types, const Offsets& offsets, std::map<int, Sample>* out,
                 std::string* why) {
  int iter_func = types.Find(BTF_KIND_FUNC, "bpf_iter_task_file");
  if (iter_func < 0) {
    *why = "the kernel has no task_file BPF iterator";
    return false;
  }
  std::vector<bpf_insn> insns = IteratorProgram(offsets);
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_TRACE_ITER,
              .attach_btf_id = static_cast<uint32_t>(iter_func));
  Fd prog(
      bpf_prog_load(BPF_PROG_TYPE_TRACING, "btap_sysnr", "GPL", insns.data(), insns.size(), &opts));
  if (prog.get() < 0) {
    *why = std::string("cannot load the syscall-number iterator: ") + std::strerror(errno);
    return false;
  }
  Fd link(bpf_link_create(prog.get(), 0, BPF_TRACE_ITER, nullptr));
  if (link.get() < 0) {
    *why = std::string("cannot attach the syscall-number iterator: ") + std::strerror(errno);
    return false;
  }
  Fd iter(bpf_iter_create(link.get()));
  if (iter.get() < 0) {
    *why = std::string("cannot run the syscall-number iterator: ") + std::strerror(errno);
    return false;
  }
  std::string data;
  char buf[4096];
  for (;;) {
    ssize_t n = read(iter.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = std::string("cannot read the syscall-number iterator: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  for (size_t i = 0; i + sizeof(Sample) <= data.size(); i += sizeof(Sample)) {
    Sample sample;
    std::memcpy(&sample, data.data() + i, sizeof sample);
    (*out)[sample.fd] = sample;
  }
  return true;
}

// The x86-64 syscall convention: di, si, dx, r10, r8, r9.
constexpr const char* kArgRegs[] = {"di", "si", "dx", "r10", "r8", "r9"};

}  // namespace

TaskOffsets LoadTaskOffsets() {
  TaskOffsets out;
  std::unique_ptr<struct btf, BtfFree> btf(btf__load_vmlinux_btf());
  if (!btf) return out;
  KernelTypes types(btf.get());
  out.real_parent = types.Offset("task_struct", "real_parent");
  out.tgid = types.Offset("task_struct", "tgid");
  return out;
}

namespace {

// `type`'s member `name` (a struct's direct member), or null.
const btf_member* MemberNamed(const struct btf* btf, const btf_type* type, const char* name) {
  if (!type || !btf_is_struct(type)) return nullptr;
  const btf_member* m = btf_members(type);
  for (uint16_t i = 0; i < btf_vlen(type); ++i, ++m)
    if (std::string_view(btf__name_by_offset(btf, m->name_off)) == name) return m;
  return nullptr;
}

}  // namespace

bool HasTaskCompatStatus(const struct btf* btf) {
  if (!btf) return false;
  int32_t task = btf__find_by_name_kind(btf, "task_struct", BTF_KIND_STRUCT);
  if (task <= 0) return false;
  const btf_member* info =
      MemberNamed(btf, btf__type_by_id(btf, static_cast<uint32_t>(task)), "thread_info");
  int32_t info_type = info ? btf__resolve_type(btf, info->type) : -1;
  const btf_member* status =
      info_type > 0
          ? MemberNamed(btf, btf__type_by_id(btf, static_cast<uint32_t>(info_type)), "status")
          : nullptr;
  return status && btf__resolve_size(btf, status->type) == 4;
}

SyscallTable SyscallTable::Load(const TracepointCatalog& catalog, const struct btf* running_btf) {
  SyscallTable table;
  if (catalog.tracefs_root().empty()) {
    table.error_ = "tracefs is not available" +
                   (catalog.error().empty() ? std::string() : ": " + catalog.error());
    return table;
  }
  std::unique_ptr<struct btf, BtfFree> own(running_btf ? nullptr : btf__load_vmlinux_btf());
  if (!running_btf && !own) {
    table.error_ = "the kernel's BTF is not available";
    return table;
  }
  KernelTypes types(running_btf ? running_btf : own.get());
  Offsets offsets{types.Offset("task_struct", "tgid"),
                  types.Offset("file", "f_inode"),
                  types.Offset("inode", "i_private"),
                  types.Offset("trace_event_file", "event_call"),
                  types.Offset("trace_event_call", "data"),
                  types.Offset("syscall_metadata", "name"),
                  types.Offset("syscall_metadata", "syscall_nr")};
  int64_t reg_at[6];
  for (int i = 0; i < 6; ++i) reg_at[i] = types.Offset("pt_regs", kArgRegs[i]);
  int64_t orig_ax = types.Offset("pt_regs", "orig_ax");
  if (offsets.task_tgid < 0 || offsets.file_inode < 0 || offsets.inode_private < 0 ||
      offsets.file_call < 0 || offsets.call_data < 0 || offsets.meta_name < 0 ||
      offsets.meta_nr < 0 || orig_ax < 0 ||
      std::any_of(reg_at, reg_at + 6, [](int64_t v) { return v < 0; })) {
    table.error_ = "the kernel's BTF lacks the syscall metadata types";
    return table;
  }
  table.regs_.orig_ax = static_cast<uint32_t>(orig_ax);

  // One format file open per event; the iterator reads their numbers.
  std::vector<const Tracepoint*> events = catalog.Match("syscalls:sys_enter_*");
  std::vector<Fd> fds;
  std::map<int, const Tracepoint*> by_fd;
  for (const Tracepoint* tp : events) {
    std::string path =
        catalog.tracefs_root() + "/events/" + tp->system + "/" + tp->name + "/format";
    Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) continue;
    by_fd[fd.get()] = tp;
    fds.push_back(std::move(fd));
  }
  if (by_fd.empty()) {
    table.error_ = "tracefs has no syscalls:sys_enter_* events";
    return table;
  }
  std::map<int, Sample> samples;
  if (!ReadSamples(types, offsets, &samples, &table.error_)) return table;

  for (const auto& [fd, tp] : by_fd) {
    auto it = samples.find(fd);
    if (it == samples.end()) continue;
    // The metadata names the call "sys_openat" for the event "sys_enter_openat".
    std::string name = tp->name.substr(kEnterPrefix.size());
    int nr = -1;
    for (int which = 0; which < 2; ++which) {
      const Sample& s = it->second;
      if (std::string(s.name[which], strnlen(s.name[which], 32)) == "sys_" + name) nr = s.nr[which];
    }
    if (nr < 0 || nr > 4095) continue;
    Syscall call;
    call.name = name;
    call.nr = nr;
    const std::vector<TracepointArg>* fields = catalog.Args(*tp);
    if (!fields) continue;
    // The arguments, each a register (size 8), up to the first other field: kernels after
    // 6.18 append a `__data_loc char[] __NAME_val` copy of each user string argument.
    for (const TracepointArg& f : *fields) {
      if (f.name == "__syscall_nr") continue;
      if (f.size != 8 || f.is_array || f.is_dynamic || call.args.size() == 6) break;
      SyscallArg arg{f.name, f.c_type};
      types.Describe(&arg);
      arg.reg_offset = static_cast<uint32_t>(reg_at[call.args.size()]);
      call.args.push_back(std::move(arg));
    }
    table.all_.push_back(std::move(call));
  }
  if (table.all_.empty()) {
    table.error_ = "the kernel's syscall metadata gave no numbers";
    return table;
  }
  std::sort(table.all_.begin(), table.all_.end(),
            [](const Syscall& a, const Syscall& b) { return a.name < b.name; });
  for (const Syscall& s : table.all_) table.max_nr_ = std::max(table.max_nr_, s.nr);
  table.by_nr_.assign(static_cast<size_t>(table.max_nr_ + 1), -1);
  for (size_t i = 0; i < table.all_.size(); ++i)
    table.by_nr_[static_cast<size_t>(table.all_[i].nr)] = static_cast<int>(i);
  return table;
}

const Syscall* SyscallTable::ByNumber(int nr) const {
  if (nr < 0 || nr > max_nr_ || by_nr_[static_cast<size_t>(nr)] < 0) return nullptr;
  return &all_[static_cast<size_t>(by_nr_[static_cast<size_t>(nr)])];
}

const Syscall* SyscallTable::ByName(const std::string& name) const {
  auto it = std::lower_bound(all_.begin(), all_.end(), name,
                             [](const Syscall& s, const std::string& n) { return s.name < n; });
  return it != all_.end() && it->name == name ? &*it : nullptr;
}

}  // namespace btap::sema
