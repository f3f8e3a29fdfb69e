// btap's BPF runtime library, string part: compiled by clang-16 to LLVM bitcode when
// btap is built, linked into each script's module (only what it calls), then inlined.
// Every loop has a constant bound so that the kernel's verifier accepts it.
#include "bpflib.h"

// Compares two NUL-terminated strings of at most `size` bytes: <0, 0 or >0, as strcmp.
BTAP_LIB long btap_strcmp(const char* a, const char* b, unsigned long size) {
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < size; i++) {
    unsigned char x = a[i], y = b[i];
    if (x != y) return (long)x - (long)y;
    if (!x) return 0;
  }
  return 0;
}

// Writes `value` in decimal to `out` (at least 21 bytes), NUL-terminated; returns the
// number of characters written.
BTAP_LIB long btap_ltoa(char* out, long value) {
  char digits[20];
  unsigned long v = value < 0 ? 0 - (unsigned long)value : (unsigned long)value;
  int n = 0;
  for (int i = 0; i < 20; i++) {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
    if (!v) break;
  }
  int len = 0;
  if (value < 0) out[len++] = '-';
  for (int i = 0; i < 20 && i < n; i++) out[len++] = digits[n - 1 - i];
  out[len] = 0;
  return len;
}

// Writes `a` followed by `b` into `dst`, truncated to `limit` - 1 bytes and terminated.
// `size` is the power-of-two size of a string slot (>= limit): masking with it is what
// lets the verifier bound the second copy's address.
BTAP_LIB long btap_concat(char* dst, const char* a, const char* b, unsigned long size,
                          unsigned long limit) {
  long n = bpf_probe_read_kernel_str(dst, limit, a);
  if (n < 1) {
    dst[0] = 0;
    n = 1;
  }
  unsigned long used = (unsigned long)(n - 1) & (size - 1);
  if (used + 1 >= limit) return used;
  long m = bpf_probe_read_kernel_str(dst + used, limit - used, b);
  return m < 1 ? used : used + m - 1;
}

// The length of a NUL-terminated string of at most `size` bytes.
BTAP_LIB long btap_strlen(const char* s, unsigned long size) {
  for (unsigned long i = 0; i < BTAP_MAX_STRING && i < size; i++)
    if (!s[i]) return i;
  return size;
}

// Copies at most `length` bytes of `s` from byte `start` into `dst` (slots of `size`,
// a power of two; strings of at most `limit` - 1 bytes); empty when out of range.
BTAP_LIB long btap_substr(char* dst, const char* s, long start, long length, unsigned long size,
                          unsigned long limit) {
  long n = btap_strlen(s, limit);
  long i = 0;
  if (start >= 0 && start < n && length > 0) {
    for (; i < BTAP_MAX_STRING && i < (long)limit - 1; i++) {
      if (i >= length || start + i >= n) break;
      dst[i] = s[(unsigned long)(start + i) & (size - 1)];
    }
  }
  dst[(unsigned long)i & (size - 1)] = 0;
  return i;
}

// The byte offset of the first occurrence of `needle` in `s`, or -1.
BTAP_LIB long btap_strpos(const char* s, const char* needle, unsigned long size,
                          unsigned long limit) {
  long n = btap_strlen(s, limit), m = btap_strlen(needle, limit);
  for (long at = 0; at < BTAP_MAX_STRING && at + m <= n; at++) {
    long j = 0;
    for (; j < BTAP_MAX_STRING && j < m; j++)
      if (s[(unsigned long)(at + j) & (size - 1)] != needle[(unsigned long)j & (size - 1)]) break;
    if (j == m) return at;
  }
  return -1;
}

// The byte at `pos`, or -1 when `pos` is outside the string.
BTAP_LIB long btap_stringat(const char* s, long pos, unsigned long size, unsigned long limit) {
  long n = btap_strlen(s, limit);
  if (pos < 0 || pos >= n) return -1;
  return (unsigned char)s[(unsigned long)pos & (size - 1)];
}
