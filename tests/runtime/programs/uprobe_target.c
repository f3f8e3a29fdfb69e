/* The program btap's runtime tests probe: typed parameters and returns, a call tree,
 * recursion, an inlined function, a shared-library call and SDT probes (README.md lists
 * every call and value). `uprobe_target MODE [N]`, MODE one of calls, tree, fact, spin,
 * sdt, lib, cold, label, all; N rounds (default 1). It prints nothing and exits 0; a value that
 * differs from README.md is reported on standard error with exit 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

#include "btaptest.h"

/* Every probed function is a real call with its parameters live on entry, but its body
 * is optimised normally (so -O2 gives location lists). GCC's noipa also stops
 * constant-propagated clones (add_point.constprop.0); clang has no such pass for
 * functions with external linkage, which is why none of these is static. */
#if defined(__has_attribute)
#if __has_attribute(noipa)
#define PROBED __attribute__((noinline, noipa))
#endif
#endif
#ifndef PROBED
#define PROBED __attribute__((noinline))
#endif

enum shape { SHAPE_NONE = 0, SHAPE_CIRCLE = 1, SHAPE_SQUARE = 4 };

union number {
  int i;
  unsigned char bytes[4];
};

struct record {
  int id;
  struct point origin;  /* nested struct */
  struct point* target; /* pointer to struct */
  char name[16];
  int values[4];
  unsigned flag : 1;
  int level : 5; /* signed: set_record stores -3 */
  unsigned kind : 3;
  enum shape shape;
  union number num;
};

int btap_global = 100;       /* add_point adds 1 */
static long file_static = 7; /* set_record adds 3 */
int btap_last_scaled = 0;    /* what the inlined scale() computed last */
struct point btap_points[3] = {{10, 20}, {30, 40}, {50, 60}};

static const char* const tick_names[3] = {"zero", "one", "two"};

/* --- calls: typed parameters and return values */

PROBED int add_point(int a, long b, const char* s, struct point* p) {
  btap_global++;
  return a + p->x + p->y + (int)strlen(s) + (int)(b / 1000000000L);
}

PROBED long point_area(struct point p) { return (long)p.x * p.y; }

PROBED struct point* pick_point(int i) { return &btap_points[i]; }

PROBED int negate_sum(int a, int b) { return -(a + b); }

PROBED void set_record(struct record* r, int level) {
  r->level = level;
  file_static += 3;
}

PROBED int inspect_record(const struct record* r) {
  int sum = r->id + r->origin.x + r->origin.y + r->target->x + r->target->y;
  for (int i = 0; i < 4; i++) sum += r->values[i];
  sum += r->flag + r->level + r->kind + (int)r->shape + r->num.bytes[0];
  return sum + (int)strlen(r->name);
}

/* Always inlined, even at -O0: the target of .inline probes. The store to a global keeps
 * an instruction of its own inside apply_scale at -O2. */
static inline __attribute__((always_inline)) int scale(int v, int factor) {
  int scaled = v * factor;
  btap_last_scaled = scaled;
  return scaled + 1;
}

PROBED int apply_scale(int v) { return scale(v, 3) + 1; }

/* --- tree: main -> outer -> middle -> inner (twice); no call is a tail call */

PROBED int inner(int n) { return n + 100; }

PROBED int middle(int n) {
  int a = inner(2 * n);
  int b = inner(2 * n + 1);
  return a + b;
}

PROBED int outer(int n) { return middle(n + 1) + 1; }

/* --- fact: real recursion; the barrier stops GCC and LLVM turning n * fact(n - 1) into
 * a loop with an accumulator. */

/* A body that starts with a loop: at -O0 the entry probe's address (the second line-table
 * row) can be the loop's head, passed once per iteration. */
PROBED int spin(int n) {
  for (;;) {
    if (n-- <= 0) break;
  }
  return n;
}

PROBED long fact(int n) {
  if (n <= 1) return 1;
  long r = fact(n - 1);
  __asm__ volatile("" ::: "memory");
  return n * r;
}

/* --- checking: a macro, so that checking adds no function calls of its own, and a
 * failure handler that is never inlined, so that scale() stays the only inlined function
 * (strtol rather than atol for the same reason: glibc's atol is an inline wrapper). */

static int failures;

static __attribute__((noinline)) void fail(const char* what, long got, long want) {
  fprintf(stderr, "uprobe_target: %s is %ld, expected %ld\n", what, got, want);
  failures++;
}

