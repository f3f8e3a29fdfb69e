/* libbtaptest.so: what uprobe_target calls in mode `lib`, so tests can probe a shared
 * library (process("libbtaptest.so").function(...)) and read its global. */
#include "btaptest.h"

int btap_lib_calls = 0;

__attribute__((noinline)) int btap_lib_add(int a, int b) {
  int sum = a + b;
  btap_lib_calls++;
  return sum;
}

__attribute__((noinline)) int btap_lib_point_sum(const struct point* p) { return p->x + p->y; }
