/* A hostile program that writes request frames straight onto its own call channel, as
 * bytes the test encoded, with raw system calls (no libc wrapper the shim could hook).
 *
 * Usage:
 *   wire frame VERSION HEX...
 *                       register one call channel on $ARBITER_FD (protocol VERSION), send
 *                       each HEX frame on it and print, per frame, "reply HEX" and, when an
 *                       fd came back, "data HEX" (its first bytes; "data -" when it cannot
 *                       be read). A closed channel prints "closed".
 *   wire read PATH      the native control: open PATH read-only and print "data HEX",
 *                       or "errno N".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void hex(const char *tag, const unsigned char *p, long n) {
    printf("%s ", tag);
    if (n == 0) printf("-");
    for (long i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static void print_data(long fd) {
    unsigned char buf[256];
    long n = syscall(SYS_read, fd, buf, sizeof buf);
    if (n < 0) { printf("data -\n"); return; }
    hex("data", buf, n);
}

static int unhex(const char *s, unsigned char *out, int max) {
    int n = 0;
    for (; s[0] && s[1] && n < max; s += 2) {
        char b[3] = {s[0], s[1], 0};
        out[n++] = (unsigned char)strtoul(b, NULL, 16);
    }
    return n;
}

/* sendmsg with at most one fd. */
static long send_fd(int sock, const void *buf, long len, int fd) {
    struct iovec iov = {(void *)buf, (size_t)len};
    char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    memset(ctl, 0, sizeof ctl);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return syscall(SYS_sendmsg, sock, &m, 0);
}

/* recvmsg; *fd receives one passed fd or -1. */
static long recv_fd(int sock, void *buf, long len, int *fd) {
    struct iovec iov = {buf, (size_t)len};
    char ctl[CMSG_SPACE(4 * sizeof(int))];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    long n = syscall(SYS_recvmsg, sock, &m, 0);
    *fd = -1;
    if (n >= 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(fd, CMSG_DATA(c), sizeof *fd);
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: wire frame VERSION HEX... | wire read PATH\n"); return 2; }
    if (!strcmp(argv[1], "read")) {
        long fd = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY);
        if (fd < 0) { printf("errno %d\n", errno); return 1; }
        print_data(fd);
        return 0;
    }
    const char *env = getenv("ARBITER_FD");
    if (!env) { printf("no ARBITER_FD\n"); return 2; }
    int boot = atoi(env);
    int sv[2];
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) { perror("socketpair"); return 2; }
    /* Register: the protocol version as a postcard varint (one byte; argv[2] holds it). */
    unsigned char reg = (unsigned char)atoi(argv[2]);
    if (send_fd(boot, &reg, 1, sv[1]) < 0) { perror("register"); return 2; }
    syscall(SYS_close, sv[1]);
    unsigned char buf[16384];
    int fd;
    if (recv_fd(sv[0], buf, sizeof buf, &fd) <= 0) { printf("no welcome\n"); return 2; }
    for (int i = 3; i < argc; i++) {
        static unsigned char frame[16384];
        int len = unhex(argv[i], frame, sizeof frame);
        if (send_fd(sv[0], frame, len, -1) < 0) { printf("closed\n"); continue; }
        long n = recv_fd(sv[0], buf, sizeof buf, &fd);
        if (n <= 0) { printf("closed\n"); continue; }
        hex("reply", buf, n);
        if (fd >= 0) print_data(fd);
    }
    fflush(stdout);
    return 0;
}
