// linger CMD...: runs CMD, then waits 2 s before it exits with CMD's status. The kernel
// accounting rows of runtime_bench.sh run their workload under it, so that a tool's
// programs are still loaded, at their final counts, when the figures are read.
// (A program rather than a script: bpftrace's -c runs only executables it can read.)
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
  sleep(2);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
