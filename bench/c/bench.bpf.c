// Hand-written libbpf programs that the runtime benchmarks compare btap against: the
// same work written directly in BPF C (an empty handler, a counter, one ring-buffer record
// per event, a count by task name, a time stamp stored by thread, a log-scale histogram, a
// counter of one system call on the raw syscall tracepoint, the count by name and time
// stamp there too, every system call counted by name, a counter on a user function (of
// every process, and of the -c target's tree of processes only), and an array of one
// element per event that is printed at the end).
#include <asm/unistd.h>
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} records SEC(".maps");

long count = 0;
// The traced command's process ID, set by the runner once it has started the command (the
// printf row filters as btap's `pid() == target()` and bpftrace's `/pid == cpid/` do),
// in a data section of its own, which libbpf loads as a map of its own.
long target SEC(".data.target") = 0;

struct record {
  long n;
  char comm[16];
};

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_calls(void* ctx) {
  __sync_fetch_and_add(&count, 1);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int print_calls(void* ctx) {
  if ((long)(bpf_get_current_pid_tgid() >> 32) != target) return 0;
  struct record r;
  r.n = __sync_fetch_and_add(&count, 1) + 1;
  bpf_get_current_comm(r.comm, sizeof r.comm);
  bpf_ringbuf_output(&records, &r, sizeof r, 0);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int empty(void* ctx) { return 0; }

// What `c[execname()]++` does, by hand: a hash map keyed by the task's name.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, char[16]);
  __type(value, long);
} by_comm SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_comm(void* ctx) {
  char comm[16] = {};
  bpf_get_current_comm(comm, sizeof comm);
  long* n = bpf_map_lookup_elem(&by_comm, comm);
  if (n) {
    __sync_fetch_and_add(n, 1);
  } else {
    long one = 1;
    bpf_map_update_elem(&by_comm, comm, &one, BPF_NOEXIST);
  }
  return 0;
}

// What `t[tid()] = local_clock_ns()` does, by hand: a hash map from the thread ID to the
// monotonic clock (the usual start-time map of a latency tool).
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 10240);
  __type(key, __u32);
  __type(value, __u64);
} start SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int stamp_tid(void* ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
  return 0;
}

// What `s <<< tid()` does for `@hist_log(s)`, by hand: a per-CPU statistic (count, sum,
// minimum, maximum, which `<<<` keeps) and its power-of-two buckets (bucket 0 for 0,
// bucket 1 + log2(x) for x > 0; the value is a thread ID, never negative).
struct stat {
  long count, sum, min, max;
  long buckets[66];
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct stat);
} stats SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int hist_log(void* ctx) {
  long x = (__u32)bpf_get_current_pid_tgid();
  __u32 zero = 0;
  struct stat* s = bpf_map_lookup_elem(&stats, &zero);
  if (!s) return 0;
  if (s->count == 0 || x < s->min) s->min = x;
  if (s->count == 0 || x > s->max) s->max = x;
  s->count++;
  s->sum += x;
  unsigned long v = x;
  int slot = 0;
  if (v) {
    slot = 1;
    if (v >> 32) {
      slot += 32;
      v >>= 32;
    }
    if (v >> 16) {
      slot += 16;
      v >>= 16;
    }
    if (v >> 8) {
      slot += 8;
      v >>= 8;
    }
    if (v >> 4) {
      slot += 4;
      v >>= 4;
    }
    if (v >> 2) {
      slot += 2;
      v >>= 2;
    }
    if (v >> 1) slot += 1;
  }
  if (slot < 66) s->buckets[slot]++;
  return 0;
}

// What `probe process(PATH).function(F) { n++ }` does, by hand: the runner attaches it to
// the command's function btap_bench_call.
SEC("uprobe")
int count_uprobe(void* ctx) {
  __sync_fetch_and_add(&count, 1);
  return 0;
}

// What `probe process(PATH).function(F) { n++ }` does under `-c CMD`, by hand: stap counts
// only the calls in the target's tree of processes (the target and what it and its
// descendants start), so the handler tests the caller's process ID against the target
// and, for another process, its bit in a map of a bit per process ID that a program on
// sched_process_fork sets (the runner's `uprobe-tree` mode attaches both).
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, (4 << 20) / 64);  // PID_MAX_LIMIT's ids, 64 to a word
  __type(key, unsigned);
  __type(value, unsigned long long);
} tree SEC(".maps");

struct task_struct {
  int tgid;
} __attribute__((preserve_access_index));

SEC("raw_tp/sched_process_fork")
int track_tree(unsigned long long* ctx) {
  if (!target) return 0;
  long creator = bpf_get_current_pid_tgid() >> 32;
  if (creator != target) {
    unsigned word = creator >> 6;
    unsigned long long* bits = bpf_map_lookup_elem(&tree, &word);
    if (!bits || !(*bits >> (creator & 63) & 1)) return 0;
  }
  long child = BPF_CORE_READ((struct task_struct*)ctx[1], tgid);
  if (child == creator) return 0;  // a thread
  unsigned word = child >> 6;
  unsigned long long* bits = bpf_map_lookup_elem(&tree, &word);
  if (bits) __sync_fetch_and_or(bits, 1ULL << (child & 63));
  return 0;
}

