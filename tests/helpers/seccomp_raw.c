/* A dynamic program that bypasses the shim with raw syscall(2). Prints "raw_open errno=N"
 * or "raw_open ok" for the path in argv[1]. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY);
    if (fd < 0) printf("raw_open errno=%d\n", errno);
    else printf("raw_open ok\n");
    return 0;
}
