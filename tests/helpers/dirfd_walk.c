/* Calls relative to directory fds, as fts (find, du, rm -r) and tar make them (issue 18).
 *
 * Opens, in the working directory:
 *   d     open("d", O_DIRECTORY)               a directory of the working directory
 *   sub   openat(d, "sub", O_DIRECTORY)        its subdirectory
 *   dup   fcntl(d, F_DUPFD_CLOEXEC)            a duplicate (fts stats through one)
 *   tree  open("d", O_RDONLY)                  opened as tar does, without O_DIRECTORY
 *   dsym  open("dsym", O_DIRECTORY)            through a symlink to d
 *   out   open("esc", O_DIRECTORY)             through a symlink to a directory outside
 * and prints, for each, `NAME PROBE RESULT` for: fstatat of a file, of a missing name, of
 * a symlink (followed), of "..", statx of a file, and a read-only openat of a file and of
 * a missing name (out: of "pub" and "secret" instead).
 *
 * With "cut" as argv[1], the program first cuts itself off from the broker (raw close of
 * the bootstrap socket and of the shim's channels, fd 512 and up): every call the shim
 * would forward then fails with EIO, so a result other than EIO was answered in-process.
 * Last it tries a raw openat of out/"secret" carrying the native-open mark (bit 30): only
 * Landlock decides that one.
 *
 * With "moved": see moved() below. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *res(int rc) {
    if (rc >= 0) return "ok";
    switch (errno) {
#define E(x) case x: return #x;
        E(ENOENT) E(ENOTDIR) E(EACCES) E(EPERM) E(EIO) E(ELOOP) E(EBADF) E(ENOSYS)
#undef E
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "errno %d", errno);
    return buf;
}

static int open_then_close(int dirfd, const char *name) {
    int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) close(fd);
    return fd;
}

static void probe(const char *label, int fd, const char *file, const char *missing) {
    struct stat st;
    struct statx stx;
    if (fd < 0) {
        printf("%s open %s\n", label, res(fd));
        return;
    }
    printf("%s stat-file %s\n", label, res(fstatat(fd, file, &st, AT_SYMLINK_NOFOLLOW)));
    printf("%s stat-missing %s\n", label, res(fstatat(fd, missing, &st, AT_SYMLINK_NOFOLLOW)));
    printf("%s stat-link %s\n", label, res(fstatat(fd, "link", &st, 0)));
    printf("%s stat-dotdot %s\n", label, res(fstatat(fd, "..", &st, AT_SYMLINK_NOFOLLOW)));
    printf("%s statx-file %s\n", label,
           res(statx(fd, file, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx)));
    printf("%s open-file %s\n", label, res(open_then_close(fd, file)));
    printf("%s open-missing %s\n", label, res(open_then_close(fd, missing)));
}

/* "moved": a directory fd keeps naming its directory after the directory is renamed and
 * another made in its place: unlinkat through the fd removes the moved directory's entry. */
static int moved(void) {
    int fd = open("m", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || rename("m", "m2") != 0 || mkdir("m", 0755) != 0) {
        printf("moved setup %s\n", res(-1));
        return 1;
    }
    close(open("m/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    close(open("m2/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    printf("moved unlinkat %s\n", res(unlinkat(fd, "x", 0)));
    printf("moved m/x %s\n", res(stat("m/x", &st)));
    printf("moved m2/x %s\n", res(stat("m2/x", &st)));
    printf("moved fstatat %s\n", res(fstatat(fd, "x", &st, AT_SYMLINK_NOFOLLOW)));
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "moved")) return moved();
    int cut = argc > 1 && !strcmp(argv[1], "cut");
    int d = open("d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int sub = d < 0 ? -1 : openat(d, "sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dup = d < 0 ? -1 : fcntl(d, F_DUPFD_CLOEXEC, 0);
    int tree = open("d", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    int dsym = open("dsym", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int out = open("esc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cut) {
        const char *boot = getenv("ARBITER_FD");
        if (!boot) {
            printf("not under arbiter\n");
            return 2;
        }
        syscall(SYS_close, atoi(boot));
        syscall(SYS_close_range, 512, ~0U, 0);
    }
    fflush(stdout);
    probe("d", d, "f", "missing");
    probe("sub", sub, "g", "missing");
    probe("dup", dup, "f", "missing");
    probe("tree", tree, "f", "missing");
    probe("dsym", dsym, "f", "missing");
    probe("out", out, "pub", "secret");
    if (out >= 0) {
        long fd = syscall(SYS_openat, out, "secret", O_RDONLY | O_CLOEXEC | (1 << 30));
        printf("out raw-marked-open-secret %s\n", res((int)fd));
    }
    return 0;
}