SEC("uprobe")
int count_uprobe_tree(void* ctx) {
  long pid = bpf_get_current_pid_tgid() >> 32;
  if (pid != target) {
    unsigned word = pid >> 6;
    unsigned long long* bits = bpf_map_lookup_elem(&tree, &word);
    if (!bits || !(*bits >> (pid & 63) & 1)) return 0;
  }
  __sync_fetch_and_add(&count, 1);
  return 0;
}

// What `probe process(PATH).function(F) { }` does, by hand.
SEC("uprobe")
int empty_uprobe(void* ctx) {
  return 0;
}

// What `probe syscall.getppid { n++ }` does, by hand: raw_syscalls:sys_enter's arguments
// are (regs, id).
SEC("raw_tp/sys_enter")
int count_raw(unsigned long long* ctx) {
  if (ctx[1] == __NR_getppid) __sync_fetch_and_add(&count, 1);
  return 0;
}

// What btap makes of `kernel.trace("syscalls:sys_enter_getppid") { n++ }`, by hand: the
// point on raw_syscalls:sys_enter (where every syscalls:* point of a script is dispatched
// by number), skipping compat (ia32) calls as the syscalls:* events do, by the current
// task's TS_COMPAT bit (x86). A syscalls:* tracepoint program (count_calls) has both tests
// made by the kernel, outside its run time.
struct thread_info {
  unsigned status;
} __attribute__((preserve_access_index));

struct task_struct___native {
  struct thread_info thread_info;
} __attribute__((preserve_access_index));

SEC("raw_tp/sys_enter")
int count_raw_native(unsigned long long* ctx) {
  if (ctx[1] != __NR_getppid) return 0;
  struct task_struct___native* task = (void*)bpf_get_current_task_btf();
  if (task->thread_info.status & 2) return 0;  // TS_COMPAT
  __sync_fetch_and_add(&count, 1);
  return 0;
}

// count_comm and stamp_tid on btap's hook: the same dispatch as count_raw_native (the
// number, then the native call's test), then the same work. (btap's count by name and time
// stamp on syscalls:* points run there; a syscalls:* tracepoint program has the kernel make
// both tests and build the event's record outside its run time.)
static __always_inline int native_getppid(unsigned long long* ctx) {
  if (ctx[1] != __NR_getppid) return 0;
  struct task_struct___native* task = (void*)bpf_get_current_task_btf();
  return !(task->thread_info.status & 2);  // TS_COMPAT
}

SEC("raw_tp/sys_enter")
int count_comm_raw_native(unsigned long long* ctx) {
  if (!native_getppid(ctx)) return 0;
  char comm[16] = {};
  bpf_get_current_comm(comm, sizeof comm);
  long* n = bpf_map_lookup_elem(&by_comm, comm);
  if (n) {
    __sync_fetch_and_add(n, 1);
  } else {
    long one = 1;
    bpf_map_update_elem(&by_comm, comm, &one, BPF_NOEXIST);
  }
  return 0;
}

SEC("raw_tp/sys_enter")
int stamp_tid_raw_native(unsigned long long* ctx) {
  if (!native_getppid(ctx)) return 0;
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u64 now = bpf_ktime_get_ns();
  bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
  return 0;
}

// What `probe syscall.* { calls[name]++ }` does, by hand: every native system call of the
// machine counted by its name, a hash map keyed by the name's 24 bytes (as wide as btap's
// key for the syscall tapset's names). The names by number are generated from the
// machine's <asm/unistd_64.h> (`syscall_names.h`, written by runtime_bench.sh) into a
// read-only table that the map helpers read the key from.
static const char syscall_names[][24] = {
#include "syscall_names.h"
};
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, char[24]);
  __type(value, long);
} by_name SEC(".maps");

SEC("raw_tp/sys_enter")
int count_raw_names(unsigned long long* ctx) {
  unsigned long nr = ctx[1];
  if (nr >= sizeof syscall_names / sizeof syscall_names[0]) return 0;
  const char* name = syscall_names[nr];
  if (!name[0]) return 0;  // a number without a call
  struct task_struct___native* task = (void*)bpf_get_current_task_btf();
  if (task->thread_info.status & 2) return 0;  // TS_COMPAT: an i386 number
  long* n = bpf_map_lookup_elem(&by_name, name);
  if (n) {
    __sync_fetch_and_add(n, 1);
  } else {
    long one = 1;
    bpf_map_update_elem(&by_name, name, &one, BPF_NOEXIST);
  }
  return 0;
}

// What `global a[N]; ... { a[i] = i; i++ }` does, by hand: one hash-map element per call,
// keyed and valued by its index; the runner prints them all at the end.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1 << 21);
  __type(key, long);
  __type(value, long);
} indexes SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_getppid")
int fill_array(void* ctx) {
  long i = __sync_fetch_and_add(&count, 1);
  bpf_map_update_elem(&indexes, &i, &i, BPF_ANY);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
