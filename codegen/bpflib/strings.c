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
