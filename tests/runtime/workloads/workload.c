/* A workload whose system calls the runtime tests know:
 *   getppid N        calls getppid() N times
 *   timed-getppid N  the same, and prints the loop's nanoseconds per call on standard
 *                    error (for the benchmarks)
 *   timed-uprobe N   calls btap_bench_call() N times, timed the same way (uprobes)
 *   thread-uprobe N  calls btap_bench_call() N times in a second thread, then N times
 *                    in the first (a process whose probe hits come from two threads)
 *   sleep MS         sleeps
 *   open PATH...     closes every descriptor above 2, then opens each file for reading
 *                    and closes it
 *   getxattr PATH NAME  asks for the size of PATH's extended attribute NAME (getxattr(2))
 *   badpath ADDR     the same for a path at ADDR, which cannot be read
 *   create PATH      creates (truncates) a file with mode 0644
 *   calls N          N rounds of getppid, getpid, getuid and getgid
 *   ids              asks for its process group and session (getpgid(0), getsid(0))
 *   spawn            forks a child that forks a grandchild, and waits for both
 *   prctl            prctl(2)s PR_GET_DUMPABLE, PR_SET_DUMPABLE 1, PR_SET_PDEATHSIG
 *                    SIGTERM, PR_CAPBSET_READ CAP_SYS_ADMIN, PR_SET_TSC PR_TSC_ENABLE,
 *                    PR_SET_TIMING PR_TIMING_STATISTICAL, PR_SET_PTRACER
 *                    PR_SET_PTRACER_ANY, PR_MCE_KILL PR_MCE_KILL_SET PR_MCE_KILL_EARLY,
 *                    PR_SET_SECUREBITS SECBIT_KEEP_CAPS|0x100, PR_SET_MM 99 7,
 *                    PR_SET_UNALIGN PR_UNALIGN_SIGBUS and option 52 (1, 2, 3, 4); then
 *                    readv(2)s fd -1 with a null vector of 1, writev(2)s fd -5 with a
 *                    null vector of -1, preadv(2)s fd -1 with a null vector of 2 at 0x1000
 *                    and pwritev(2)s fd -1 with a null vector of 1 at 7, then the same
 *                    with preadv2 (flags 5) and pwritev2 (flags 0); sendmmsg(2)s fd
 *                    -1 with no messages and MSG_DONTWAIT, recvmmsg(2)s fd -1 with a null
 *                    vector of 1, MSG_PEEK|MSG_WAITALL and no timeout (all fail)
 *   exit N           exits with status N
 *   compat           a child makes i386 getpid (20) through int 0x80, a compat call whose
 *                    number is x86-64's writev (it dies of SIGSEGV where the kernel runs
 *                    no ia32 calls; else it says `compat getpid ran` on standard error),
 *                    then i386 setpgid(0, 0) (57, x86-64's fork; it returns 0); then
 *                    writev(2)s fd 7 with no vector (it fails)
 *   compat-fork      a child makes i386 fork (2) and then i386 clone3 (435, its arguments
 *                    in the low 2 GB) through int 0x80; each new process _exits at once
 *                    and the child says `compat fork ran` / `compat clone3 ran` on
 *                    standard error once it has waited for it; then i386 setpgid(0, 0)
 *                    (57, x86-64's fork; it returns 0)
 *   compat-calls     a child closes every descriptor above 2, then through int 0x80 makes
 *                    i386 getppid (64), the number -960 (no call: ENOSYS), getuid32 (199),
 *                    open (5) of "/dev/null" O_WRONLY
 *                    (fd 3), dup2 (63) of 3 to 9, write (4) of "hi" to 9, lseek (19) of 9
 *                    by -5 from SEEK_SET (/dev/null: 0) and close (6) of 9, with garbage in the
 *                    registers' upper halves (the kernel reads their low 32 bits; lseek's
 *                    offset is 0xfffffffb there); then the parent lseek(2)s fd 9 (EBADF)
 *                    by -5 natively
 *   badexec ADDR     execve(2)s itself with an argument vector whose third pointer is
 *                    ADDR (unreadable): the call fails with EFAULT
 *   raise N          kills itself with signal N
 *   handle N         catches signal N, sends it to itself with kill(2) and handles it
 *   udp N            sends one UDP datagram of N bytes to 127.0.0.1 port 9 (discard)
 *   udp-port PORT N  binds a socket to 127.0.0.1 port PORT, sends one datagram of N bytes
 *                    to it from another and waits 300 ms for it; prints `sent N` (or `send:
 *                    ` and the error) and `received N` (or `received nothing`)
 *   tcp ADDR [FROM]  listens on ADDR (IPv4, or IPv6 with a colon) and an ephemeral port,
 *                    connects to it over TCP (from FROM, of the same family, when given)
 *                    and accepts the connection; the client sets TCP_NODELAY and write(2)s
 *                    "hello", the server read(2)s it
 *   files PATH       closes every descriptor above 2, then stat(2)s, lstat(2)s and
 *                    newfstatat(2)s PATH (AT_SYMLINK_NOFOLLOW), opens it (fd 3) and
 *                    fstat(2)s it, pread(2)s 4 bytes at offset 1, uname(2)s, opens /dev/null
 *                    for writing (fd 4), pwrite(2)s "hello" at offset 7 to it and
 *                    sendfile(2)s 4 bytes from 3 to 4
 *   memsig           mmap(2)s 28672 bytes of anonymous private memory (read, write),
 *                    mprotect(2)s its first page to PROT_NONE, then kill(2)s itself with
 *                    signal 0, tkill(2)s and tgkill(2)s itself with SIGURG (ignored),
 *                    opens a local stream socket (close-on-exec, non-blocking) and an
 *                    IPv6 UDP one
 *   fdsig            closes every descriptor above 2; access(2)s /dev/null with F_OK and
 *                    R_OK|W_OK, faccessat(2)s it with X_OK; opens it for writing (fd 3),
 *                    write(2)s "hi\n\tthere" and a 60-byte line, lseek(2)s to its end,
 *                    fcntl(2)s F_GETFL, F_SETFD 1 and F_DUPFD_CLOEXEC 10, ioctl(2)s TCGETS
 *                    with a null argument; blocks SIGINT, SIGTERM and SIGCHLD, then sets an
 *                    empty mask asking for the old one; ignores SIGUSR2, catches SIGUSR1
 *                    with SA_RESTART and SIGINT masked; forks a child that exits with 3,
 *                    wait4(2)s for it, then wait4(2)s with WNOHANG|__WALL for none
 *   advise           madvise(2)s an anonymous page MADV_DONTNEED, then with advice 103
 *                    (MADV_GUARD_REMOVE, Linux 6.13+: nothing to remove), msync(2)s it
 *                    MS_INVALIDATE|MS_SYNC; flock(2)s /dev/null (fd 3) LOCK_EX|LOCK_NB, then
 *                    LOCK_UN; getrandom(2)s 8 bytes into a zeroed buffer with GRND_NONBLOCK;
 *                    epoll_create1(2)s with EPOLL_CLOEXEC (fd 4) and epoll_ctl(2)s
 *                    EPOLL_CTL_DEL of fd 3 with no event; prlimit64(2)s
 *                    RLIMIT_CORE to [0,0]; getrlimit(2)s RLIMIT_NOFILE into a null pointer;
 *                    sched_setscheduler(2)s SCHED_BATCH|SCHED_RESET_ON_FORK with a null
 *                    parameter
 *   groups           closes every descriptor above 2; epoll_create(2)s with size 8 (fd 3),
 *                    epoll_create1(2)s with no flags (fd 4), then EPOLL_CLOEXEC (fd 5);
 *                    eventfd(2)s 2 (fd 6), eventfd2(2)s 1 with EFD_NONBLOCK|EFD_SEMAPHORE
 *                    (fd 7); inotify_init(2)s (fd 8), inotify_init1(2)s IN_CLOEXEC (fd 9);
 *                    pipe(2)s into {-1, -1} (fds 10, 11), pipe2(2)s O_NONBLOCK into the same
 *                    array (fds 12, 13), pipe2(2)s a null array; signalfd(2)s and
 *                    signalfd4(2)s with no flags, then SFD_CLOEXEC, on fd -1 and a null mask;
 *                    getdents(2)s and getdents64(2)s fd 3 (not a directory) with a null
 *                    buffer; dup2(2)s 3 to 20, dup3(2)s 3 to 21 with O_CLOEXEC
 *   netio            closes every descriptor above 2; nanosleep(2)s 1 microsecond,
 *                    clock_nanosleep(2)s CLOCK_MONOTONIC 1 microsecond, then to the
 *                    absolute time 0; futex(2)s FUTEX_WAKE_PRIVATE, FUTEX_WAIT for a value
 *                    the word has not (1 s timeout), FUTEX_WAKE_OP (add 1, wake if > 0);
 *                    waitid(2)s P_ALL with WNOHANG|WEXITED and no child; opens a UDP socket
 *                    (fd 3): setsockopt(2)s SO_REUSEADDR, SOL_TCP option 1 and SO_RCVTIMEO
 *                    with null values, getsockopt(2)s SO_TYPE with null pointers, bind(2)s
 *                    it to 127.0.0.1 port 0, connect(2)s it to 127.0.0.1 port 9,
 *                    sendto(2)s "hello" there with MSG_DONTWAIT|MSG_NOSIGNAL, recvfrom(2)s
 *                    nothing with MSG_PEEK|MSG_DONTWAIT, sendmsg(2)s and recvmsg(2)s null
 *                    messages (MSG_DONTWAIT, MSG_ERRQUEUE), accept4(2)s it with
 *                    SOCK_CLOEXEC; an IPv6 UDP socket (fd 4) connect(2)s to [::1] port 9, a
 *                    local one (fd 5) to "/nonexistent-btap"; umount2(2)s "/nonexistent-btap"
 *                    MNT_DETACH, mount(2)s tmpfs "none" there MS_RDONLY|MS_NOSUID with
 *                    "size=1m" (both fail: no such directory); ppoll(2)s nothing with a zero
 *                    timeout, poll(2)s nothing, select(2)s nothing for 500 microseconds,
 *                    pselect6(2)s nothing with a zero timeout, epoll_wait(2)s fd 3 (not an
 *                    epoll one)
 *   times            clock_nanosleep(2)s on clock 1000 (none: EINVAL, nothing read) with
 *                    each of nine timespecs in turn ({0, UTIME_NOW}, {5, UTIME_OMIT}, {-1, -1},
 *                    {LONG_MIN, 1234567890}, {LONG_MAX, 7}, {12, 345}, {-12, -345678},
 *                    {1, 999999999}, {3, 4}; {7, 8} follows), then with the address 1
 *   sockaddrs        connect(2)s descriptor -1 (EBADF) to socket addresses in turn: AF_INET
 *                    10.1.2.3 port 8080 (length 16, then 15), AF_INET6 fe80::1:2 port 443
 *                    (28), AF_NETLINK pid -5 groups 0x1234 (12), AF_PACKET (20), AF_UNIX
 *                    "/tmp/x" (110) and abstract "\0abc" (7), family 1 with length 3, a
 *                    128-byte AF_INET buffer with length 1, 0, 128, 200 and -1, the address
 *                    1 (length 16)
 *   dispositions     prints which of SIGINT, SIGTERM, SIGHUP, SIGPIPE it ignores or
 *                    blocks (a traced command must see them as an untraced one does)
 *   keyring NAME     joins a new session keyring NAME (keyctl(2)
 *                    KEYCTL_JOIN_SESSION_KEYRING) with root's key quota set to one byte
 *                    (/proc/sys/kernel/keys/root_maxbytes, restored after), so that making
 *                    it fails (EDQUOT: join_session_keyring's error2 path) */
