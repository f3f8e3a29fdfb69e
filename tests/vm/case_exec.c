/* Runs one VM case's command inside the guest the way tests/runtime/runtime_test.cpp runs a
 * case on the host (busybox's `timeout` counts whole seconds, and its shell starts
 * background jobs with SIGINT ignored, so the guest runner cannot do this in sh).
 *
 *   case_exec TIMEOUT SIGNAL AFTER STDOUT-TO OUT ERR PROGRAM [ARGS...]
 *
 * SIGNAL is INT, TERM, HUP or - (none), sent AFTER seconds from the start; STDOUT-TO is
 * full (/dev/full), closed, broken-pipe (a pipe whose reader has gone) or - (the file
 * OUT). Prints "STATUS TIMED-OUT STOP-SECONDS ELAPSED-SECONDS": the exit status (128+N
 * when killed by signal N), 1 when PROGRAM was killed at TIMEOUT seconds, and the seconds
 * from the signal (or the start) to the end. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char** argv) {
  if (argc < 8) {
    fprintf(stderr, "usage: case_exec TIMEOUT SIGNAL AFTER STDOUT-TO OUT ERR PROGRAM [ARGS...]\n");
    return 2;
  }
  double timeout = atof(argv[1]), after = atof(argv[3]);
  const char* sig_name = argv[2];
  const char* to = argv[4];
  int sig = strcmp(sig_name, "TERM") == 0  ? SIGTERM
            : strcmp(sig_name, "HUP") == 0 ? SIGHUP
            : strcmp(sig_name, "INT") == 0 ? SIGINT
                                           : 0;
  if (strcmp(to, "full") == 0) { /* an empty OUT, for the runner to read back */
    FILE* empty = fopen(argv[5], "w");
    if (empty) fclose(empty);
  }
  int broken[2] = {-1, -1};
  if (strcmp(to, "broken-pipe") == 0 && pipe(broken) != 0) return 2;
  double start = now();
  pid_t pid = fork();
  if (pid < 0) return 2;
  if (pid == 0) {
    /* The command sees the dispositions an interactive shell would give it. */
    signal(SIGINT, SIG_DFL);
    signal(SIGQUIT, SIG_DFL);
    signal(SIGPIPE, SIG_DFL);
    const char* out = strcmp(to, "full") == 0 ? "/dev/full" : argv[5];
    if (!freopen(out, "w", stdout) || !freopen(argv[6], "w", stderr)) _exit(126);
    /* Appending, as `>>` would: the command and btaprun share these files, and a write
     * that does not take the shared file position's lock (sendfile, which busybox's cat
     * uses) can otherwise overwrite what the other wrote meanwhile. */
    fcntl(1, F_SETFL, fcntl(1, F_GETFL) | O_APPEND);
    fcntl(2, F_SETFL, fcntl(2, F_GETFL) | O_APPEND);
    if (strcmp(to, "closed") == 0) close(1);
    if (broken[1] >= 0) {
      dup2(broken[1], 1);
      close(broken[0]);
      close(broken[1]);
    }
    execvp(argv[7], argv + 7);
    fprintf(stderr, "case_exec: cannot run %s\n", argv[7]);
    _exit(127);
  }
  if (broken[0] >= 0) {
    close(broken[0]);
    close(broken[1]);
  }
  double signalled_at = start;
  int signalled = sig == 0, timed_out = 0, wstatus = 0;
  for (;;) {
    if (waitpid(pid, &wstatus, WNOHANG) == pid) break;
    double elapsed = now() - start;
    if (!signalled && elapsed >= after) {
      kill(pid, sig);
      signalled = 1;
      signalled_at = now();
    }
    if (elapsed > timeout) {
      kill(pid, SIGKILL);
      waitpid(pid, &wstatus, 0);
      timed_out = 1;
      break;
    }
    usleep(5000);
  }
  double end = now();
  int status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  printf("%d %d %.3f %.3f\n", status, timed_out, end - signalled_at, end - start);
  return 0;
}
