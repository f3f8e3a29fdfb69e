// linger [-s FILE] CMD...: runs CMD, then waits 2 s before it exits with CMD's status. The
// kernel accounting rows of runtime_bench.sh run their workload under it, so that a tool's
// programs are still loaded, at their final counts, when the figures are read. With -s
// (as root, kernel.bpf_stats_enabled on), it reads every BPF program's run time and run
// count just before CMD starts and just after it ends, and writes to FILE a line "ID NS
// RUNS" per program loaded at both times: what each program spent while CMD ran, not
// counting the tool's start or the 2 s after (the bench reads its per-call figure there).
// (A program rather than a script: bpftrace's -c runs only executables it can read.)
#include <linux/bpf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct stat_row {
  __u32 id;
  __u64 ns, runs;
};

// Every program's figures (as bench/bpf_progs.py reads them: no map is opened); *count
// of them. NULL when out of memory.
static struct stat_row* snapshot(size_t* count) {
  size_t n = 0, cap = 256;
  struct stat_row* rows = malloc(cap * sizeof *rows);
  __u32 id = 0;
  while (rows) {
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.start_id = id;
    if (syscall(SYS_bpf, BPF_PROG_GET_NEXT_ID, &attr, sizeof attr) != 0) break;
    id = attr.next_id;
    memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    int fd = syscall(SYS_bpf, BPF_PROG_GET_FD_BY_ID, &attr, sizeof attr);
    if (fd < 0) continue;  // gone since
    struct bpf_prog_info info;
    memset(&info, 0, sizeof info);
    memset(&attr, 0, sizeof attr);
    attr.info.bpf_fd = fd;
    attr.info.info_len = sizeof info;
    attr.info.info = (__u64)(unsigned long)&info;
    int ret = syscall(SYS_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof attr);
    close(fd);
    if (ret != 0) continue;
    if (n == cap) {
      struct stat_row* more = realloc(rows, 2 * cap * sizeof *rows);
      if (!more) {
        free(rows);
        return NULL;
      }
      rows = more;
      cap *= 2;
    }
    rows[n++] = (struct stat_row){id, info.run_time_ns, info.run_cnt};
  }
  *count = n;
  return rows;
}

int main(int argc, char** argv) {
  const char* stats = NULL;
  if (argc > 2 && strcmp(argv[1], "-s") == 0) {
    stats = argv[2];
    argv += 2;
    argc -= 2;
  }
  if (argc < 2) return 2;
  size_t n_before = 0, n_after = 0;
  struct stat_row* before = stats ? snapshot(&n_before) : NULL;
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
  struct stat_row* after = before ? snapshot(&n_after) : NULL;
  FILE* out = after ? fopen(stats, "w") : NULL;
  if (out) {
    // Both lists are in ID order.
    for (size_t i = 0, j = 0; i < n_before && j < n_after;) {
      if (before[i].id < after[j].id) {
        i++;
      } else if (before[i].id > after[j].id) {
        j++;
      } else {
        fprintf(out, "%u %llu %llu\n", after[j].id,
                (unsigned long long)(after[j].ns - before[i].ns),
                (unsigned long long)(after[j].runs - before[i].runs));
        i++;
        j++;
      }
    }
    fclose(out);
  }
  free(before);
  free(after);
  sleep(2);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
