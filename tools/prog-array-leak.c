// Shows a Linux defect that keeps BPF program arrays in the kernel for good (seen on 6.18;
// the code is the same from 5.x to today's mainline). When the last user descriptor of a
// program array closes, the kernel takes a reference on the map and queues a work item
// that empties the array and drops that reference (kernel/bpf/arraymap.c,
// prog_array_map_clear). If another descriptor is opened by id and closed again before
// that work has run, the second release takes a second reference, but queueing the work
// that is already pending does nothing (schedule_work's false result is not checked): one
// reference is never dropped, and the emptied array stays, held by nothing, until reboot.
// No BPF program is needed: a session's program array only has to be opened by id
// (`bpftool map show` opens every map of the machine) in the moment after its owner
// closed it.
//
// To make "before that work has run" certain, this runs pinned to one CPU at SCHED_FIFO
// between the closes (that CPU's kworker, which runs the work, cannot run until this
// process sleeps); `--no-fifo` leaves it to the scheduler; `--no-reopen` (the control)
// does the same without opening the array by id. As root:
//   cc -O2 -Wall -o /tmp/prog-array-leak tools/prog-array-leak.c -lbpf
//   /tmp/prog-array-leak [ROUNDS] [--no-fifo] [--no-reopen]
// Each round that reproduces the defect leaves one 4-entry program array named
// `leak_demo` in the kernel until reboot; the exit status is 1 when any did.
#define _GNU_SOURCE
#include <bpf/bpf.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

// Whether the kernel has a map with this id (BPF_MAP_GET_NEXT_ID takes no reference).
static int Exists(__u32 id) {
  __u32 next = 0;
  return bpf_map_get_next_id(id - 1, &next) == 0 && next == id;
}

static void SleepMs(long ms) {
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&t, NULL);
}

int main(int argc, char** argv) {
  int rounds = 1, fifo = 1, reopen = 1;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--no-fifo") == 0)
      fifo = 0;
    else if (strcmp(argv[i], "--no-reopen") == 0)
      reopen = 0;
    else
      rounds = atoi(argv[i]);
  }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(sched_getcpu(), &one);
  if (fifo && sched_setaffinity(0, sizeof one, &one) != 0) {
    perror("sched_setaffinity");
    return 2;
  }
  int leaked = 0;
  for (int r = 0; r < rounds; ++r) {
    int fd = bpf_map_create(BPF_MAP_TYPE_PROG_ARRAY, "leak_demo", 4, 4, 4, NULL);
    if (fd < 0) {
      fprintf(stderr, "bpf_map_create: %s\n", strerror(errno));
      return 2;
    }
    struct bpf_map_info info;
    __u32 size = sizeof info;
    memset(&info, 0, sizeof info);
    if (bpf_obj_get_info_by_fd(fd, &info, &size) != 0) {
      fprintf(stderr, "bpf_obj_get_info_by_fd: %s\n", strerror(errno));
      return 2;
    }
    struct sched_param high = {.sched_priority = 1}, normal = {.sched_priority = 0};
    if (fifo && sched_setscheduler(0, SCHED_FIFO, &high) != 0) {
      perror("sched_setscheduler");
      return 2;
    }
    close(fd);  // the last user descriptor: the emptying work is queued on this CPU
    int again = reopen ? bpf_map_get_fd_by_id(info.id) : 0;  // as bpftool does for every map
    if (reopen && again >= 0) close(again);  // the last user descriptor again: a second reference
    if (fifo) sched_setscheduler(0, SCHED_OTHER, &normal);
    int gone = 0;
    for (int wait = 0; wait < 100 && !gone; ++wait) {
      SleepMs(20);
      gone = !Exists(info.id);
    }
    printf("round %d: program array %u %s\n", r + 1, info.id,
           again < 0 ? "was not found by id (not reproduced)"
           : gone    ? "is gone (not reproduced)"
                     : "is still in the kernel, held by nothing");
    leaked += !gone;
  }
  printf("%d of %d program arrays left in the kernel\n", leaked, rounds);
  return leaked ? 1 : 0;
}
