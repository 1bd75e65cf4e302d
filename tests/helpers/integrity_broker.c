/* The broker's integrity (issue 14's red team): one call through libc (MODE) or as a raw
 * system call (raw-MODE). Prints "ok" and exits 0 on success, "errno N" and exits 1.
 *   swapread TARGET PATH   symlink TARGET at PATH.swap, rename it over PATH, read PATH
 *   read PATH              open read-only and read
 *   openpath PATH          open(PATH, O_PATH)
 *   stat PATH              stat (follows symlinks)
 *   bindhex DIR HEX        bind a unix socket at DIR/<bytes of HEX>
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static int done(long rc) {
    if (rc < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: integrity_broker [raw-]MODE ARG...\n"); return 2; }
    int raw = !strncmp(argv[1], "raw-", 4);
    const char *m = raw ? argv[1] + 4 : argv[1];
    const char *a = argv[2], *b = argc > 3 ? argv[3] : "";
    char buf[4096];
    struct stat st;
    if (!strcmp(m, "swapread")) {
        snprintf(buf, sizeof buf, "%s.swap", b);
        long rc = raw ? syscall(SYS_symlinkat, a, AT_FDCWD, buf) : symlink(a, buf);
        if (rc < 0) return done(rc);
        rc = raw ? syscall(SYS_renameat2, AT_FDCWD, buf, AT_FDCWD, b, 0) : rename(buf, b);
        if (rc < 0) return done(rc);
        long fd = raw ? syscall(SYS_openat, AT_FDCWD, b, O_RDONLY) : open(b, O_RDONLY);
        if (fd < 0) return done(fd);
        return done(raw ? syscall(SYS_read, fd, buf, sizeof buf) : read(fd, buf, sizeof buf));
    }
    if (!strcmp(m, "read")) {
        long fd = raw ? syscall(SYS_openat, AT_FDCWD, a, O_RDONLY) : open(a, O_RDONLY);
        if (fd < 0) return done(fd);
        return done(raw ? syscall(SYS_read, fd, buf, sizeof buf) : read(fd, buf, sizeof buf));
    }
    if (!strcmp(m, "openpath"))
        return done(raw ? syscall(SYS_openat, AT_FDCWD, a, O_PATH) : open(a, O_PATH));
    if (!strcmp(m, "stat"))
        return done(raw ? syscall(SYS_newfstatat, AT_FDCWD, a, &st, 0) : stat(a, &st));
    if (!strcmp(m, "bindhex")) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        size_t n = strlen(a), h = strlen(b) / 2;
        if (n + 1 + h >= sizeof sun.sun_path) return 2;
        memcpy(sun.sun_path, a, n);
        sun.sun_path[n] = '/';
        for (size_t i = 0; i < h; i++) {
            char hx[3] = {b[2 * i], b[2 * i + 1], 0};
            sun.sun_path[n + 1 + i] = (char)strtol(hx, NULL, 16);
        }
        long s = raw ? syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0) : socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0) return done(s);
        return done(raw ? syscall(SYS_bind, s, &sun, sizeof sun) : bind(s, (struct sockaddr *)&sun, sizeof sun));
    }
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
