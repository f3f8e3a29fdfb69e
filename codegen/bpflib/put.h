// Writing into a string slot, shared by bpflib's files: `dst` is a slot of `size` bytes
// (a power of two); output stops at `limit` - 1 bytes. Each function returns the new end.
#pragma once

#include "bpflib.h"

// Padding is written BTAP_MAX_PAD bytes from a constant, then doubled by copying what is
// written after itself (pad_at), one helper call a piece, so that the verifier's walk
// stays small whatever the width.
#define BTAP_MAX_PAD 64

static const char spaces[BTAP_MAX_PAD] =
    "                                                                ";
static const char zeros[BTAP_MAX_PAD] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// Writes `n` bytes of `from` at `pos`, as far as the string may grow. (Always inlined, as
// copy_at: a call would pass more arguments than BPF has registers for.)
static inline __attribute__((always_inline)) long write_at(char* dst, long pos, const char* from,
                                                           long n, long cap, unsigned long size,
                                                           unsigned long limit) {
  if (n <= 0 || pos < 0 || pos + 1 >= (long)limit) return pos;
  if (n > cap) n = cap;
  if (n > (long)limit - 1 - pos) n = (long)limit - 1 - pos;
  // The mask is what the verifier bounds the size by; the optimiser must not drop it.
  asm volatile("%[n] &= 127" : [n] "+r"(n));
  bpf_probe_read_kernel(dst + btap_masked(pos, size), n, from);
  return pos + n;
}

// Writes `n` bytes of `fill` (BTAP_MAX_PAD bytes of one character) at `pos`, as far as the
// string may grow (a field as wide as MAXSTRINGLEN - 1, as stap's is): the first
// BTAP_MAX_PAD from `fill`, then the bytes written so far copied after themselves, so
// log2(size / BTAP_MAX_PAD) more copies and no branch per byte or per round (the round's
// count is the smaller of what is written and what is left, made without a branch: the
// verifier would otherwise walk every combination of the rounds).
static inline __attribute__((always_inline)) long pad_at(char* dst, long pos, const char* fill,
                                                         long n, unsigned long size,
                                                         unsigned long limit) {
  if (n <= 0 || pos < 0 || pos + 1 >= (long)limit) return pos;
  if (n > (long)limit - 1 - pos) n = (long)limit - 1 - pos;
  long done = write_at(dst, pos, fill, n, BTAP_MAX_PAD, size, limit) - pos;
  for (unsigned long k = BTAP_MAX_PAD; k < size && k < BTAP_MAX_STRING; k *= 2) {
    long m = n - done;  // >= 0: done <= n throughout
    long over = done - m;
    long sign = over >> 63;  // -1 when fewer are written than are left, else 0
    asm volatile("" : "+r"(sign));
    m += over & sign;  // min(m, done)
    // Both masks change nothing (pos + n < limit <= size); the verifier bounds by them.
    bpf_probe_read_kernel(dst + btap_masked(pos + done, size), btap_masked(m, size),
                          dst + btap_masked(pos, size));
    done += m;
  }
  return pos + n;
}

static inline long put(char* dst, long pos, char c, unsigned long size, unsigned long limit) {
  if (pos < 0 || pos + 1 >= (long)limit) return pos;
  dst[btap_masked(pos, size)] = c;
  return pos + 1;
}

// Copies `src` (at most `max` bytes) to dst at `pos`; returns its length.
// (Always inlined: called from bpf_loop callbacks, which the BPF backend allows 5 arguments.)
static inline __attribute__((always_inline)) long copy_at(char* dst, long pos, const char* src,
                                                          long max, unsigned long size,
                                                          unsigned long limit) {
  if (pos < 0 || pos + 1 >= (long)limit || max <= 0) return 0;
  unsigned long room = limit - (unsigned long)pos;
  if ((unsigned long)max + 1 < room) room = (unsigned long)max + 1;
  // Kept, though `pos` is in bounds here: LLVM may have spilled `pos` before testing it,
  // and Linux 6.1's verifier, which forgets a spilled value it knows no bounds of, then
  // saw no bound on the size without this one.
  asm volatile("" : "+r"(room));
  if (room > limit) room = limit;
  long got = bpf_probe_read_kernel_str(dst + btap_masked(pos, size), room, src);
  return got > 1 ? got - 1 : 0;
}

static inline long finish(char* dst, long pos, unsigned long size, unsigned long limit) {
  if (pos >= (long)limit) pos = (long)limit - 1;
  dst[btap_masked(pos, size)] = 0;
  return pos;
}

// An address as stap writes an unreadable user pointer: 0x and its hex digits. All 16
// digits are written to the stack without a branch, then the significant ones copied
// (a branch per digit made the verifier walk some 36,000 instructions per call).
static inline __attribute__((always_inline)) long put_hex(char* dst, long pos, unsigned long v,
                                                          unsigned long size, unsigned long limit) {
  pos = put(dst, pos, '0', size, limit);
  pos = put(dst, pos, 'x', size, limit);
  // (x | -x) >> 63 is 1 exactly when x is not 0.
  long digits = 1;
  for (int i = 1; i < 16; i++) {
    unsigned long rest = v >> (4 * i);
    digits += (long)((rest | (0 - rest)) >> 63);
  }
  char hex[17];
  for (int i = 0; i < 16; i++) {
    long d = (long)((v >> (4 * (15 - i))) & 15);
    hex[i] = (char)('0' + d + (((9 - d) >> 63) & 39));  // 'a' - '0' - 10 = 39
  }
  hex[16] = 0;
  return pos + copy_at(dst, pos, hex + ((16 - digits) & 15), 16, size, limit);
}

// A signed number in decimal, at least `width` wide with zeros after the sign (printf's
// "%0*d"), for the interpreter (kernel code uses put_format). 2^63, the largest
// magnitude, has 19 digits.
static inline __attribute__((always_inline)) long put_dec(char* dst, long pos, long v, long width,
                                                          unsigned long size, unsigned long limit) {
  unsigned long a = (unsigned long)v;
  if (v < 0) {
    pos = put(dst, pos, '-', size, limit);
    a = 0 - a;
    width--;
  }
  long digits = 1;
  char dec[20];
  for (int i = 0; i < 19; i++) {
    dec[18 - i] = (char)('0' + a % 10);
    a /= 10;
    if (i < 18) digits += (long)((a | (0 - a)) >> 63);
  }
  dec[19] = 0;
  pos = pad_at(dst, pos, zeros, width - digits, size, limit);
  return pos + copy_at(dst, pos, dec + ((19 - digits) & 31), 19, size, limit);
}

// Up to two numbers by a format of the kernel's bpf_snprintf (a constant in .rodata), at
// `pos`: one helper call, so that the verifier walks no branch per digit (kernel only).
static inline __attribute__((always_inline)) long put_format(char* dst, long pos,
                                                             const char* format, long a, long b,
                                                             unsigned long size,
                                                             unsigned long limit) {
  unsigned long data[2] = {(unsigned long)a, (unsigned long)b};
  char text[48];
  long n = bpf_snprintf(text, sizeof(text), format, data, sizeof(data)) - 1;
  return write_at(dst, pos, text, n, sizeof(text) - 1, size, limit);
}
