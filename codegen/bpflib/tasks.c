// btap's BPF runtime library, task part: finding a task by its id (pid2task()), by walking
// the kernel's list of processes and each one's threads with a bpf_loop (the pid lookup
// kfunc is newer than some kernels btap runs on). The offsets of the members walked come
// from the caller, as CO-RE relocations.
#include "bpflib.h"

// The most threads a search visits (bpf_loop allows 1 << 23 rounds).
#define BTAP_MAX_TASKS (1 << 20)

struct find_task_state {
  unsigned long start;   // the process the walk started at: back there, all were seen
  unsigned long leader;  // the process whose threads are walked
  unsigned long head;    // its signal->thread_head
  unsigned long node;    // the thread_node of the thread at hand
  long tid;
  const long* offsets;  // task_struct's tasks, pid, signal, thread_node; signal_struct's thread_head
  unsigned long found;
};

static inline __attribute__((always_inline)) unsigned long read_pointer(unsigned long at) {
  unsigned long value = 0;
  bpf_probe_read_kernel(&value, sizeof value, (const void*)at);
  return value;
}

// Points the walk at `leader`'s threads.
static inline __attribute__((always_inline)) int enter(struct find_task_state* st,
                                                       unsigned long leader) {
  unsigned long signal = read_pointer(leader + st->offsets[2]);
  if (!signal) return 0;
  st->leader = leader;
  st->head = signal + st->offsets[4];
  st->node = read_pointer(st->head);
  return st->node != 0;
}

BTAP_CALLBACK long btap_cb_find_task(unsigned long i, void* ctx) {
  struct find_task_state* st = ctx;
  if (st->node == st->head) {  // this process's threads are done: the next process
    unsigned long next = read_pointer(st->leader + st->offsets[0]);
    if (!next) return 1;
    next -= (unsigned long)st->offsets[0];
    if (next == st->start || !enter(st, next)) return 1;
    return 0;
  }
  unsigned long task = st->node - (unsigned long)st->offsets[3];
  int tid = 0;
  if (bpf_probe_read_kernel(&tid, sizeof tid, (const void*)(task + st->offsets[1])) != 0) return 1;
  if (tid == st->tid) {
    st->found = task;
    return 1;
  }
  st->node = read_pointer(st->node);
  return st->node == 0;
}

// The task_struct of thread `tid` (a process's id is its main thread's), or 0 when no
// thread has that id. `leader` is a process to start at; `offsets` (5 longs, see
// find_task_state) are the members' offsets in this kernel.
BTAP_LIB long btap_find_task(unsigned long leader, long tid, const long* offsets) {
  if (!leader || tid <= 0) return 0;
  struct find_task_state st = {leader, 0, 0, 0, tid, offsets, 0};
  if (!enter(&st, leader)) return 0;
  bpf_loop(BTAP_MAX_TASKS, btap_cb_find_task, &st, 0);
  return (long)st.found;
}
