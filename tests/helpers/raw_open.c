/* raw_open PATH: reads PATH through a raw openat system call (no libc wrapper the shim could
 * hook; built -static there is no shim at all) and prints its contents; on failure prints
 * "errno N" and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) { printf("usage\n"); return 2; }
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0) { printf("errno %d\n", errno); return 1; }
    char buf[4096];
    long n;
    while ((n = syscall(SYS_read, fd, buf, sizeof buf)) > 0) {
        if (write(1, buf, (size_t)n) != n) return 3;
    }
    return n < 0 ? 3 : 0;
}
