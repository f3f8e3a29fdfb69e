/* The histogram table's format (stap's), one description for both drawings of it: the
 * runtime's (common/stats.cpp, user-side probes and kernel-probe prints) and the kernel's
 * (codegen/bpflib/histogram.c, a kernel probe's sprint of a histogram kept as a value).
 * C, for the BPF library's compiler as well as C++. */
#pragma once

#define BTAP_HIST_WIDTH 50      /* the bar's columns (a count / scale `@`s each row) */
#define BTAP_HIST_MARGIN 2      /* empty rows drawn past the first and last non-empty */
#define BTAP_HIST_ELISION 2     /* an empty row is drawn when a non-empty one is this near; */
                                /* a run of the others is one `~` row */
#define BTAP_HIST_VALUE_WIDTH 5 /* the value column is at least "value" wide */
#define BTAP_HIST_LOG_BUCKETS 128
#define BTAP_HIST_LOG_ZERO 64 /* @hist_log's bucket of 0 (2^k above, -2^k below) */
#define BTAP_HIST_KIND_LOG 1  /* stats::Hist's values */
#define BTAP_HIST_KIND_LINEAR 2
