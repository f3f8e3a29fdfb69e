/* The front of uprobe_target.c's struct record, as another program's header would
 * declare it, for `@cast(p, "record_view", "<stdint.h><.../record_view.h>")`: it uses
 * int32_t without including <stdint.h>, so it compiles only after that header, as stap's
 * header lists allow. The program itself never includes it. */
struct record_view {
  int32_t id;
  struct {
    int32_t x, y;
  } origin;
  void* target;
  char name[16];
  int32_t values[4];
};
