/* Removals as rm -r makes them, and a hostile program's own marked unlinkat (issue 18).
 *
 * In the working directory W the test prepares:
 *   in/f1 in/f2 in/f3 in/f4 in/sub/   files and an empty directory to remove
 *   mv/f mv/g                          a directory the test moves out of W meanwhile
 *   link -> X                          a symlink planted in the tree, to a directory
 *                                      outside X that the policy only reads
 * and X/victim1 … X/victim5, and passes X as argv[1]. The program opens in/ and mv/,
 * prints "ready", and waits for a
 * line on stdin (the test then renames W/mv to X/mv). Then it prints `NAME RESULT` for:
 *   path-in        unlinkat(AT_FDCWD, "in/f1", 0)
 *   fd-file        unlinkat(in, "f2", 0)
 *   fd-rmdir       unlinkat(in, "sub", AT_REMOVEDIR)
 *   symlink-path   unlinkat(AT_FDCWD, "link/victim1", 0)
 *   symlink-fd     unlinkat(open("link"), "victim2", 0)
 *   moved          unlinkat(mv, "f", 0)            (mv now lies in X)
 *   abs-outside    unlinkat(AT_FDCWD, "X/victim3", 0)
 * through libc (the shim, in a dynamic build), then the same with raw system calls whose
 * flags register carries the native-removal mark (bit 32) as a hostile program would set
 * it: raw-in (in/f3), raw-fd (in, "f4"), raw-symlink (link/victim4), raw-moved (mv, "g"),
 * raw-outside (X/victim5).
 *
 * With "cut" as argv[2], the program first cuts itself off from the broker (raw close of
 * the bootstrap socket and of the shim's channels, fd 512 and up): every call the shim
 * forwards then fails with EIO, so "ok" from a libc call was done in-process. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MARK (1ULL << 32)

static const char *res(long rc) {
    if (rc >= 0) return "ok";
    switch (errno) {
#define E(x) case x: return #x;
        E(ENOENT) E(ENOTDIR) E(EACCES) E(EPERM) E(EIO) E(EXDEV) E(EBADF) E(EINVAL) E(ENOSYS)
#undef E
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "errno %d", errno);
    return buf;
}

static long raw(int dirfd, const char *path, int flags) {
    return syscall(SYS_unlinkat, (long)dirfd, path, (unsigned long long)(unsigned)flags | MARK);
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *x = argv[1];
    int cut = argc > 2 && !strcmp(argv[2], "cut");
    int in = open("in", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int mv = open("mv", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int out = open("link", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (in < 0 || mv < 0 || out < 0) {
        printf("setup %s\n", res(-1));
        return 2;
    }
    char outside[4096], outside5[4096];
    snprintf(outside, sizeof outside, "%s/victim3", x);
    snprintf(outside5, sizeof outside5, "%s/victim5", x);
    printf("ready\n");
    fflush(stdout);
    char line[8];
    if (read(0, line, sizeof line) <= 0) return 2;
    if (cut) {
        const char *boot = getenv("ARBITER_FD");
        if (!boot) {
            printf("not under arbiter\n");
            return 2;
        }
        syscall(SYS_close, atoi(boot));
        syscall(SYS_close_range, 512, ~0U, 0);
    }
    printf("path-in %s\n", res(unlinkat(AT_FDCWD, "in/f1", 0)));
    printf("fd-file %s\n", res(unlinkat(in, "f2", 0)));
    printf("fd-rmdir %s\n", res(unlinkat(in, "sub", AT_REMOVEDIR)));
    printf("symlink-path %s\n", res(unlinkat(AT_FDCWD, "link/victim1", 0)));
    printf("symlink-fd %s\n", res(unlinkat(out, "victim2", 0)));
    printf("moved %s\n", res(unlinkat(mv, "f", 0)));
    printf("abs-outside %s\n", res(unlinkat(AT_FDCWD, outside, 0)));
    printf("raw-in %s\n", res(raw(AT_FDCWD, "in/f3", 0)));
    printf("raw-fd %s\n", res(raw(in, "f4", 0)));
    printf("raw-symlink %s\n", res(raw(AT_FDCWD, "link/victim4", 0)));
    printf("raw-moved %s\n", res(raw(mv, "g", 0)));
    printf("raw-outside %s\n", res(raw(AT_FDCWD, outside5, 0)));
    return 0;
}
