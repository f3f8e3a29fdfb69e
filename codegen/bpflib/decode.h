// The decoders' tables (bpflib/decode.c, codegen/lower_decode.cpp): a head, then `room`
// entries (a power of two, at least `count`), each a number and its name.
#pragma once

enum { DECODE_POS, DECODE_VALUE, DECODE_CELLS };

#define DECODE_EQUAL 1  // a value's one name (else the names of the flags that are set)
#define DECODE_ZERO 2   // flags: "0x0" when no name applies and nothing is left over
#define DECODE_HEX 4    // values: the number in hexadecimal when it has no name
#define DECODE_NAME 31  // the longest name
#define DECODE_MAX 64   // the most entries

struct decode_head {
  unsigned long count, room;
  unsigned long known;  // flags: the bits that are not left over
  unsigned long mode;
};

struct decode_entry {
  unsigned long value;  // a value, or a flag's bits (any of them set names it)
  unsigned char len;
  char name[DECODE_NAME];
};
