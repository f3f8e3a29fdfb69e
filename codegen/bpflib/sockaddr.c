// btap's BPF runtime library, socket addresses: a struct sockaddr as the syscall tapset's
// argument strings show it ("{AF_INET, 127.0.0.1, 80}"), but for AF_UNIX's, whose strings
// the tapset writes itself. Codegen reads the bytes (lower_decode.cpp); one routine
// formats them with one bpf_snprintf call, in kernel probes in a bpf_loop callback (one
// function in the module), so that a call site costs a few instructions.
#include "sockaddr.h"

#include "bpflib.h"

struct sockaddr_state {
  char* dst;
  long* cell;
  unsigned long limit;
};

static const char sockaddr_fault[] = "{...}";
static const char sockaddr_inet[] = "{AF_INET, %lld.%lld.%lld.%lld, %lld}";
static const char sockaddr_inet6[] =
    "{AF_INET6, %04llx:%04llx:%04llx:%04llx:%04llx:%04llx:%04llx:%04llx, %lld}";
static const char sockaddr_netlink[] = "{AF_NETLINK, pid=%lld, groups=%08llx}";
static const char sockaddr_packet[] =
    "{AF_PACKET, proto=%lld, ind=%lld, hatype=%lld, pkttype=%lld, halen=%lld, addr=0x%llx}";
static const char sockaddr_unknown[] = "{unknown sockaddr with sa=%lld, salen=%lld}";
static const char sockaddr_short[] = "{unknown sockaddr with salen=%lld}";

// A big-endian 16-bit number at b.
static inline __attribute__((always_inline)) unsigned long be16(const unsigned char* b) {
  return (unsigned long)b[0] << 8 | b[1];
}

// A little-endian number of `n` bytes at b.
static inline __attribute__((always_inline)) unsigned long le(const unsigned char* b, int n) {
  unsigned long v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | b[i];
  return v;
}

// The text of the address in the cells; a family counts only with its struct's length.
static inline __attribute__((always_inline)) long sockaddr_write(struct sockaddr_state* st) {
  long* cell = st->cell;
  long len = cell[SOCKADDR_LEN];
  const unsigned char* b = (const void*)&cell[SOCKADDR_BYTES];
  unsigned long* d = (void*)&cell[SOCKADDR_DATA];
  unsigned long family = len >= 2 ? le(b, 2) : len == 1 ? b[0] : 0;
  long n;
  if (len < 0) {
    n = bpf_snprintf(st->dst, st->limit, sockaddr_fault, d, 0);
  } else if (family == 2 && len == 16) {
    for (int i = 0; i < 4; i++) d[i] = b[4 + i];
    d[4] = be16(b + 2);
    n = bpf_snprintf(st->dst, st->limit, sockaddr_inet, d, 5 * 8);
  } else if (family == 16 && len == 12) {
    d[0] = (unsigned long)(long)(int)le(b + 4, 4);
    d[1] = le(b + 8, 4);
    n = bpf_snprintf(st->dst, st->limit, sockaddr_netlink, d, 2 * 8);
  } else if (family == 10 && len == 28) {
    for (int i = 0; i < 8; i++) d[i] = be16(b + 8 + 2 * i);
    d[8] = be16(b + 2);
    n = bpf_snprintf(st->dst, st->limit, sockaddr_inet6, d, 9 * 8);
  } else if (family == 17 && len == 20) {
    d[0] = le(b + 2, 2);
    d[1] = (unsigned long)(long)(int)le(b + 4, 4);
    d[2] = le(b + 8, 2);
    d[3] = b[10];
    d[4] = b[11];
    d[5] = le(b + 12, 8);
    n = bpf_snprintf(st->dst, st->limit, sockaddr_packet, d, 6 * 8);
  } else if (len >= 2) {
    d[0] = family;
    d[1] = (unsigned long)len;
    n = bpf_snprintf(st->dst, st->limit, sockaddr_unknown, d, 2 * 8);
  } else {
    d[0] = (unsigned long)len;
    n = bpf_snprintf(st->dst, st->limit, sockaddr_short, d, 8);
  }
  if (n < 0) st->dst[0] = 0;
  return 1;
}

// The address in `cell` (SOCKADDR_CELLS longs) into `dst`; the interpreter calls the
// routine directly.
BTAP_LIB long btap_sockaddr(char* dst, long* cell, unsigned long size, unsigned long limit) {
  struct sockaddr_state st = {dst, cell, limit};
  return sockaddr_write(&st);
}

// btap_sockaddr in the kernel: its one round, verified once per call.
BTAP_CALLBACK long btap_cb_sockaddr(unsigned long i, void* ctx) { return sockaddr_write(ctx); }

BTAP_LIB long btap_sockaddr_loop(char* dst, long* cell, unsigned long size, unsigned long limit) {
  struct sockaddr_state st = {dst, cell, limit};
  bpf_loop(1, btap_cb_sockaddr, &st, 0);
  return 0;
}
