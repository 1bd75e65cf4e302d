/* Opens each argument with libc open() (the shim) or, with -raw first, raw openat (seccomp),
   and prints its Name:/NSpid: lines. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv){
  int raw = argc > 1 && !strcmp(argv[1], "-raw");
  char me[32]; snprintf(me, sizeof me, "%d", getpid());
  const char *fmt[] = {"/proc/%s/status", "/proc//%s/status", "/proc/./%s/status", "/proc/%s//status", 0};
  printf("getpid()=%s via %s\n", me, raw ? "raw openat (seccomp)" : "libc open (shim)");
  for (int i = 0; fmt[i]; i++) {
    char p[64], buf[4096], out[256] = ""; snprintf(p, sizeof p, fmt[i], me);
    int fd = raw ? syscall(SYS_openat, AT_FDCWD, p, O_RDONLY) : open(p, O_RDONLY);
    if (fd < 0) { printf("%-20s -> %s\n", p, strerror(errno)); continue; }
    int n = read(fd, buf, sizeof buf - 1); close(fd); buf[n > 0 ? n : 0] = 0;
    for (char *l = strtok(buf, "\n"); l; l = strtok(0, "\n"))
      if (!strncmp(l, "Name:", 5) || !strncmp(l, "NSpid:", 6)) { strcat(out, l); strcat(out, "  "); }
    printf("%-20s -> %s\n", p, out);
  }
  return 0;
}
