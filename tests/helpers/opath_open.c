/* opath_open PATH: opens PATH with O_PATH through a raw openat system call (built -static,
 * only the seccomp transport sees it); prints "fd ok" or "errno N". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { printf("usage\n"); return 2; }
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_PATH | O_CLOEXEC);
    if (fd < 0) { printf("errno %d\n", errno); return 1; }
    printf("fd ok\n");
    return 0;
}
