// The cells of socket address formatting (bpflib/sockaddr.c, codegen/lower_decode.cpp):
// codegen reads the address's bytes into them, the library writes its text.
#pragma once

enum {
  SOCKADDR_LEN,                         // how many bytes were read (0-128); -1 when it faulted
  SOCKADDR_BYTES,                       // the bytes, 128 of room
  SOCKADDR_DATA = SOCKADDR_BYTES + 16,  // bpf_snprintf's numbers
  SOCKADDR_CELLS = SOCKADDR_DATA + 9
};
