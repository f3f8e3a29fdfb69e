// The native half of btap's HelperSDT package: SDT marks that btap's python2/python3
// probes attach to, and the semaphores their attaching raises, which the Python half
// reads to know whether anything traces it (loaded through ctypes; no Python headers).
#include <stdint.h>

// One reference counter per kind of event: the kernel adds one for each uprobe attached
// at a mark of that kind, in every process that maps this library.
#define BTAP_SEMAPHORE(name) \
  __extension__ volatile unsigned short name \
      __attribute__((section(".probes"), used, visibility("default")))
BTAP_SEMAPHORE(btap_python_call_semaphore);
BTAP_SEMAPHORE(btap_python_return_semaphore);
BTAP_SEMAPHORE(btap_python_line_semaphore);

// An SDT note (the layout <sys/sdt.h> writes, spelled out here so that building needs
// no systemtap-sdt-dev): the mark's address, the note base, the semaphore, provider
// "btap_python", the mark's name and its operands, every one 8 bytes wide.
#define BTAP_MARK(NAME, SEM)                                                          \
  __asm__ __volatile__(                                                               \
      "990: nop\n"                                                                    \
      ".pushsection .note.stapsdt,\"?\",\"note\"\n"                                   \
      ".balign 4\n"                                                                   \
      ".4byte 992f-991f, 994f-993f, 3\n"                                              \
      "991: .asciz \"stapsdt\"\n"                                                     \
      "992: .balign 4\n"                                                              \
      "993: .8byte 990b\n"                                                            \
      ".8byte _.stapsdt.base\n"                                                       \
      ".8byte " #SEM "\n"                                                             \
      ".asciz \"btap_python\"\n"                                                      \
      ".asciz \"" NAME "\"\n"                                                         \
      ".asciz \"8@%0 8@%1 8@%2 8@%3 -8@%4 -8@%5 8@%6 8@%7 8@%8 8@%9\"\n"              \
      "994: .balign 4\n"                                                              \
      ".popsection\n"                                                                 \
      ".ifndef _.stapsdt.base\n"                                                      \
      ".pushsection .stapsdt.base,\"aG\",\"progbits\",.stapsdt.base,comdat\n"         \
      ".weak _.stapsdt.base\n"                                                        \
      ".hidden _.stapsdt.base\n"                                                      \
      "_.stapsdt.base: .space 1\n"                                                    \
      ".size _.stapsdt.base, 1\n"                                                     \
      ".popsection\n"                                                                 \
      ".endif\n"                                                                      \
      :                                                                               \
      : "nor"(backtrace), "nor"(module), "nor"(function), "nor"(file), "nor"(line),   \
        "nor"(first_line), "nor"(parms), "nor"(locals), "nor"(vars), "nor"(value))

// The operands of every mark: the backtrace (first: python_print_backtrace() finds it in
// the first argument register), the module (the file's name without `.py`), the function
// (its qualified name), the file as the interpreter names it, the line, the function's
// first line, then the strings of `$$parms`, `$$locals`, `$$vars` and the returned value
// (return marks; "" elsewhere).
#define BTAP_EVENT(FN, NAME, SEM)                                                         \
  __attribute__((noinline, visibility("default"))) void FN(                               \
      const char* backtrace, const char* module, const char* function, const char* file,  \
      int64_t line, int64_t first_line, const char* parms, const char* locals,            \
      const char* vars, const char* value) {                                              \
    BTAP_MARK(NAME, SEM);                                                                 \
  }

BTAP_EVENT(btap_python2_call, "python2_call", btap_python_call_semaphore)
BTAP_EVENT(btap_python2_return, "python2_return", btap_python_return_semaphore)
BTAP_EVENT(btap_python2_line, "python2_line", btap_python_line_semaphore)
BTAP_EVENT(btap_python3_call, "python3_call", btap_python_call_semaphore)
BTAP_EVENT(btap_python3_return, "python3_return", btap_python_return_semaphore)
BTAP_EVENT(btap_python3_line, "python3_line", btap_python_line_semaphore)
