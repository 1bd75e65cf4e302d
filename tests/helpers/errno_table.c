/* errno parity (issue 18): one table of path calls, each made on a fresh copy of the same
 * small tree, printing what the call returned ("ok" or the errno's name). Run natively and
 * under arbiter, the outputs must be identical line for line.
 *
 * Built twice: dynamic and through libc (the shim's hooks answer), and with -DRAW -static
 * through raw system calls (the seccomp transport answers).
 *
 * Usage: errno_table DIR RO
 *   DIR must exist and be empty (one sub-directory per case); RO is a directory holding a
 *   directory "sub" and a file "file", which the calls must not change (under arbiter the
 *   policy grants it read-only). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef RAW
#define DO_OPEN(p, fl) syscall(SYS_openat, AT_FDCWD, p, fl, 0644)
#define DO_STAT(p, st) syscall(SYS_newfstatat, AT_FDCWD, p, st, 0)
#define DO_LSTAT(p, st) syscall(SYS_newfstatat, AT_FDCWD, p, st, AT_SYMLINK_NOFOLLOW)
#define DO_ACCESS(p, m) syscall(SYS_faccessat, AT_FDCWD, p, m)
#define DO_MKDIR(p) syscall(SYS_mkdirat, AT_FDCWD, p, 0755)
#define DO_RMDIR(p) syscall(SYS_unlinkat, AT_FDCWD, p, AT_REMOVEDIR)
#define DO_UNLINK(p) syscall(SYS_unlinkat, AT_FDCWD, p, 0)
#define DO_RENAME(a, b) syscall(SYS_renameat, AT_FDCWD, a, AT_FDCWD, b)
#define DO_LINK(a, b) syscall(SYS_linkat, AT_FDCWD, a, AT_FDCWD, b, 0)
#define DO_SYMLINK(a, b) syscall(SYS_symlinkat, a, AT_FDCWD, b)
#define DO_READLINK(p, buf, n) syscall(SYS_readlinkat, AT_FDCWD, p, buf, n)
#define DO_CHMOD(p) syscall(SYS_fchmodat, AT_FDCWD, p, 0600)
#define DO_TRUNCATE(p) syscall(SYS_truncate, p, 0)
#define DO_MKFIFO(p) syscall(SYS_mknodat, AT_FDCWD, p, S_IFIFO | 0644, 0)
#define DO_UTIMES(p) syscall(SYS_utimensat, AT_FDCWD, p, NULL, 0)
#define DO_CHDIR(p) syscall(SYS_chdir, p)
#else
#define DO_OPEN(p, fl) open(p, fl, 0644)
#define DO_STAT(p, st) stat(p, st)
#define DO_LSTAT(p, st) lstat(p, st)
#define DO_ACCESS(p, m) access(p, m)
#define DO_MKDIR(p) mkdir(p, 0755)
#define DO_RMDIR(p) rmdir(p)
#define DO_UNLINK(p) unlink(p)
#define DO_RENAME(a, b) rename(a, b)
#define DO_LINK(a, b) link(a, b)
#define DO_SYMLINK(a, b) symlink(a, b)
#define DO_READLINK(p, buf, n) readlink(p, buf, n)
#define DO_CHMOD(p) chmod(p, 0600)
#define DO_TRUNCATE(p) truncate(p, 0)
#define DO_MKFIFO(p) mkfifo(p, 0644)
#define DO_UTIMES(p) utimensat(AT_FDCWD, p, NULL, 0)
#define DO_CHDIR(p) chdir(p)
#endif

/* The tree every case starts from:
 *   f      a regular file (0644)          d      an empty directory
 *   e/c    a directory with a file in it  x      an executable file (0755)
 *   l -> f   ld -> d   dl -> nowhere (dangling)   loop -> loop */
static const char *const TREE[][2] = {
    {"d", "dir"}, {"e", "dir"}, {"f", "file"}, {"e/c", "file"}, {"x", "exe"},
    {"l", "->f"}, {"ld", "->d"}, {"dl", "->nowhere"}, {"loop", "->loop"},
};

