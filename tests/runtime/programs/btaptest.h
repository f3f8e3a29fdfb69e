/* The types and library API shared by uprobe_target.c and libbtaptest.c. */
#ifndef BTAPTEST_H
#define BTAPTEST_H

struct point {
  int x;
  int y;
};

extern int btap_lib_calls; /* btap_lib_add adds 1 */

int btap_lib_add(int a, int b);
int btap_lib_point_sum(const struct point* p);

#endif