#define EXPECT(expr, want)                               \
  do {                                                   \
    long got_ = (long)(expr);                            \
    if (got_ != (long)(want)) fail(#expr, got_, (want)); \
  } while (0)

/* --- the modes that make more than one call */

PROBED void run_calls(void) {
  struct point p = {1, 2};
  EXPECT(add_point(3, -7000000000L, "hello", &p), 4);
  struct point q = {6, 7};
  EXPECT(point_area(q), 42);
  EXPECT(pick_point(1)->x, 30);
  EXPECT(negate_sum(20, 22), -42);
  struct record rec = {
      .id = 7,
      .origin = {11, 22},
      .target = &btap_points[2],
      .name = "record-one",
      .values = {10, -20, 30, -40},
      .flag = 1,
      .level = 9,
      .kind = 5,
      .shape = SHAPE_SQUARE,
      .num = {.i = 0x01020304},
  };
  set_record(&rec, -3);
  EXPECT(inspect_record(&rec), 151);
  EXPECT(apply_scale(4), 14);
  EXPECT(btap_last_scaled, 12);
}

PROBED void run_sdt(void) {
  struct point pt = {7, 8};
  int neg = -5;
  long big = 5000000000L;
  STAP_PROBE(btap_test, start);
  for (int i = 0; i < 3; i++) STAP_PROBE2(btap_test, tick, i, tick_names[i]);
  STAP_PROBE3(btap_test, mixed, neg, big, &pt);
}

PROBED void run_lib(void) {
  struct point lp = {4, 5};
  EXPECT(btap_lib_add(2, 3), 5);
  EXPECT(btap_lib_point_sum(&lp), 9);
}

#include <sys/mman.h>
#include <unistd.h>

/* `label` points into a page the program has mapped but never touched. `kind` says
 * which call it is: 1 a string there, 2 an address where nothing is mapped. */
PROBED int cold_label(const char* label, int kind) { return kind + (label != NULL); }

PROBED void run_cold(void) {
  static const char text[] = "cold-label";
  int fd = memfd_create("btap-cold", MFD_CLOEXEC);
  if (fd < 0 || write(fd, text, sizeof text) != (ssize_t)sizeof text) {
    perror("uprobe_target: memfd");
    exit(1);
  }
  /* Written through the descriptor: the page is in the page cache, not in this mapping. */
  const char* page = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  if (page == MAP_FAILED) {
    perror("uprobe_target: mmap");
    exit(1);
  }
  EXPECT(cold_label(page, 1), 2);
  EXPECT(strcmp(page, text), 0);
  EXPECT(cold_label((const char*)16, 2), 3);
  munmap((void*)page, 4096);
  close(fd);
}

/* --- label: C labels, where `.label` probes go */

PROBED int count_down(int n) {
  int steps = 0;
again:
  if (n <= 0) goto done;
  n--;
  steps++;
  goto again;
done:
  return steps;
}

/* A same-file inline function defined below its caller: its lines are not the caller's. */
static inline __attribute__((always_inline)) int twice(int v);

PROBED int use_twice(int v) {
  int t = twice(v);
  return t + 1;
}

static inline __attribute__((always_inline)) int twice(int v) {
  btap_last_scaled = v;
  return 2 * v;
}

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: uprobe_target calls|tree|fact|spin|sdt|lib|cold|label|all [N]\n");
    return 2;
  }
  const char* mode = argv[1];
  long n = argc == 3 ? strtol(argv[2], NULL, 10) : 1;
  int all = strcmp(mode, "all") == 0, known = 0;
/* A macro, not a helper, so -O0 and -O2 have the same functions and calls. */
#define is_mode(name) (all || strcmp(mode, name) == 0)
  if (is_mode("calls")) {
    known = 1;
    for (long i = 0; i < n; i++) run_calls();
    EXPECT(btap_global, 100 + n);
    EXPECT(file_static, 7 + 3 * n);
  }
  if (is_mode("tree")) {
    known = 1;
    for (long i = 0; i < n; i++) EXPECT(outer(1), 210);
  }
  if (is_mode("fact")) {
    known = 1;
    for (long i = 0; i < n; i++) EXPECT(fact(5), 120);
  }
  if (is_mode("spin")) {
    known = 1;
    for (long i = 0; i < n; i++) EXPECT(spin(3), -1);
  }
  if (is_mode("sdt")) {
    known = 1;
    for (long i = 0; i < n; i++) run_sdt();
  }
  if (strcmp(mode, "cold") == 0) { /* not in `all`: its second call faults in probes */
    known = 1;
    for (long i = 0; i < n; i++) run_cold();
  }
  if (strcmp(mode, "label") == 0) { /* not in `all` */
    known = 1;
    for (long i = 0; i < n; i++) EXPECT(count_down(3), 3);
    for (long i = 0; i < n; i++) EXPECT(use_twice(4), 9);
  }
  if (is_mode("lib")) {
    /* getpid's address is taken, so the linker binds it by GLOB_DAT and the direct call
     * below goes through a .plt.got stub (what process.plt("getpid") probes). */
    pid_t (*volatile get_pid)(void) = getpid;
    known = 1;
    for (long i = 0; i < n; i++) run_lib();
    EXPECT(btap_lib_calls, n);
    pid_t self = getpid();
    EXPECT(get_pid(), self);
  }
  if (!known) {
    fprintf(stderr, "uprobe_target: unknown mode '%s'\n", mode);
    return 2;
  }
  return failures ? 1 : 0;
}
