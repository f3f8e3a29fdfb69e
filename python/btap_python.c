// The native half of btap's HelperSDT package: SDT marks that btap's python2/python3
// probes attach to, and the semaphores their attaching raises, which the Python half
// reads to know whether anything traces it (loaded through ctypes; no Python headers).
#include <stdint.h>

// One reference counter per mark: the kernel adds one for each uprobe attached at it,
// in every process that maps this library. A kind of event has three marks: one for
// probes that read only the names and lines (the strings are "" there unless another
// is attached too), one for probes that read the strings as well (`_details`: the
// strings of every event), and `_filtered`, the same for a session that has listed its
// probes' globs where every tracer reads them (the strings of the events they match).
#define BTAP_SEMAPHORE(name) \
  __extension__ volatile unsigned short name \
      __attribute__((section(".probes"), used, visibility("default")))
BTAP_SEMAPHORE(btap_python_call_semaphore);
BTAP_SEMAPHORE(btap_python_return_semaphore);
BTAP_SEMAPHORE(btap_python_line_semaphore);
BTAP_SEMAPHORE(btap_python_call_details_semaphore);
BTAP_SEMAPHORE(btap_python_return_details_semaphore);
BTAP_SEMAPHORE(btap_python_line_details_semaphore);
BTAP_SEMAPHORE(btap_python_call_filtered_semaphore);
BTAP_SEMAPHORE(btap_python_return_filtered_semaphore);
BTAP_SEMAPHORE(btap_python_line_filtered_semaphore);

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
      : "r"(r_backtrace), "r"(r_module), "r"(r_function), "r"(r_file), "r"(r_line),     \
        "r"(r_first_line), "r"(r_parms), "r"(r_locals), "r"(r_vars), "r"(r_value))

// The operands' registers, the same whichever compiler builds this (on x86-64: a note's
// operands are what a compiled probe reads, and btaprun attaches an object compiled against
// one build of this library in another; the runtime checks that they agree).
#if defined(__x86_64__)
#define BTAP_PIN(TYPE, NAME, REG) register TYPE r_##NAME __asm__(REG) = NAME
#else
#define BTAP_PIN(TYPE, NAME, REG) TYPE r_##NAME = NAME
#endif

// The operands of every mark: the backtrace (first: python_print_backtrace() finds it in
// the first argument register), the module (the file's name without `.py`), the function
// (its qualified name), the file as the interpreter names it, the line, the function's
// first line, then the strings of `$$parms`, `$$locals`, `$$vars` and the returned value
// (return marks; "" elsewhere).
#define BTAP_EVENT(VERSION, KIND)                                                         \
  __attribute__((noinline, visibility("default"))) void btap_python##VERSION##_##KIND(     \
      const char* backtrace, const char* module, const char* function, const char* file,  \
      int64_t line, int64_t first_line, const char* parms, const char* locals,            \
      const char* vars, const char* value) {                                              \
    BTAP_PIN(const char*, backtrace, "rdi");                                              \
    BTAP_PIN(const char*, module, "rsi");                                                 \
    BTAP_PIN(const char*, function, "rdx");                                               \
    BTAP_PIN(const char*, file, "rcx");                                                   \
    BTAP_PIN(int64_t, line, "r8");                                                        \
    BTAP_PIN(int64_t, first_line, "r9");                                                  \
    BTAP_PIN(const char*, parms, "rax");                                                  \
    BTAP_PIN(const char*, locals, "r10");                                                 \
    BTAP_PIN(const char*, vars, "r11");                                                   \
    BTAP_PIN(const char*, value, "rbx");                                                  \
    BTAP_MARK("python" #VERSION "_" #KIND, btap_python_##KIND##_semaphore);               \
    BTAP_MARK("python" #VERSION "_" #KIND "_details", btap_python_##KIND##_details_semaphore); \
    BTAP_MARK("python" #VERSION "_" #KIND "_filtered", btap_python_##KIND##_filtered_semaphore); \
  }

BTAP_EVENT(2, call)
BTAP_EVENT(2, return)
BTAP_EVENT(2, line)
BTAP_EVENT(3, call)
BTAP_EVENT(3, return)
BTAP_EVENT(3, line)
