#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <fcntl.h>
#include <time.h>
#include <sys/syscall.h>
/* N idle threads make the broker's pid-translation walk long; K threads keep asking for a
   /proc/<n> that is no process of the sandbox; the main thread times an ordinary open. */
static void *sl(void *x){ pause(); return 0; }
static const char *target = "/proc/32000/status";
static void *ham(void *x){ for(;;) { int fd = syscall(SYS_openat, AT_FDCWD, target, O_RDONLY); if (fd >= 0) close(fd); } return 0; }
static double now(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec/1e9; }
int main(int argc,char**argv){
  int n = atoi(argv[1]), k = atoi(argv[2]); if (argc > 3) target = argv[3];
  pthread_attr_t a; pthread_attr_init(&a); pthread_attr_setstacksize(&a, 65536);
  for (int i=0;i<n;i++){ pthread_t t; pthread_create(&t,&a,sl,0); }
  for (int i=0;i<k;i++){ pthread_t t; pthread_create(&t,&a,ham,0); }
  sleep(2);
  for (int r=0;r<3;r++){ double t0=now(); int fd=syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY); close(fd);
    printf("n=%d k=%d: open /etc/hostname took %.1f ms\n", n, k, (now()-t0)*1000); fflush(stdout); sleep(1); }
  return 0;
}
