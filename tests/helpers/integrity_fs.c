/* One filesystem call, made through libc (MODE) or with a raw system call (raw-MODE), so a
 * test can run the same attack through the shim and through the seccomp transport.
 * Usage: integrity_fs MODE ARG...  Prints "ok" and exits 0 on success, "errno N" and exits 1.
 *   read PATH            open read-only and read
 *   stat PATH            stat (follows symlinks)
 *   rename OLD NEW       rename
 *   exchange A B         renameat2(RENAME_EXCHANGE)
 *   link OLD NEW         link
 *   rmdir PATH           rmdir
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

static int done(long rc) {
    if (rc < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: integrity_fs [raw-]MODE ARG...\n"); return 2; }
    int raw = !strncmp(argv[1], "raw-", 4);
    const char *m = raw ? argv[1] + 4 : argv[1];
    const char *a = argv[2], *b = argc > 3 ? argv[3] : "";
    char buf[64];
    struct stat st;
    if (!strcmp(m, "read")) {
        long fd = raw ? syscall(SYS_openat, AT_FDCWD, a, O_RDONLY) : open(a, O_RDONLY);
        if (fd < 0) return done(fd);
        return done(raw ? syscall(SYS_read, fd, buf, sizeof buf) : read(fd, buf, sizeof buf));
    }
    if (!strcmp(m, "stat"))
        return done(raw ? syscall(SYS_newfstatat, AT_FDCWD, a, &st, 0) : stat(a, &st));
    if (!strcmp(m, "rename"))
        return done(raw ? syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, 0) : rename(a, b));
    if (!strcmp(m, "exchange"))
        return done(raw ? syscall(SYS_renameat2, AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
                        : renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE));
    if (!strcmp(m, "link"))
        return done(raw ? syscall(SYS_linkat, AT_FDCWD, a, AT_FDCWD, b, 0) : link(a, b));
    if (!strcmp(m, "rmdir"))
        return done(raw ? syscall(SYS_unlinkat, AT_FDCWD, a, AT_REMOVEDIR) : rmdir(a));
    fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
}
