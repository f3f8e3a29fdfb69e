/* A stand-in for SystemTap's own programs, for the stap_staticmarkers tapset's runtime
 * test (cases/tapset_stap_staticmarkers.test): the SDT markers that stap, staprun and
 * stapio carry, with their providers, names and argument types, each fired once with the
 * fixed values below. It plays the tool its file name says (stap, staprun or stapio),
 * prints nothing and exits 0 (2 for any other name). */
#include <stdint.h>
#include <string.h>
#include <sys/sdt.h>
#include <sys/types.h>

/* stap's enum of control messages (runtime/transport/transport_msgs.h), the values used. */
enum { STP_START = 0, STP_OOB_DATA = 2, STP_RELOCATION = 9 };

/* What the markers' pointers point at: the session's first field is the pass it is in. */
struct session {
  int pass;
  char name[12];
};
struct session fake_session = {-1, "fake-stap"};

/* Stores before a marker are done before it: the SDT note reads memory the compiler
 * does not know of. */
#define SETTLE() __asm__ __volatile__("" ::: "memory")
#define PASS(marker, n)                        \
  do {                                         \
    fake_session.pass = (n);                   \
    SETTLE();                                  \
    STAP_PROBE1(stap, marker, &fake_session);  \
  } while (0)

/* Picked at run time, so the arguments are registers or memory, not constants. */
static const char* volatile cache_dir = "/root/.systemtap/cache/ab";
static volatile int spawn_pid = 4242;

static void run_stap(void) {
  char ko[128], c[128], src[128], sgn_from[128], sgn_to[128], old[128];
  strcpy(ko, cache_dir);
  strcat(ko, "/stap_ab12_345.ko");
  strcpy(c, cache_dir);
  strcat(c, "/stap_ab12_345.c");
  strcpy(src, "/tmp/stapXYZ/stap_ab12_345_src.c");
  strcpy(sgn_from, "/tmp/stapXYZ/stap_ab12_345.ko.sgn");
  strcpy(sgn_to, ko);
  strcat(sgn_to, ".sgn");
  strcpy(old, "/root/.systemtap/cache/cd/stap_cd34_678.ko");
  const char* command = " /usr/bin/staprun -o \"out file\" stap_ab12_345.ko";
  int ret = 0, failed = -1;
  pid_t pid = spawn_pid;
  SETTLE();

  PASS(pass0__start, 0);
  PASS(pass0__end, 0);
  PASS(pass1a__start, 1);
  PASS(pass1b__start, 1);
  PASS(pass1__end, 1);
  PASS(pass2__start, 2);
  STAP_PROBE2(stap, cache__get, c, ko);
  PASS(pass2__end, 2);
  PASS(pass3__start, 3);
  PASS(pass3__end, 3);
  PASS(pass4__start, 4);
  STAP_PROBE1(stap, cache__clean, old);
  STAP_PROBE2(stap, cache__add__module, "/tmp/stapXYZ/stap_ab12_345.ko", ko);
  STAP_PROBE2(stap, cache__add__source, src, c);
  STAP_PROBE2(stap, cache__add__nss, sgn_from, sgn_to);
  PASS(pass4__end, 4);
  PASS(pass5__start, 5);
  STAP_PROBE1(stap, stap_system__start, command);
  STAP_PROBE2(stap, stap_system__spawn, ret, pid);
  STAP_PROBE2(stap, stap_system__complete, failed, pid);
  PASS(pass5__end, 5);
  PASS(pass6__start, 6);
  PASS(pass6__end, 6);
}

/* Shared by staprun and stapio, as stap's common.c is; its provider is stapio in both. */
__attribute__((noinline)) int send_request(int type, void* data, int len) {
  STAP_PROBE3(stapio, send__ctlmsg, type, data, len);
  return len > 0 ? 0 : -1;
}

static void run_staprun(void) {
  struct {
    char module[128];
    char reloc[128];
    uint64_t address;
  } relocation = {"kernel", "_stext", 0xffffffff81000000ull};
  char path[128];
  strcpy(path, cache_dir);
  strcat(path, "/stap_ab12_345.ko");
  const char* name = "stap_ab12_345";
  SETTLE();
  STAP_PROBE1(staprun, insert__module, (char*)path);
  send_request(STP_RELOCATION, &relocation, (int)sizeof relocation);
  STAP_PROBE1(staprun, remove__module, name);
}

static void run_stapio(void) {
  struct {
    int32_t target;
    int32_t res;
  } start = {spawn_pid, 0};
  send_request(STP_START, &start, (int)sizeof start);
  struct {
    uint32_t type;
    union {
      char data[64];
    } payload;
  } recvbuf;
  recvbuf.type = STP_OOB_DATA;
  strcpy(recvbuf.payload.data, "WARNING: fake warning");
  ssize_t nb = (ssize_t)strlen(recvbuf.payload.data) + 1;
  SETTLE();
  /* Its provider is staprun, as in stap's mainloop.c. */
  STAP_PROBE3(staprun, recv__ctlmsg, recvbuf.type, recvbuf.payload.data, nb);
}

int main(int argc, char** argv) {
  (void)argc;
  const char* self = strrchr(argv[0], '/');
  self = self ? self + 1 : argv[0];
  if (strcmp(self, "stap") == 0) run_stap();
  else if (strcmp(self, "staprun") == 0) run_staprun();
  else if (strcmp(self, "stapio") == 0) run_stapio();
  else return 2;
  return 0;
}
