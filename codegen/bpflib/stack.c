// btap's BPF runtime library, stack part: the kernel or user stack of the probed context,
// as backtrace()'s text (stap's hex addresses separated by spaces) or one address of it.
// Symbols are not resolved here: the runtime does that from /proc/kallsyms and the
// objects the process maps. `flags` is bpf_get_stack's: 0 for the kernel stack,
// BPF_F_USER_STACK for the user one (which the kernel walks by frame pointers).
#include "bpflib.h"

static long (*const bpf_get_stack)(void* ctx, void* buf, unsigned int size,
                                   unsigned long flags) = (void*)67;

// stap's MAXBACKTRACE: the deepest frame its unwinder reports.
#define BTAP_MAX_BACKTRACE 20

// Fills `frames` (BTAP_MAX_BACKTRACE slots) with the kernel stack; returns how many.
static inline long capture(void* ctx, unsigned long* frames, unsigned long flags) {
  long got = bpf_get_stack(ctx, frames, BTAP_MAX_BACKTRACE * 8, flags);
  return got > 0 ? got / 8 : 0;
}

// backtrace(): "0x%lx" of each frame, separated by spaces, whole addresses only, within
// `limit` - 1 bytes of `dst` (a slot of `size` bytes, a power of two); callers(n): of the
// first `last` + 1 frames only (all of them when `last` is negative).
BTAP_LIB long btap_backtrace(char* dst, void* ctx, unsigned long* frames, long last,
                             unsigned long flags, unsigned long size, unsigned long limit) {
  const char* hex = "0123456789abcdef";
  long n = capture(ctx, frames, flags);
  if (last >= 0 && last + 1 < n) n = last + 1;
  long pos = 0;
  for (int i = 0; i < BTAP_MAX_BACKTRACE; i++) {
    if (i >= n) break;
    unsigned long a = frames[i];
    // Digits without leading zeros, counted with arithmetic only, so that the verifier
    // walks one path per frame: (x | -x) >> 63 is 1 when x is not 0. The barrier keeps
    // the optimiser from turning it back into a comparison, which BPF makes a branch.
    long digits = 1;
    for (int k = 1; k < 16; k++) {
      unsigned long x = a >> (4 * k);
      unsigned long m = x | (0 - x);
      asm volatile("" : "+r"(m));
      digits += (long)(m >> 63);
    }
    long need = (i ? 1 : 0) + 2 + 16;
    if (pos + need >= (long)limit) break;
    if (i) dst[(unsigned long)pos++ & (size - 1)] = ' ';
    dst[(unsigned long)pos++ & (size - 1)] = '0';
    dst[(unsigned long)pos++ & (size - 1)] = 'x';
    // All 16 places are written, the significant digits first; the next address or the
    // terminator overwrites the rest.
    unsigned long v = a << (4 * (16 - digits));
    for (int k = 0; k < 16; k++) {
      dst[(unsigned long)(pos + k) & (size - 1)] = hex[(v >> 60) & 15];
      v <<= 4;
    }
    pos += digits;
  }
  dst[(unsigned long)pos & (size - 1)] = 0;
  return pos;
}

// stack(n): the address `n` frames up (0 is where the probe hit), 0 beyond the stack.
BTAP_LIB long btap_stack_at(void* ctx, unsigned long* frames, long depth, unsigned long flags) {
  long n = capture(ctx, frames, flags);
  if (depth < 0 || depth >= n || depth >= BTAP_MAX_BACKTRACE) return 0;
  return (long)frames[depth & 31];
}
