// btap's BPF runtime library, time structs: struct timespec and struct timeval as the
// syscall tapset's argument strings show them ("[1.500000000]", "[UTIME_NOW]"). Codegen
// reads the structs (lower_decode.cpp); one routine formats them, in kernel probes a
// bpf_loop callback (one function in the module), so that a call site costs a few
// instructions, not the formatting of four numbers.
#include "time_struct.h"
#include "bpflib.h"
#include "put.h"

struct time_state {
  char* dst;
  long* cell;
  unsigned long digits;  // of the fraction: 9 (timespec) or 6 (timeval)
  unsigned long size, limit;
};

static const char utime_now[] = "[UTIME_NOW]";
static const char utime_omit[] = "[UTIME_OMIT]";
static const char timespec_format[] = "[%lld.%09lld]";
static const char timeval_format[] = "[%lld.%06lld]";
static const char address_format[] = "0x%llx";

// Round `i`: struct `i`, or the address when the read faulted. 1 ends the walk.
static inline __attribute__((always_inline)) long time_step(struct time_state* st, unsigned long i,
                                                            int kernel) {
  long* cell = st->cell;
  unsigned long size = st->size, limit = st->limit;
  long pos = cell[TIME_POS];
  if (cell[TIME_COUNT] == 0) {
    cell[TIME_POS] = kernel
                         ? put_format(st->dst, pos, address_format, cell[TIME_ADDR], 0, size, limit)
                         : put_hex(st->dst, pos, (unsigned long)cell[TIME_ADDR], size, limit);
    return 1;
  }
  unsigned long at = TIME_SEC0 + 2 * (i & 1);
  long sec = cell[at], frac = cell[at + 1];
  // utimensat's special values, which a timeval does not have.
  if (st->digits == 9 && frac == 0x3fffffff) {
    pos = write_at(st->dst, pos, utime_now, sizeof(utime_now) - 1, 16, size, limit);
  } else if (st->digits == 9 && frac == 0x3ffffffe) {
    pos = write_at(st->dst, pos, utime_omit, sizeof(utime_omit) - 1, 16, size, limit);
  } else if (kernel) {
    pos = put_format(st->dst, pos, st->digits == 9 ? timespec_format : timeval_format, sec, frac,
                     size, limit);
  } else {
    pos = put(st->dst, pos, '[', size, limit);
    pos = put_dec(st->dst, pos, sec, 0, size, limit);
    pos = put(st->dst, pos, '.', size, limit);
    pos = put_dec(st->dst, pos, frac, (long)st->digits, size, limit);
    pos = put(st->dst, pos, ']', size, limit);
  }
  cell[TIME_POS] = pos;
  return 0;
}

// The structs in `cell` (TIME_CELLS longs) into `dst`, fractions of `digits` digits. The
// interpreter runs the plain loop.
BTAP_LIB long btap_struct_time(char* dst, long* cell, unsigned long digits, unsigned long size,
                               unsigned long limit) {
  struct time_state st = {dst, cell, digits, size, limit};
  cell[TIME_POS] = 0;
  unsigned long rounds = cell[TIME_COUNT] == 2 ? 2 : 1;
#pragma clang loop unroll(disable)
  for (unsigned long i = 0; i < 2; i++)
    if (i >= rounds || time_step(&st, i, 0)) break;
  return finish(dst, cell[TIME_POS], size, limit);
}

// btap_struct_time in the kernel: one bpf_loop round per struct, verified once per call.
BTAP_CALLBACK long btap_cb_struct_time(unsigned long i, void* ctx) { return time_step(ctx, i, 1); }

BTAP_LIB long btap_struct_time_loop(char* dst, long* cell, unsigned long digits, unsigned long size,
                                    unsigned long limit) {
  struct time_state st = {dst, cell, digits, size, limit};
  cell[TIME_POS] = 0;
  bpf_loop(cell[TIME_COUNT] == 2 ? 2 : 1, btap_cb_struct_time, &st, 0);
  return finish(dst, cell[TIME_POS], size, limit);
}
