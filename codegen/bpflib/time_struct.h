// The cells of struct timespec and struct timeval formatting (bpflib/time_struct.c,
// codegen/lower_decode.cpp): codegen reads the structs into them, the library writes them.
#pragma once

enum {
  TIME_POS,    // the text's end so far
  TIME_COUNT,  // how many structs were read (1 or 2); 0 when the read faulted
  TIME_ADDR,   // their address, written in hexadecimal when the read faulted
  TIME_SEC0,   // the first struct's seconds, then its nanoseconds or microseconds
  TIME_FRAC0,
  TIME_SEC1,  // the second's
  TIME_FRAC1,
  TIME_CELLS
};