/* One case: the call, its arguments ("@256" is a 256-byte name, "@4096" a path of 4096
 * bytes, "@255" a 255-byte name that does not exist). */
struct call {
    const char *op;
    const char *a;
    const char *b;
};

static const struct call CASES[] = {
    /* open: missing, trailing slash, directories, exclusive creation, links, lengths */
    {"open-r", "missing", 0},
    {"open-r", "missing/x", 0},
    {"open-r", "f/", 0},
    {"open-r", "f/x", 0},
    {"open-r", "d/", 0},
    {"open-w", "d", 0},
    {"open-rw", "d/", 0},
    {"open-creat", "new/", 0},
    {"open-creat", "missing/new", 0},
    {"open-creat", "f/new", 0},
    {"open-creat", "d", 0},
    {"open-excl", "f", 0},
    {"open-excl", "d", 0},
    {"open-excl", "l", 0},
    {"open-excl", "dl", 0},
    {"open-creat", "dl", 0},
    {"open-r", "dl", 0},
    {"open-r", "loop", 0},
    {"open-r", "loop/x", 0},
    {"open-nofollow", "l", 0},
    {"open-nofollow", "ld", 0},
    {"open-dir", "f", 0},
    {"open-dir", "l", 0},
    {"open-dir", "ld", 0},
    {"open-dir", "missing", 0},
    {"open-r", "@255", 0},
    {"open-r", "@256", 0},
    {"open-creat", "@256", 0},
    {"open-r", "@4096", 0},
    {"open-r", "", 0},
    {"open-trunc-r", "d", 0},
    {"open-path", "missing", 0},
    {"open-path", "f/", 0},
    /* stat, lstat, access */
    {"stat", "missing", 0},
    {"stat", "f/", 0},
    {"stat", "missing/x", 0},
    {"stat", "dl", 0},
    {"stat", "loop", 0},
    {"stat", "@256", 0},
    {"stat", "@4096", 0},
    {"stat", "", 0},
    {"lstat", "dl", 0},
    {"lstat", "loop", 0},
    {"lstat", "l/", 0},
    {"lstat", "ld/", 0},
    {"lstat", "dl/", 0},
    {"access-x", "missing", 0},
    {"access-x", "f", 0},
    {"access-x", "x", 0},
    {"access-x", "d", 0},
    {"access-r", "f/", 0},
    {"access-w", "dl", 0},
    {"access-f", "loop", 0},
    {"access-f", "@256", 0},
    /* mkdir, rmdir, unlink */
    {"mkdir", "d", 0},
    {"mkdir", "f", 0},
    {"mkdir", "l", 0},
    {"mkdir", "dl", 0},
    {"mkdir", "n/", 0},
    {"mkdir", "missing/n", 0},
    {"mkdir", "f/n", 0},
    {"mkdir", "@256", 0},
    {"mkdir", "", 0},
    {"rmdir", "f", 0},
    {"rmdir", "missing", 0},
    {"rmdir", "e", 0},
    {"rmdir", "d/", 0},
    {"rmdir", "d/.", 0},
    {"rmdir", "ld", 0},
    {"rmdir", "ld/", 0},
    {"rmdir", "f/", 0},
    {"unlink", "d", 0},
    {"unlink", "d/", 0},
    {"unlink", "f/", 0},
    {"unlink", "missing", 0},
    {"unlink", "l", 0},
    {"unlink", "ld/", 0},
    {"unlink", "dl/", 0},
    {"unlink", "", 0},
    /* rename */
    {"rename", "f", "g/"},
    {"rename", "f/", "g"},
    {"rename", "f", "d"},
    {"rename", "f", "e"},
    {"rename", "d", "f"},
    {"rename", "d", "e"},
    {"rename", "d", "g/"},
    {"rename", "d/", "g"},
    {"rename", "d", "d/sub"},
    {"rename", "missing", "g"},
    {"rename", "f", "missing/g"},
    {"rename", "f", "f"},
    {"rename", "l", "g/"},
    {"rename", "ld", "g/"},
    {"rename", "ld/", "g"},
    {"rename", "f", "@256"},
    /* link, symlink, readlink */
    {"link", "f", "g/"},
    {"link", "f", "e"},
    {"link", "d", "g"},
    {"link", "missing", "g"},
    {"link", "f/", "g"},
    {"link", "ld/", "g"},
    {"link", "l/", "g"},
    {"link", "dl/", "g"},
    {"symlink", "x", "l/"},
    {"symlink", "x", "g/"},
    {"symlink", "x", "f"},
    {"symlink", "x", "dl"},
    {"symlink", "x", "missing/g"},
    {"symlink", "", "g"},
    {"readlink", "f", 0},
    {"readlink", "missing", 0},
    {"readlink", "l/", 0},
    {"readlink", "d", 0},
    /* metadata and others */
    {"chmod", "missing", 0},
    {"chmod", "f/", 0},
    {"chmod", "dl", 0},
    {"truncate", "d", 0},
    {"truncate", "missing", 0},
    {"truncate", "f/", 0},
    {"mkfifo", "f", 0},
    {"mkfifo", "dl", 0},
    {"mkfifo", "g/", 0},
    {"utimes", "missing", 0},
    {"utimes", "dl", 0},
    {"utimes", "f/", 0},
    /* a final ".", ".." */
    {"rmdir", ".", 0},
    {"rmdir", "d/..", 0},
    {"unlink", "d/.", 0},
    {"mkdir", "d/.", 0},
    {"mkdir", ".", 0},
    {"open-creat", "d/.", 0},
    {"open-creat", "d/", 0},
    {"rename", "d/.", "g"},
    {"rename", "d", "e/.."},
    {"symlink", "x", "d/."},
    {"link", "f", "d/."},
    {"mkfifo", "d/.", 0},
    /* EEXIST before EACCES: "@ro/" is a directory the policy grants read-only */
    {"mkdir", "@ro/sub", 0},
    {"mkdir", "@ro/file", 0},
    {"mkdir", "@ro", 0},
    {"symlink", "x", "@ro/file"},
    {"link", "f", "@ro/file"},
    {"mkfifo", "@ro/sub", 0},
    {"open-excl", "@ro/file", 0},
    {"access-x", "@ro/missing", 0},
    {"stat", "@ro/missing", 0},
    {"open-r", "@ro/missing", 0},
};

