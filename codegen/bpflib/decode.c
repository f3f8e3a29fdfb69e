// btap's BPF runtime library, decoders: a number as the names a table gives it, the way
// the syscall tapset's argument strings show flags ("O_CREAT|O_EXCL|0x8") and values
// ("PF_INET"). One routine serves every table; codegen (lower_decode.cpp) puts the tables
// in .rodata, so a decoder costs each call site a few instructions, not a chain of tests.
#include "decode.h"
#include "put.h"

// What a round needs: cells (per-CPU scratch, DECODE_CELLS longs) hold what changes and
// the number; the pointers stay on the caller's stack, where the verifier keeps their kind.
struct decode_state {
  char* dst;
  const unsigned char* table;
  long* cell;
  unsigned long size, limit;
};

// Round `i`: entry `i` of the table when it applies, then, in the round after the last
// entry, what is left over. 1 ends the walk.
static inline __attribute__((always_inline)) long decode_step(struct decode_state* st,
                                                              unsigned long i) {
  const struct decode_head* head = (const void*)st->table;
  long* cell = st->cell;
  unsigned long count = head->count, mode = head->mode, value = (unsigned long)cell[DECODE_VALUE];
  unsigned long size = st->size, limit = st->limit;
  long pos = cell[DECODE_POS];
  if (i < count) {
    const struct decode_entry* e =
        (const void*)(st->table + sizeof(struct decode_head) +
                      sizeof(struct decode_entry) * btap_masked((long)i, head->room));
    unsigned long key = e->value;
    if (mode & DECODE_EQUAL ? value != key : !(value & key)) return 0;
    if (pos > 0) pos = put(st->dst, pos, '|', size, limit);
    cell[DECODE_POS] = write_at(st->dst, pos, e->name, e->len, DECODE_NAME, size, limit);
    return mode & DECODE_EQUAL;  // a value has one name
  }
  // Then the number (a value without a name) or the bits left over, in hexadecimal.
  unsigned long rest = mode & DECODE_EQUAL ? value : value & ~head->known;
  long hex = mode & DECODE_EQUAL ? pos == 0 && (mode & DECODE_HEX)
                                 : rest || (pos == 0 && (mode & DECODE_ZERO));
  if (hex) {
    if (pos > 0) pos = put(st->dst, pos, '|', size, limit);
    cell[DECODE_POS] = put_hex(st->dst, pos, rest, size, limit);
  }
  return 1;
}

static inline __attribute__((always_inline)) void decode_begin(struct decode_state* st,
                                                               unsigned long value) {
  st->cell[DECODE_POS] = 0;
  st->cell[DECODE_VALUE] = (long)value;
}

// `value` by `table` into `dst`; `cell` holds DECODE_CELLS longs. The interpreter runs
// the plain loop (not unrolled: one copy of a round, whatever the table's length).
BTAP_LIB long btap_decode(char* dst, unsigned long value, const unsigned char* table, long* cell,
                          unsigned long size, unsigned long limit) {
  struct decode_state st = {dst, table, cell, size, limit};
  decode_begin(&st, value);
  const struct decode_head* head = (const void*)table;
  unsigned long rounds = head->count + 1;
#pragma clang loop unroll(disable)
  for (unsigned long i = 0; i <= DECODE_MAX; i++)
    if (i >= rounds || decode_step(&st, i)) break;
  return finish(dst, cell[DECODE_POS], size, limit);
}

// btap_decode in the kernel: one bpf_loop round per entry, verified once per call.
BTAP_CALLBACK long btap_cb_decode(unsigned long i, void* ctx) { return decode_step(ctx, i); }

BTAP_LIB long btap_decode_loop(char* dst, unsigned long value, const unsigned char* table,
                               long* cell, unsigned long size, unsigned long limit) {
  struct decode_state st = {dst, table, cell, size, limit};
  decode_begin(&st, value);
  const struct decode_head* head = (const void*)table;
  bpf_loop(head->count + 1, btap_cb_decode, &st, 0);
  return finish(dst, cell[DECODE_POS], size, limit);
}
