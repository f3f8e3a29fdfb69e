// The walks of regex_walk.h in order, as one function: included once per way of looping,
// with RW_RUN naming the function and RW_LOOP(rounds, step, walk) running `step`'s rounds
// (regex_walk.h's rw_<step>_step) until one returns nonzero. No include guard.
//
// Fills the last-match area (RW_AREA_*) for the string `text` (in a slot of `size`
// bytes, at most `limit` - 1 of them) after `=~` with the pattern of `tables` found
// (`found`) or did not find a match; `work` is the walk's memory (RW_WORK_LIVE + size
// bytes). Returns the status.
RW_INLINE long RW_RUN(const unsigned char* text, const unsigned char* tables,
                      unsigned long tables_size, unsigned char* area, unsigned char* work,
                      long found, unsigned long size, unsigned long limit) {
  struct regex_walk walk = {tables, text, area, work, tables_size, size};
  struct regex_walk* w = &walk;
  long* v = rw_vars(w);
  long* status = (long*)(area + RW_AREA_STATUS);
  *status = 0;
  *(long*)(area + RW_AREA_COUNT) = (long)rw_field(w, RW_GROUPS) + 1;
  if (!found) return 0;
  v[RW_V_N] = (long)limit - 1;
  RW_LOOP(limit, length, w);
  long n = v[RW_V_N];
  if (n < 0 || n >= (long)limit) return 0;
  v[RW_V_S] = -1;
  v[RW_V_STATE] = 0;
  RW_LOOP(n + 1, start, w);
  long s = v[RW_V_S];
  if (s < 0 || s > n) return 0;
  v[RW_V_E] = -1;
  v[RW_V_PLAIN] = 0;
  v[RW_V_STATE] = s == 0 ? 0 : 1;
  RW_LOOP(n - s + 1, end, w);
  long e = v[RW_V_E];
  if (e < s || e > n) return 0;
  v[RW_V_STATE] = (e == n ? 0 : 1) + (v[RW_V_PLAIN] ? 2 : 0);
  RW_LOOP(e - s + 1, live, w);
  rw_path_start(w);
  // Each position passes each node at most twice (the second time glibc takes the other
  // way); a path that gets nowhere leaves the groups unset.
  unsigned long rounds = (unsigned long)(e - s + 1) * (2 * rw_field(w, RW_NODES) + 2);
  RW_LOOP(rounds < (1ul << 22) ? rounds : (1ul << 22), path, w);
  if (!v[RW_V_DONE]) {
    short* regs = (short*)(area + RW_AREA_REGS);
    for (int i = 2; i < 2 * RW_MAX_PAIRS; i++) regs[i] = -1;
  }
  RW_LOOP(RW_MAX_PAIRS, alias, w);
  *status = 1;
  return 1;
}