static const char *errname(int e) {
    switch (e) {
#define E(x) case x: return #x;
        E(ENOENT) E(ENOTDIR) E(EISDIR) E(EEXIST) E(EACCES) E(EPERM) E(ELOOP) E(ENAMETOOLONG)
        E(EINVAL) E(ENOTEMPTY) E(EBUSY) E(EXDEV) E(EIO) E(ENOSYS) E(EBADF) E(EFAULT)
        E(EROFS) E(ETXTBSY) E(ENXIO) E(EMLINK)
#undef E
    }
    static char buf[32];
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

static char long_name[257], short_name[256], long_path[4097];

static const char *ro_dir;

static const char *expand(const char *s) {
    if (!s) return s;
    if (!strncmp(s, "@ro", 3)) {
        static char buf[2][4200];
        static int which;
        char *out = buf[which++ & 1];
        snprintf(out, sizeof buf[0], "%s%s", ro_dir, s + 3);
        return out;
    }
    if (!strcmp(s, "@256")) return long_name;
    if (!strcmp(s, "@255")) return short_name;
    if (!strcmp(s, "@4096")) return long_path;
    return s;
}

static void make_tree(void) {
    for (size_t i = 0; i < sizeof TREE / sizeof TREE[0]; i++) {
        const char *p = TREE[i][0], *kind = TREE[i][1];
        int rc;
        if (!strcmp(kind, "dir")) {
            rc = mkdir(p, 0755);
        } else if (kind[0] == '-') {
            rc = symlink(kind + 2, p);
        } else {
            int fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0644);
            rc = fd < 0 ? -1 : 0;
            if (fd >= 0) {
                rc = write(fd, "x\n", 2) == 2 ? 0 : -1;
                close(fd);
            }
            if (rc == 0 && !strcmp(kind, "exe")) rc = chmod(p, 0755);
        }
        if (rc != 0) {
            fprintf(stderr, "errno_table: cannot make %s: %s\n", p, strerror(errno));
            exit(3);
        }
    }
}

