// The decoders' tables (bpflib/decode.c, codegen/lower_decode.cpp): a head, then `room`
// entries (a power of two, at least `count`), each a number, a mask and its name.
#pragma once

enum { DECODE_POS, DECODE_VALUE, DECODE_TAKEN, DECODE_CELLS };

#define DECODE_EQUAL 1  // a value's one name (else the names of the flags that are set)
#define DECODE_ZERO 2   // flags: "0x0" when no name applies and nothing is left over
#define DECODE_HEX 4    // values: the number in hexadecimal when it has no name
#define DECODE_DEC 8    // values: the number in decimal (signed) when it has no name
#define DECODE_NAME 39  // the longest name
#define DECODE_MAX 128  // the most entries

struct decode_head {
  unsigned long count, room;
  unsigned long known;  // flags: the bits that are not left over
  unsigned long mode;
};

// An entry applies when the number's bits under `mask` are `value`; with no mask (a flag),
// when any of `value`'s bits is set. A value table's entries have every bit in their mask.
// The mask of an entry that applies is not left over either (a field of a flag word, such
// as a socket's type under SOCK_CLOEXEC).
struct decode_entry {
  unsigned long value;
  unsigned long mask;
  unsigned char len;
  char name[DECODE_NAME];
};
