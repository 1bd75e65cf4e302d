/* An escape attempt made with raw system calls (no libc wrapper the shim could hook).
 * Usage: escape MODE ARG...  Prints "ok" and exits 0 on success, "errno N" and exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int done(long rc) {
    if (rc < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok\n");
    return 0;
}

static long unix_connect(const char *name, int abstract) {
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    socklen_t len;
    if (abstract) { strncpy(a.sun_path + 1, name, sizeof a.sun_path - 2); len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(name); }
    else { strncpy(a.sun_path, name, sizeof a.sun_path - 1); len = sizeof a; }
    long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
    if (s < 0) return s;
    return syscall(SYS_connect, s, &a, len);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: escape MODE ARG\n"); return 2; }
    const char *m = argv[1], *p = argv[2];
    if (!strcmp(m, "read")) return done(syscall(SYS_openat, AT_FDCWD, p, O_RDONLY));
    if (!strcmp(m, "cat")) { /* one raw read of at most 4 KiB, printed, then the verdict */
        static char buf[4096];
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
        if (fd < 0) return done(fd);
        long n = syscall(SYS_read, fd, buf, sizeof buf);
        if (n < 0) return done(n);
        syscall(SYS_write, 1, buf, n);
        syscall(SYS_write, 1, "\n", 1);
        return done(0);
    }
    if (!strcmp(m, "create")) return done(syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL, 0644));
    if (!strcmp(m, "write")) return done(syscall(SYS_openat, AT_FDCWD, p, O_WRONLY));
    if (!strcmp(m, "rename")) return done(syscall(SYS_renameat2, AT_FDCWD, p, AT_FDCWD, argv[3], 0));
    if (!strcmp(m, "unlink")) return done(syscall(SYS_unlinkat, AT_FDCWD, p, 0));
    if (!strcmp(m, "chmod")) return done(syscall(SYS_fchmodat, AT_FDCWD, p, 0777));
    if (!strcmp(m, "unix")) return done(unix_connect(p, 0));
    if (!strcmp(m, "abstract")) return done(unix_connect(p, 1));
    if (!strcmp(m, "tcp") || !strcmp(m, "udp")) {
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(atoi(p));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int udp = !strcmp(m, "udp");
        long s = syscall(SYS_socket, AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
        if (s < 0) return done(s);
        if (udp) return done(syscall(SYS_sendto, s, "x", 1, 0, &a, sizeof a));
        return done(syscall(SYS_connect, s, &a, sizeof a));
    }
    if (!strcmp(m, "kill")) {
        long pid = !strcmp(p, "parent") ? (long)getppid() : atol(p);
        /* Parent 0: it is outside this process's pid namespace (arbiter as root), so no pid
         * names it here; kill(0) would probe the own process group instead. */
        if (pid == 0) {
            errno = ESRCH;
            return done(-1);
        }
        return done(syscall(SYS_kill, pid, 0));
    }
    if (!strcmp(m, "ptrace")) {
        long pid = !strcmp(p, "parent") ? (long)getppid() : atol(p);
        long rc = syscall(SYS_ptrace, PTRACE_SEIZE, pid, 0, 0);
        if (rc == 0) syscall(SYS_ptrace, PTRACE_DETACH, pid, 0, 0);
        return done(rc);
    }
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
}