static long run(const struct call *c) {
    const char *a = expand(c->a), *b = expand(c->b);
    struct stat st;
    char buf[256];
    long rc;
    int flags = -1;
    if (!strcmp(c->op, "open-r")) flags = O_RDONLY;
    else if (!strcmp(c->op, "open-w")) flags = O_WRONLY;
    else if (!strcmp(c->op, "open-rw")) flags = O_RDWR;
    else if (!strcmp(c->op, "open-creat")) flags = O_WRONLY | O_CREAT;
    else if (!strcmp(c->op, "open-excl")) flags = O_WRONLY | O_CREAT | O_EXCL;
    else if (!strcmp(c->op, "open-nofollow")) flags = O_RDONLY | O_NOFOLLOW;
    else if (!strcmp(c->op, "open-dir")) flags = O_RDONLY | O_DIRECTORY;
    else if (!strcmp(c->op, "open-trunc-r")) flags = O_RDONLY | O_TRUNC;
    else if (!strcmp(c->op, "open-path")) flags = O_PATH;
    if (flags != -1) {
        rc = DO_OPEN(a, flags | O_CLOEXEC);
        if (rc >= 0) close((int)rc);
        return rc < 0 ? -1 : 0;
    }
    if (!strcmp(c->op, "stat")) return DO_STAT(a, &st);
    if (!strcmp(c->op, "lstat")) return DO_LSTAT(a, &st);
    if (!strcmp(c->op, "access-x")) return DO_ACCESS(a, X_OK);
    if (!strcmp(c->op, "access-r")) return DO_ACCESS(a, R_OK);
    if (!strcmp(c->op, "access-w")) return DO_ACCESS(a, W_OK);
    if (!strcmp(c->op, "access-f")) return DO_ACCESS(a, F_OK);
    if (!strcmp(c->op, "mkdir")) return DO_MKDIR(a);
    if (!strcmp(c->op, "rmdir")) return DO_RMDIR(a);
    if (!strcmp(c->op, "unlink")) return DO_UNLINK(a);
    if (!strcmp(c->op, "rename")) return DO_RENAME(a, b);
    if (!strcmp(c->op, "link")) return DO_LINK(a, b);
    if (!strcmp(c->op, "symlink")) return DO_SYMLINK(a, b);
    if (!strcmp(c->op, "readlink")) return DO_READLINK(a, buf, sizeof buf) < 0 ? -1 : 0;
    if (!strcmp(c->op, "chmod")) return DO_CHMOD(a);
    if (!strcmp(c->op, "truncate")) return DO_TRUNCATE(a);
    if (!strcmp(c->op, "mkfifo")) return DO_MKFIFO(a);
    if (!strcmp(c->op, "utimes")) return DO_UTIMES(a);
    fprintf(stderr, "errno_table: unknown op %s\n", c->op);
    exit(2);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: errno_table DIR RO\n");
        return 2;
    }
    ro_dir = argv[2];
    memset(long_name, 'a', 256);
    memset(short_name, 'b', 255);
    for (int i = 0; i < 4096; i += 2) memcpy(long_path + i, "./", 2);
    long_path[4095] = 'f';
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const struct call *c = &CASES[i];
        char dir[64];
        snprintf(dir, sizeof dir, "%s/%zu", argv[1], i);
        if (DO_CHDIR(argv[1]) != 0 || mkdir(dir, 0755) != 0 || DO_CHDIR(dir) != 0) {
            fprintf(stderr, "errno_table: cannot enter %s: %s\n", dir, strerror(errno));
            return 3;
        }
        make_tree();
        errno = 0;
        long rc = run(c);
        int e = errno;
        printf("%zu %s '%s'%s%s%s => %s\n", i, c->op, c->a[0] == '@' ? c->a : c->a,
               c->b ? " '" : "", c->b ? c->b : "", c->b ? "'" : "", rc < 0 ? errname(e) : "ok");
    }
    return 0;
}
