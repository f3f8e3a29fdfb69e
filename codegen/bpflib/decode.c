// btap's BPF runtime library, decoders: a number as the names a table gives it, the way
// the syscall tapset's argument strings show flags ("O_CREAT|O_EXCL|0x8") and values
// ("PF_INET"). One routine serves every table; codegen (lower_decode.cpp) puts the tables
// in .rodata, so a decoder costs each call site a few instructions, not a chain of tests.
#include "decode.h"
#include "put.h"

static const char decimal[] = "%lld";
static const char hexadecimal[] = "0x%llx";

// What a round needs: cells (per-CPU scratch, DECODE_CELLS longs) hold what changes and
// the number; the pointers stay on the caller's stack, where the verifier keeps their kind.
struct decode_state {
  char* dst;
  const unsigned char* table;
  long* cell;
  unsigned long size, limit;
};

// One number by `format` (decimal or 0x and hexadecimal: at most 20 characters) at `pos`,
// formatted in `buf`: put_format's, smaller, one for the three uses in a round (each
// inlined call kept a buffer of its own), as the callback's frame adds to its caller's.
struct number_buf {
  unsigned long value;
  char text[24];
};

static inline __attribute__((always_inline)) long put_number(struct number_buf* buf, char* dst,
                                                             long pos, const char* format,
                                                             unsigned long value,
                                                             unsigned long size,
                                                             unsigned long limit) {
  buf->value = value;
  long n = bpf_snprintf(buf->text, sizeof(buf->text), format, &buf->value, sizeof(buf->value)) - 1;
  return write_at(dst, pos, buf->text, n, sizeof(buf->text) - 1, size, limit);
}

// Round `i`: entry `i` of the table when it applies, then, in the round after the last
// entry, what is left over. 1 ends the walk.
static inline __attribute__((always_inline)) long decode_step(struct decode_state* st,
                                                              unsigned long i, int kernel) {
  const struct decode_head* head = (const void*)st->table;
  long* cell = st->cell;
  unsigned long count = head->count, mode = head->mode, value = (unsigned long)cell[DECODE_VALUE];
  unsigned long size = st->size, limit = st->limit;
  long pos = cell[DECODE_POS];
  if (i < count) {
    const struct decode_entry* e =
        (const void*)(st->table + sizeof(struct decode_head) +
                      sizeof(struct decode_entry) * btap_masked((long)i, head->room));
    unsigned long key = e->value, mask = e->mask;
    if (mask ? (value & mask) != key : !(value & key)) return 0;
    cell[DECODE_TAKEN] |= (long)mask;
    if (pos > 0) pos = put(st->dst, pos, '|', size, limit);
    cell[DECODE_POS] = write_at(st->dst, pos, e->name, e->len, DECODE_NAME, size, limit);
    return mode & DECODE_EQUAL;  // a value has one name
  }
  // Then a value without a name as a number, or the flags' bits left over in hexadecimal
  // (one buffer for the three).
  struct number_buf buf;
  if (mode & DECODE_EQUAL) {
    if (mode & DECODE_DEC)
      cell[DECODE_POS] = kernel ? put_number(&buf, st->dst, pos, decimal, value, size, limit)
                                : put_dec(st->dst, pos, (long)value, 0, size, limit);
    if (mode & DECODE_HEX)
      cell[DECODE_POS] = kernel ? put_number(&buf, st->dst, pos, hexadecimal, value, size, limit)
                                : put_hex(st->dst, pos, value, size, limit);
    return 1;
  }
  unsigned long rest = value & ~head->known & ~(unsigned long)cell[DECODE_TAKEN];
  if (rest || (pos == 0 && (mode & DECODE_ZERO))) {
    if (pos > 0) pos = put(st->dst, pos, '|', size, limit);
    cell[DECODE_POS] = kernel ? put_number(&buf, st->dst, pos, hexadecimal, rest, size, limit)
                              : put_hex(st->dst, pos, rest, size, limit);
  }
  return 1;
}

static inline __attribute__((always_inline)) void decode_begin(struct decode_state* st,
                                                               unsigned long value) {
  st->cell[DECODE_POS] = 0;
  st->cell[DECODE_VALUE] = (long)value;
  st->cell[DECODE_TAKEN] = 0;
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
    if (i >= rounds || decode_step(&st, i, 0)) break;
  return finish(dst, cell[DECODE_POS], size, limit);
}

// btap_decode in the kernel: one bpf_loop round per entry, verified once per call.
BTAP_CALLBACK long btap_cb_decode(unsigned long i, void* ctx) { return decode_step(ctx, i, 1); }

BTAP_LIB long btap_decode_loop(char* dst, unsigned long value, const unsigned char* table,
                               long* cell, unsigned long size, unsigned long limit) {
  struct decode_state st = {dst, table, cell, size, limit};
  decode_begin(&st, value);
  const struct decode_head* head = (const void*)table;
  bpf_loop(head->count + 1, btap_cb_decode, &st, 0);
  return finish(dst, cell[DECODE_POS], size, limit);
}
