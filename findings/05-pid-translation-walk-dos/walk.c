#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <pthread.h>
#include <fcntl.h>
#include <time.h>
#include <sys/syscall.h>
static void *sl(void *x){ pause(); return 0; }
static double now(void){ struct timespec t; clock_gettime(CLOCK_MONOTONIC,&t); return t.tv_sec+t.tv_nsec/1e9; }
int main(int argc,char**argv){
  int n = atoi(argv[1]);
  for (int i=0;i<n;i++){ pthread_t t; pthread_attr_t a; pthread_attr_init(&a); pthread_attr_setstacksize(&a, 65536); if (pthread_create(&t,&a,sl,0)) { printf("threads: %d\n", i); break; } }
  double t0=now(); for (int i=0;i<20;i++) syscall(SYS_openat, AT_FDCWD, "/proc/32000/status", O_RDONLY);
  double t1=now(); for (int i=0;i<20;i++) syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY);
  double t2=now();
  printf("threads=%d: /proc/<absent>: %.2f ms/call, /etc/hostname: %.2f ms/call\n", n, (t1-t0)*50, (t2-t1)*50);
  return 0;
}
