// The user-space half of the hand-written libbpf baseline:
//   runner OBJ hello           load the object, print "hi", exit
//   runner OBJ empty CMD...    an empty handler on getppid while CMD runs
//   runner OBJ count CMD...    count getppid calls while CMD runs
//   runner OBJ stamp CMD...    store each getppid caller's time stamp by thread ID
//   runner OBJ hist CMD...     a log-scale histogram of the getppid callers' thread IDs,
//                              printed at the end
//   runner OBJ uprobe CMD...   count calls of btap_bench_call in the first word of CMD
//                              that has it
//   runner OBJ uprobe-empty CMD...  the same function with an empty handler
//   runner OBJ uprobe-tree CMD...   the count in CMD's tree of processes only (stap's -c)
//   runner OBJ printf CMD...   print one line per getppid call while CMD runs
//   runner OBJ raw CMD...      count getppid calls on raw_syscalls:sys_enter while CMD runs
//   runner OBJ raw-native CMD...  the same, native (not compat) calls only
//   runner OBJ comm-raw-native CMD...   the count by task name on raw_syscalls:sys_enter
//                                       (getppid's native calls, as raw-native)
//   runner OBJ stamp-raw-native CMD...  the time stamp by thread ID, the same way
//   runner OBJ raw-names CMD...  every system call counted by name while CMD runs
//   runner OBJ array CMD...    an element per getppid call while CMD runs, then all of them
//                              printed as `a[KEY]=VALUE`, the largest value first
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct record {
  long n;
  char comm[16];
};

static int print_record(void* ctx, void* data, size_t size) {
  const struct record* r = data;
  printf("record %ld from %s\n", r->n, r->comm);
  return 0;
}

static int by_value_down(const void* a, const void* b) {
  long x = ((const long*)a)[1], y = ((const long*)b)[1];
  return x < y ? 1 : x > y ? -1 : 0;
}

// Every element, read in batches, sorted once, written through stdio's buffer.
static void print_array(int fd) {
  size_t room = 1 << 21, n = 0;
  long* keys = malloc(room * sizeof(long));
  long* values = malloc(room * sizeof(long));
  long* pairs = malloc(2 * room * sizeof(long));
  long in = 0, out = 0;
  int first = 1;
  for (;;) {
    __u32 count = room - n;
    int rc = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys + n, values + n, &count, NULL);
    n += count;
    first = 0;
    in = out;
    if (rc || n == room) break;
  }
  for (size_t i = 0; i < n; i++) {
    pairs[2 * i] = keys[i];
    pairs[2 * i + 1] = values[i];
  }
  qsort(pairs, n, 2 * sizeof(long), by_value_down);
  for (size_t i = 0; i < n; i++) printf("a[%ld]=%ld\n", pairs[2 * i], pairs[2 * i + 1]);
  free(keys);
  free(values);
  free(pairs);
}