#define _GNU_SOURCE  // close_range
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <linux/futex.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/signalfd.h>
#include <sys/un.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/time.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

// What the uprobe benchmark probes: a real call that the compiler keeps.
__attribute__((noinline)) long btap_bench_call(long i) {
  __asm__ volatile("" ::: "memory");
  return i + 1;
}

static void* bench_calls(void* n) {
  long sum = 0;
  for (long i = 0; i < (long)n; i++) sum += btap_bench_call(i);
  return (void*)sum;
}

static volatile sig_atomic_t handled;
static void on_signal(int sig) { handled = sig; }

int main(int argc, char** argv) {
  if (argc == 3 && strcmp(argv[1], "exit") == 0) return atoi(argv[2]);
  if (argc == 3 && strcmp(argv[1], "keyring") == 0) {
    const char* quota = "/proc/sys/kernel/keys/root_maxbytes";
    char old[32] = "";
    FILE* f = fopen(quota, "r");
    if (!f || !fgets(old, sizeof old, f)) return 1;
    fclose(f);
    if (!(f = fopen(quota, "w")) || fputs("1", f) < 0 || fclose(f) != 0) return 1;
    long rc = syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, argv[2]);
    int saved = errno;
    if (!(f = fopen(quota, "w")) || fputs(old, f) < 0 || fclose(f) != 0) return 1;
    return rc == -1 && saved == EDQUOT ? 0 : 2;
  }
  if (argc == 2 && strcmp(argv[1], "compat") == 0) {
    pid_t child = fork();
    if (child == 0) {
      long r = 20;
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
      if (r == getpid()) fputs("compat getpid ran\n", stderr);
      r = 57;
      __asm__ volatile("int $0x80" : "+a"(r) : "b"(0), "c"(0) : "memory", "r8", "r9", "r10", "r11");
      _exit(0);
    }
    if (child > 0) waitpid(child, NULL, 0);
    syscall(SYS_writev, 7, NULL, 0);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "compat-fork") == 0) {
    pid_t child = fork();
    if (child == 0) {
      long r = 2;
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
      if (r == 0) _exit(0);
      if (r > 0 && waitpid((pid_t)r, NULL, 0) == r) fputs("compat fork ran\n", stderr);
      // struct clone_args as CLONE_ARGS_SIZE_VER0 (64 bytes): exit_signal is the fifth.
      uint64_t* args = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
      if (args == MAP_FAILED) _exit(1);
      args[4] = SIGCHLD;
      r = 435;
      __asm__ volatile("int $0x80"
                       : "+a"(r)
                       : "b"((long)(uintptr_t)args), "c"(64L)
                       : "memory", "r8", "r9", "r10", "r11");
      if (r == 0) _exit(0);
      if (r > 0 && waitpid((pid_t)r, NULL, 0) == r) fputs("compat clone3 ran\n", stderr);
      r = 57;
      __asm__ volatile("int $0x80" : "+a"(r) : "b"(0), "c"(0) : "memory", "r8", "r9", "r10", "r11");
      _exit(0);
    }
    if (child > 0) waitpid(child, NULL, 0);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "compat-calls") == 0) {
    pid_t child = fork();
    if (child == 0) {
      close_range(3, ~0u, 0);  // the compat open gets 3
      // Strings where a 32-bit pointer reaches them.
      char* low = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
                       -1, 0);
      if (low == MAP_FAILED) _exit(1);
      strcpy(low, "/dev/null");
      strcpy(low + 64, "hi");
      const long high = (long)0xdead000000000000UL;
      long r = 64;
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
      r = -960;  // no call (ENOSYS); -960 + 1024 is 64, getppid's key
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
      r = 199;
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory", "r8", "r9", "r10", "r11");
      r = 5;
      __asm__ volatile("int $0x80"
                       : "+a"(r)
                       : "b"(high | (long)(uintptr_t)low), "c"(high | O_WRONLY), "d"(high)
                       : "memory", "r8", "r9", "r10", "r11");
      long fd = r;
      r = 63;
      __asm__ volatile("int $0x80"
                       : "+a"(r)
                       : "b"(high | fd), "c"(high | 9)
                       : "memory", "r8", "r9", "r10", "r11");
      r = 4;
      __asm__ volatile("int $0x80"
                       : "+a"(r)
                       : "b"(high | 9), "c"(high | (long)(uintptr_t)(low + 64)), "d"(high | 2)
                       : "memory", "r8", "r9", "r10", "r11");
      r = 19;
      __asm__ volatile("int $0x80"
                       : "+a"(r)
                       : "b"(9L), "c"(0xfffffffbL), "d"(high | SEEK_SET)
                       : "memory", "r8", "r9", "r10", "r11");
      r = 6;
      __asm__ volatile("int $0x80" : "+a"(r) : "b"(high | 9) : "memory", "r8", "r9", "r10", "r11");
      _exit(0);
    }
    if (child > 0) waitpid(child, NULL, 0);
    syscall(SYS_lseek, 9, -5L, SEEK_SET);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "badexec") == 0) {
    char* vector[] = {argv[0], "ok", (char*)strtoul(argv[2], NULL, 0), NULL};
    execve(argv[0], vector, NULL);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "raise") == 0) {
    signal(atoi(argv[2]), SIG_DFL);
    raise(atoi(argv[2]));
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "handle") == 0) {
    signal(atoi(argv[2]), on_signal);
    kill(getpid(), atoi(argv[2]));
    return handled == atoi(argv[2]) ? 0 : 1;
  }
  if (argc == 3 && strcmp(argv[1], "udp") == 0) {
    static char payload[65000];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(9)};
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    size_t n = (size_t)atol(argv[2]);
    if (fd < 0 || n > sizeof payload) return 1;
    return sendto(fd, payload, n, 0, (struct sockaddr*)&to, sizeof to) == (ssize_t)n ? 0 : 1;
  }
  if (argc == 4 && strcmp(argv[1], "udp-port") == 0) {
    static char payload[1000];
    struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval wait = {.tv_usec = 300000};
    int server = socket(AF_INET, SOCK_DGRAM, 0), client = socket(AF_INET, SOCK_DGRAM, 0);
    size_t n = (size_t)atol(argv[3]);
    if (server < 0 || client < 0 || n > sizeof payload ||
        bind(server, (struct sockaddr*)&at, sizeof at) ||
        setsockopt(server, SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait))
      return 1;
    if (sendto(client, payload, n, 0, (struct sockaddr*)&at, sizeof at) == (ssize_t)n)
      printf("sent %zu\n", n);
    else
      printf("send: %s\n", strerror(errno));
    ssize_t got = recv(server, payload, sizeof payload, 0);
    if (got >= 0)
      printf("received %zd\n", got);
    else
      printf("received nothing\n");
    return 0;
  }
  if ((argc == 3 || argc == 4) && strcmp(argv[1], "tcp") == 0) {
    // Listens on ADDR (an ephemeral port), connects to it and accepts the connection.
    int six = strchr(argv[2], ':') != NULL, family = six ? AF_INET6 : AF_INET;
    struct sockaddr_in6 a6 = {.sin6_family = AF_INET6}, f6 = {.sin6_family = AF_INET6};
    struct sockaddr_in a4 = {.sin_family = AF_INET}, f4 = {.sin_family = AF_INET};
    struct sockaddr* at = six ? (struct sockaddr*)&a6 : (struct sockaddr*)&a4;
    socklen_t size = six ? sizeof a6 : sizeof a4;
    if (inet_pton(family, argv[2], six ? (void*)&a6.sin6_addr : (void*)&a4.sin_addr) != 1) return 1;
    if (argc == 4 &&
        inet_pton(family, argv[3], six ? (void*)&f6.sin6_addr : (void*)&f4.sin_addr) != 1)
      return 1;
    int server = socket(family, SOCK_STREAM, 0), client = socket(family, SOCK_STREAM, 0);
    if (server < 0 || client < 0) return 1;
    if (argc == 4 && bind(client, six ? (struct sockaddr*)&f6 : (struct sockaddr*)&f4, size))
      return 1;
    if (bind(server, at, size) || listen(server, 1) ||
        getsockname(server, at, &size) || connect(client, at, size))
      return 1;
    int peer = accept(server, 0, 0), one = 1;
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char got[8] = {0};
    int ok = peer >= 0 && write(client, "hello", 5) == 5 && read(peer, got, sizeof got) == 5;
    close(peer);
    close(client);
    close(server);
    return !ok;
  }
  if (argc == 2 && strcmp(argv[1], "times") == 0) {
    static const struct timespec ts[] = {{0, 0x3fffffff}, {5, 0x3ffffffe}, {-1, -1},
                                         {LONG_MIN, 1234567890}, {LONG_MAX, 7}, {12, 345},
                                         {-12, -345678}, {1, 999999999}, {3, 4}, {7, 8}};
    for (int i = 0; i < 9; i++) syscall(SYS_clock_nanosleep, 1000L, 0L, &ts[i], 0L);
    syscall(SYS_clock_nanosleep, 1000L, 0L, 1L, 0L);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "sockaddrs") == 0) {
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(8080)};
    in.sin_addr.s_addr = htonl(0x0a010203);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_port = htons(443)};
    inet_pton(AF_INET6, "fe80::1:2", &in6.sin6_addr);
    struct {
      unsigned short family, pad;
      int pid;
      unsigned groups;
    } nl = {16, 0, -5, 0x1234};
    unsigned char packet[20] = {17, 0, 0, 3, 0xfe, 0xff, 0xff, 0xff, 1, 0, 4, 6,
                                8, 7, 6, 5, 4, 3, 2, 1};
    struct sockaddr_un un = {.sun_family = AF_UNIX, .sun_path = "/tmp/x"};
    char abstract[7] = {AF_UNIX, 0, 0, 'a', 'b', 'c', 0};
    unsigned char big[128] = {AF_INET, 0, 1, 2, 3, 4};
    const struct {
      const void* at;
      long len;
    } calls[] = {{&in, 16},      {&in, 15}, {&in6, 28}, {&nl, 12},  {packet, 20},
                 {&un, 110},     {abstract, 7}, {&un, 3}, {big, 1}, {big, 0},
                 {big, 128},     {big, 200}, {big, -1}, {(void*)1, 16}};
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
      syscall(SYS_connect, -1L, calls[i].at, calls[i].len);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "dispositions") == 0) {
    const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    sigset_t blocked;
    sigprocmask(SIG_BLOCK, NULL, &blocked);
    for (int i = 0; i < 4; i++) {
      struct sigaction sa;
      sigaction(sigs[i], NULL, &sa);
      printf("%s: %s%s\n", strsignal(sigs[i]), sa.sa_handler == SIG_IGN ? "ignored" : "default",
             sigismember(&blocked, sigs[i]) ? ", blocked" : "");
    }
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "getppid") == 0) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) getppid();
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "timed-getppid") == 0) {
    long n = atol(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) getppid();
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    fprintf(stderr, "ns_per_call %.1f\n", n ? ns / n : 0);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "timed-uprobe") == 0) {
    long n = atol(argv[2]), sum = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) sum += btap_bench_call(i);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
    fprintf(stderr, "ns_per_call %.1f\n", n ? ns / n : 0);
    return sum == 0;
  }
  if (argc == 3 && strcmp(argv[1], "thread-uprobe") == 0) {
    long n = atol(argv[2]);
    pthread_t thread;
    void* sum = NULL;
    if (pthread_create(&thread, NULL, bench_calls, (void*)n) != 0) return 1;
    if (pthread_join(thread, &sum) != 0) return 1;
    return bench_calls((void*)n) != sum;
  }
  if (argc == 3 && strcmp(argv[1], "sleep") == 0) {
    long ms = atol(argv[2]);
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, 0);
    return 0;
  }
  if (argc >= 3 && strcmp(argv[1], "open") == 0) {
    close_range(3, ~0u, 0);  // whatever the caller left open: the first open gets 3
    for (int i = 2; i < argc; i++) {
      int fd = open(argv[i], O_RDONLY);
      if (fd >= 0) close(fd);
    }
    return 0;
  }
  if (argc == 4 && strcmp(argv[1], "getxattr") == 0) {
    getxattr(argv[2], argv[3], 0, 0);  // most files have none: the call is what counts
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "badpath") == 0) {  // a path that cannot be read
    getxattr((const char*)strtoul(argv[2], NULL, 0), "user.x", 0, 0);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "create") == 0) {
    int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) close(fd);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "calls") == 0) {
    long n = atol(argv[2]);
    for (long i = 0; i < n; i++) {
      getppid();
      getpid();
      getuid();
      getgid();
    }
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "memsig") == 0) {
    void* p = mmap(0, 28672, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect(p, 4096, PROT_NONE) < 0) return 1;
    kill(getpid(), 0);
    syscall(SYS_tkill, gettid(), SIGURG);
    syscall(SYS_tgkill, getpid(), gettid(), SIGURG);
    socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "fdsig") == 0) {
    close_range(3, ~0u, 0);
    syscall(SYS_access, "/dev/null", F_OK);
    syscall(SYS_access, "/dev/null", R_OK | W_OK);
    syscall(SYS_faccessat, AT_FDCWD, "/dev/null", X_OK);
    int fd = open("/dev/null", O_WRONLY);
    if (fd < 0 || write(fd, "hi\n\tthere", 9) != 9) return 1;
    static const char line[] =
        "0123456789012345678901234567890123456789012345678901234567\n";
    if (write(fd, line, sizeof line - 1) < 0 || lseek(fd, 0, SEEK_END) < 0) return 1;
    syscall(SYS_fcntl, fd, F_GETFL, 0);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_DUPFD_CLOEXEC, 10);
    syscall(SYS_ioctl, fd, 0x5401, 0);
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGCHLD);
    sigprocmask(SIG_BLOCK, &set, 0);
    sigemptyset(&set);
    sigprocmask(SIG_SETMASK, &set, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &sa, 0);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigaddset(&sa.sa_mask, SIGINT);
    sigaction(SIGUSR1, &sa, 0);
    pid_t child = fork();
    if (child == 0) _exit(3);
    int status;
    wait4(child, &status, 0, 0);
    wait4(-1, &status, WNOHANG | __WALL, 0);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "advise") == 0) {
    close_range(3, ~0u, 0);
    void* p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return 1;
    madvise(p, 4096, MADV_DONTNEED);
    madvise(p, 4096, 103);  // MADV_GUARD_REMOVE (older headers lack the name)
    msync(p, 4096, MS_INVALIDATE | MS_SYNC);
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) return 1;
    flock(fd, LOCK_EX | LOCK_NB);
    flock(fd, LOCK_UN);
    char buf[16] = {0};
    syscall(SYS_getrandom, buf, 8, GRND_NONBLOCK);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    syscall(SYS_epoll_ctl, ep, EPOLL_CTL_DEL, fd, 0);
    struct rlimit none = {0, 0};
    syscall(SYS_prlimit64, 0, RLIMIT_CORE, &none, 0);
    syscall(SYS_getrlimit, RLIMIT_NOFILE, 0);
    syscall(SYS_sched_setscheduler, 0, SCHED_BATCH | SCHED_RESET_ON_FORK, 0);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "groups") == 0) {
    close_range(3, ~0u, 0);
    syscall(SYS_epoll_create, 8L);
    epoll_create1(0);
    epoll_create1(EPOLL_CLOEXEC);
    syscall(SYS_eventfd, 2L);
    eventfd(1, EFD_NONBLOCK | EFD_SEMAPHORE);
    syscall(SYS_inotify_init);
    inotify_init1(IN_CLOEXEC);
    int fds[2] = {-1, -1};
    syscall(SYS_pipe, fds);
    pipe2(fds, O_NONBLOCK);
    syscall(SYS_pipe2, 0L, 0L);
    syscall(SYS_signalfd, -1L, 0L, 8L);
    syscall(SYS_signalfd4, -1L, 0L, 8L, 0L);
    syscall(SYS_signalfd4, -1L, 0L, 8L, SFD_CLOEXEC);
    syscall(SYS_getdents, 3L, 0L, 0L);
    syscall(SYS_getdents64, 3L, 0L, 0L);
    dup2(3, 20);
    dup3(3, 21, O_CLOEXEC);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "netio") == 0) {
    close_range(3, ~0u, 0);
    struct timespec us = {0, 1000}, zero = {0, 0}, second = {1, 0};
    syscall(SYS_nanosleep, &us, 0L);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0L, &us, 0L);
    syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, &zero, 0L);
    static uint32_t word = 0, other = 0;
    syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1L, 0L, 0L, 0L);
    syscall(SYS_futex, &word, FUTEX_WAIT, 5L, &second, 0L, 0L);
    syscall(SYS_futex, &word, FUTEX_WAKE_OP, 1L, 2L, &other,
            FUTEX_OP(FUTEX_OP_ADD, 1L, FUTEX_OP_CMP_GT, 0L));
    syscall(SYS_waitid, P_ALL, 0L, 0L, WNOHANG | WEXITED, 0L);
    int udp = socket(AF_INET, SOCK_DGRAM, 0);
    syscall(SYS_setsockopt, udp, SOL_SOCKET, SO_REUSEADDR, 0L, 4L);
    syscall(SYS_setsockopt, udp, IPPROTO_TCP, 1L, 0L, 4L);
    syscall(SYS_setsockopt, udp, SOL_SOCKET, 20L, 0L, 16L);
    syscall(SYS_getsockopt, udp, SOL_SOCKET, SO_TYPE, 0L, 0L);
    struct sockaddr_in here = {.sin_family = AF_INET}, there = {.sin_family = AF_INET};
    here.sin_addr.s_addr = there.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    there.sin_port = htons(9);
    bind(udp, (struct sockaddr*)&here, sizeof here);
    connect(udp, (struct sockaddr*)&there, sizeof there);
    sendto(udp, "hello", 5, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr*)&there, sizeof there);
    syscall(SYS_recvfrom, udp, 0L, 0L, MSG_PEEK | MSG_DONTWAIT, 0L, 0L);
    syscall(SYS_sendmsg, udp, 0L, MSG_DONTWAIT);
    syscall(SYS_recvmsg, udp, 0L, MSG_ERRQUEUE);
    syscall(SYS_accept4, udp, 0L, 0L, SOCK_CLOEXEC);
    struct sockaddr_in6 six = {.sin6_family = AF_INET6, .sin6_port = htons(9)};
    six.sin6_addr = in6addr_loopback;
    connect(socket(AF_INET6, SOCK_DGRAM, 0), (struct sockaddr*)&six, sizeof six);
    struct sockaddr_un local = {.sun_family = AF_UNIX, .sun_path = "/nonexistent-btap"};
    connect(socket(AF_UNIX, SOCK_DGRAM, 0), (struct sockaddr*)&local, sizeof local);
    umount2("/nonexistent-btap", MNT_DETACH);
    mount("none", "/nonexistent-btap", "tmpfs", MS_RDONLY | MS_NOSUID, "size=1m");
    syscall(SYS_ppoll, 0L, 0L, &zero, 0L, 8L);
    syscall(SYS_poll, 0L, 0L, 0L);
    struct timeval half_ms = {0, 500};
    syscall(SYS_select, 0L, 0L, 0L, 0L, &half_ms);
    syscall(SYS_pselect6, 0L, 0L, 0L, 0L, &zero, 0L);
    syscall(SYS_epoll_wait, udp, 0L, 1L, 0L);
    return 0;
  }
  if (argc == 3 && strcmp(argv[1], "files") == 0) {
    close_range(3, ~0u, 0);
    struct stat st;
    struct utsname u;
    char buf[8];
    // The calls themselves, not the C library's choice (its stat() is newfstatat).
    syscall(SYS_stat, argv[2], &st);
    syscall(SYS_lstat, argv[2], &st);
    syscall(SYS_newfstatat, AT_FDCWD, argv[2], &st, AT_SYMLINK_NOFOLLOW);
    int in = open(argv[2], O_RDONLY);
    int out = open("/dev/null", O_WRONLY);
    if (in < 0 || out < 0) return 1;
    syscall(SYS_fstat, in, &st);
    if (pread(in, buf, 4, 1) < 0) return 1;
    uname(&u);
    if (pwrite(out, "hello", 5, 7) < 0) return 1;
    if (sendfile(out, in, 0, 4) < 0) return 1;
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "prctl") == 0) {
    syscall(SYS_prctl, PR_GET_DUMPABLE, 0L, 0L, 0L, 0L);
    syscall(SYS_prctl, PR_SET_DUMPABLE, 1L, 0L, 0L, 0L);
    syscall(SYS_prctl, PR_SET_PDEATHSIG, (long)SIGTERM, 0L, 0L, 0L);
    syscall(SYS_prctl, PR_CAPBSET_READ, 21L, 0L, 0L, 0L);  // CAP_SYS_ADMIN
    syscall(SYS_prctl, PR_SET_TSC, (long)PR_TSC_ENABLE, 0L, 0L, 0L);
    syscall(SYS_prctl, PR_SET_TIMING, (long)PR_TIMING_STATISTICAL, 0L, 0L, 0L);
    syscall(SYS_prctl, PR_SET_PTRACER, -1L, 0L, 0L, 0L);  // PR_SET_PTRACER_ANY
    syscall(SYS_prctl, PR_MCE_KILL, (long)PR_MCE_KILL_SET, (long)PR_MCE_KILL_EARLY, 0L, 0L);
    syscall(SYS_prctl, PR_SET_SECUREBITS, 0x110L, 0L, 0L, 0L);  // SECBIT_KEEP_CAPS|0x100
    syscall(SYS_prctl, PR_SET_MM, 99L, 7L, 0L, 0L);
    syscall(SYS_prctl, PR_SET_UNALIGN, (long)PR_UNALIGN_SIGBUS, 0L, 0L, 0L);
    syscall(SYS_prctl, 52L, 1L, 2L, 3L, 4L);  // PR_GET_SPECULATION_CTRL, unknown to stap
    syscall(SYS_readv, -1L, 0L, 1L);
    syscall(SYS_writev, -5L, 0L, -1L);
    syscall(SYS_preadv, -1L, 0L, 2L, 0x1000L, 0L);
    syscall(SYS_pwritev, -1L, 0L, 1L, 7L, 0L);
    syscall(SYS_preadv2, -1L, 0L, 2L, 0x1000L, 0L, 5L);  // RWF_HIPRI | RWF_SYNC
    syscall(SYS_pwritev2, -1L, 0L, 1L, 7L, 0L, 0L);
    syscall(SYS_sendmmsg, -1L, 0L, 0L, (long)MSG_DONTWAIT);
    syscall(SYS_recvmmsg, -1L, 0L, 1L, (long)(MSG_PEEK | MSG_WAITALL), 0L);
    return 0;
  }
  if (argc == 2 && strcmp(argv[1], "ids") == 0) return getpgid(0) < 0 || getsid(0) < 0;
  if (argc == 2 && strcmp(argv[1], "spawn") == 0) {
    pid_t child = fork();
    if (child == 0) {
      pid_t grandchild = fork();
      if (grandchild == 0) _exit(0);
      waitpid(grandchild, 0, 0);
      _exit(0);
    }
    waitpid(child, 0, 0);
    return 0;
  }
  return 2;
}
