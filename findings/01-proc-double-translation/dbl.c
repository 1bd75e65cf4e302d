#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
/* Reads PATH with raw syscalls (the seccomp transport) and prints its Name/Pid/NSpid lines. */
static int use_libc;
static void show(const char *path){
  char buf[4096]; int fd = use_libc ? open(path, O_RDONLY) : syscall(SYS_openat, AT_FDCWD, path, O_RDONLY);
  if (fd < 0){ printf("%-22s -> open: %s\n", path, strerror(errno)); return; }
  int n = read(fd, buf, sizeof buf - 1); close(fd); if (n < 0) n = 0; buf[n] = 0;
  char out[512] = ""; for (char *l = strtok(buf, "\n"); l; l = strtok(NULL, "\n"))
    if (!strncmp(l,"Name:",5)||!strncmp(l,"Pid:",4)||!strncmp(l,"NSpid:",6)) { strcat(out, l); strcat(out, " | "); }
  printf("%-22s -> %s\n", path, out);
}
int main(int argc, char **argv){
  use_libc = argc > 1 && !strcmp(argv[1], "libc");
  char buf[256]; int fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY);
  int n = read(fd, buf, sizeof buf - 1); close(fd); buf[n > 0 ? n : 0] = 0;
  int host = atoi(buf);                     /* first field: the host pid (docs/process-model.md) */
  printf("me: getpid()=%d host pid=%d\n", getpid(), host);
  show("/proc/self/status");
  if (host == getpid()) { printf("no pid namespace: nothing to do\n"); return 0; }
  pid_t q = -1;
  for (;;) {                                /* fork until a child of ours is numbered `host` in the namespace */
    pid_t c = fork();
    if (c == 0) { if (getpid() == host) { prctl(PR_SET_PDEATHSIG, SIGKILL); pause(); } _exit(0); }
    if (c < 0) { perror("fork"); return 1; }
    if (c == host) { q = c; break; }
    waitpid(c, NULL, 0);
    if (c > host) { printf("passed it (another process took %d)\n", host); return 1; }
  }
  printf("child Q has ns pid %d (= my host pid)\n", q);
  char p[64]; snprintf(p, sizeof p, "/proc/%d/status", getpid());
  show("/proc/self/status");
  show(p);
  show("/proc/thread-self/status");
  kill(q, SIGKILL); waitpid(q, NULL, 0);
  printf("after Q is gone:\n");
  show("/proc/self/status");
  return 0;
}
