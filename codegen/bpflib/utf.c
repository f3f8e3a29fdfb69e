// btap's BPF runtime library, UTF part: UTF-16 and UTF-32 strings of kernel or user
// memory read as UTF-8 (tapsets/utf.stp's readers). See strings.c for how the library is
// built.
#include "put.h"

// Units are native-endian and `unit` bytes long (2 or 4); a 0 unit ends the string. A
// high surrogate followed by a low one is one code point; any other surrogate, and any
// value past U+10FFFF, is invalid. A character that would not fit whole in the string
// ends the text, as a 0 unit does; a full string ends it before the next unit is read.
//
// What changes from one unit to the next lives in cells (the per-CPU scratch map in the
// kernel): the text's length, the failing unit (-1 a fault, else an invalid character, 0
// none) and the address of the next unit (of the failing one, after a failure).
enum { UTF_LEN, UTF_BAD, UTF_AT, UTF_CELLS };

struct utf_state {
  char* dst;
  long* cell;
  long unit, user;
  unsigned long size, limit;
};

// The unsigned unit of `unit` bytes at `at`, or -1 when it cannot be read.
static inline __attribute__((always_inline)) long read_unit(unsigned long at, long unit,
                                                            long user) {
  unsigned int value = 0;
  unsigned short half = 0;
  long rc;
  if (unit == 2) {
    rc = user ? bpf_probe_read_user(&half, 2, (const void*)at)
              : bpf_probe_read_kernel(&half, 2, (const void*)at);
    value = half;
  } else {
    rc = user ? bpf_probe_read_user(&value, 4, (const void*)at)
              : bpf_probe_read_kernel(&value, 4, (const void*)at);
  }
  return rc < 0 ? -1 : (long)value;
}

// One character: 1 to go on, 0 when the text ends.
static inline __attribute__((always_inline)) long utf_step(struct utf_state* st) {
  long* cell = st->cell;
  long len = cell[UTF_LEN], room = (long)st->limit - 1 - len;
  unsigned long at = (unsigned long)cell[UTF_AT];
  if (room <= 0) return 0;
  long c = read_unit(at, st->unit, st->user);
  if (c <= 0) {
    cell[UTF_BAD] = c;
    return 0;
  }
  if (st->unit == 2 && (c & 0xfc00) == 0xd800) {
    long low = read_unit(at + 2, 2, st->user);
    if (low < 0) {
      cell[UTF_BAD] = -1;
      cell[UTF_AT] = (long)(at + 2);
      return 0;
    }
    if ((low & 0xfc00) == 0xdc00) {
      c = 0x10000 + ((c & 0x3ff) << 10) + (low & 0x3ff);
      at += 2;
    }
  }
  if ((c & 0xfffff800) == 0xd800 || c > 0x10ffff) {
    cell[UTF_BAD] = c;
    return 0;
  }
  long n = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  if (n > room) return 0;
  char* dst = st->dst;
  unsigned long size = st->size, limit = st->limit;
  if (n == 1) {
    put(dst, len, (char)c, size, limit);
  } else {
    // The lead byte: the length's marker bits and the top bits of c; then 6 bits a byte.
    long lead = n == 2 ? 0xc0 : n == 3 ? 0xe0 : 0xf0;
    long pos = put(dst, len, (char)(lead | (c >> (6 * (n - 1)))), size, limit);
    for (long k = n - 2; k >= 0; k--)
      pos = put(dst, pos, (char)(0x80 | ((c >> (6 * k)) & 0x3f)), size, limit);
  }
  cell[UTF_LEN] = len + n;
  cell[UTF_AT] = (long)(at + (unsigned long)st->unit);
  return 1;
}

static inline __attribute__((always_inline)) void utf_begin(long* cell, unsigned long addr) {
  cell[UTF_LEN] = 0;
  cell[UTF_BAD] = 0;
  cell[UTF_AT] = (long)addr;
}

// The text of the string at `addr` (units of `unit` bytes; user memory when `user`);
// `cell` holds UTF_CELLS longs, and tells a failure. The interpreter runs the plain loop.
BTAP_LIB long btap_utf(char* dst, unsigned long addr, long unit, long user, long* cell,
                       unsigned long size, unsigned long limit) {
  struct utf_state st = {dst, cell, unit, user, size, limit};
  utf_begin(cell, addr);
  for (unsigned long i = 0; i < BTAP_MAX_STRING; i++)
    if (!utf_step(&st)) break;
  return finish(dst, cell[UTF_LEN], size, limit);
}

// btap_utf in the kernel: one bpf_loop round per character (each adds a byte at least).
BTAP_CALLBACK long btap_cb_utf(unsigned long i, void* ctx) { return !utf_step(ctx); }

BTAP_LIB long btap_utf_loop(char* dst, unsigned long addr, long unit, long user, long* cell,
                            unsigned long size, unsigned long limit) {
  struct utf_state st = {dst, cell, unit, user, size, limit};
  utf_begin(cell, addr);
  bpf_loop(limit < BTAP_MAX_STRING ? limit : BTAP_MAX_STRING, btap_cb_utf, &st, 0);
  return finish(dst, cell[UTF_LEN], size, limit);
}