// The per-CPU histograms summed, one `bucket count` line a non-empty bucket.
static void print_hist(int fd) {
  int cpus = libbpf_num_possible_cpus();
  long(*per_cpu)[70] = calloc(cpus, sizeof *per_cpu);
  int zero = 0;
  if (per_cpu && bpf_map_lookup_elem(fd, &zero, per_cpu) == 0) {
    for (int b = 4; b < 70; b++) {
      long n = 0;
      for (int c = 0; c < cpus; c++) n += per_cpu[c][b];
      if (n) printf("%d %ld\n", b - 4, n);
    }
  }
  free(per_cpu);
}

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  struct bpf_object* obj = bpf_object__open(argv[1]);
  if (!obj) return 1;
  const char* mode = argv[2];
  struct bpf_program* prog;
  const char* wanted = strcmp(mode, "count") == 0            ? "count_calls"
                       : strcmp(mode, "empty") == 0            ? "empty"
                       : strcmp(mode, "stamp") == 0            ? "stamp_tid"
                       : strcmp(mode, "hist") == 0             ? "hist_log"
                       : strcmp(mode, "uprobe") == 0           ? "count_uprobe"
                       : strcmp(mode, "uprobe-empty") == 0     ? "empty_uprobe"
                       : strcmp(mode, "uprobe-tree") == 0      ? "count_uprobe_tree"
                       : strcmp(mode, "printf") == 0           ? "print_calls"
                       : strcmp(mode, "raw") == 0              ? "count_raw"
                       : strcmp(mode, "raw-native") == 0       ? "count_raw_native"
                       : strcmp(mode, "comm") == 0             ? "count_comm"
                       : strcmp(mode, "comm-raw-native") == 0  ? "count_comm_raw_native"
                       : strcmp(mode, "stamp-raw-native") == 0 ? "stamp_tid_raw_native"
                       : strcmp(mode, "raw-names") == 0        ? "count_raw_names"
                       : strcmp(mode, "array") == 0            ? "fill_array"
                                                             : "";
  bpf_object__for_each_program(prog, obj) {
    bpf_program__set_autoload(prog, strcmp(bpf_program__name(prog), wanted) == 0);
  }
  // The tree's tracker (attached below, before the command starts).
  struct bpf_program* tracker = bpf_object__find_program_by_name(obj, "track_tree");
  bool tree = strcmp(mode, "uprobe-tree") == 0;
  bpf_program__set_autoload(tracker, tree);
  // The array's 2M preallocated elements only where they are used (they take 40 ms).
  if (strcmp(mode, "array") != 0)
    bpf_map__set_max_entries(bpf_object__find_map_by_name(obj, "indexes"), 1);
  if (bpf_object__load(obj)) return 1;
  if (strcmp(mode, "hello") == 0) {
    printf("hi\n");
    bpf_object__close(obj);
    return 0;
  }
  struct bpf_link* link = NULL;
  if (tree && !bpf_program__attach(tracker)) return 1;
  bpf_object__for_each_program(prog, obj) {
    if (!bpf_program__autoload(prog) || prog == tracker) continue;
    if (strncmp(mode, "uprobe", 6) == 0) {
      // In the first word of the command that has the function (the command may be a
      // script that runs the program).
      LIBBPF_OPTS(bpf_uprobe_opts, opts, .func_name = "btap_bench_call");
      libbpf_set_print(NULL);
      for (int i = 3; i < argc && !link; i++)
        link = bpf_program__attach_uprobe_opts(prog, -1, argv[i], 0, &opts);
    } else {
      link = bpf_program__attach(prog);
    }
  }
  if (!link) return 1;
  struct ring_buffer* rb = ring_buffer__new(
      bpf_map__fd(bpf_object__find_map_by_name(obj, "records")), print_record, NULL, NULL);
  // The command waits on a pipe until its process ID is in the object's `target`.
  int gate[2];
  if (pipe(gate)) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    char go;
    close(gate[1]);
    if (read(gate[0], &go, 1) != 1) _exit(127);
    execvp(argv[3], argv + 3);
    _exit(127);
  }
  close(gate[0]);
  int zero = 0;
  long target = pid;
  if (bpf_map_update_elem(bpf_map__fd(bpf_object__find_map_by_name(obj, ".data.target")), &zero,
                          &target, BPF_ANY))
    return 1;
  if (write(gate[1], "g", 1) != 1) return 1;
  close(gate[1]);
  int status;
  while (waitpid(pid, &status, WNOHANG) == 0) ring_buffer__poll(rb, 100);
  bpf_link__destroy(link);
  if (strcmp(mode, "array") == 0) print_array(bpf_map__fd(bpf_object__find_map_by_name(obj, "indexes")));
  if (strcmp(mode, "hist") == 0)
    print_hist(bpf_map__fd(bpf_object__find_map_by_name(obj, "stats")));
  ring_buffer__consume(rb);
  fflush(stdout);
  ring_buffer__free(rb);
  bpf_object__close(obj);
  return 0;
}
