// Hand-written libbpf programs that the runtime benchmarks compare btap against: the
// same work written directly in BPF C (a counter, one ring-buffer record per event, a
// count by task name, a counter of one system call on the raw syscall tracepoint, and an
// array of one element per event that is printed at the end).
#include <asm/unistd.h>
#include <linux/bpf.h>
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

// What `probe syscall.getppid { n++ }` does, by hand: raw_syscalls:sys_enter's arguments
// are (regs, id).
SEC("raw_tp/sys_enter")
int count_raw(unsigned long long* ctx) {
  if (ctx[1] == __NR_getppid) __sync_fetch_and_add(&count, 1);
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
