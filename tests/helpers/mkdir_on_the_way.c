/* The directories on the way to a granted path (issue 18): with umask 0, makes BASE/a and
 * BASE/a/b (on the way to a rule on BASE/a/b/c), BASE/other (on the way to nothing), a
 * symlink BASE/q and a file BASE/f (each on the way to a rule beneath), and prints each
 * result, with the mode of what was made:
 *   mkdir a: ok 755 | mkdir a: ERR   (and so on)
 * Built dynamically (libc: the shim) and with -DRAW -static (raw system calls: the seccomp
 * transport). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef RAW
#define MKDIR(p, m) syscall(SYS_mkdirat, AT_FDCWD, p, m)
#define SYMLINK(t, p) syscall(SYS_symlinkat, t, AT_FDCWD, p)
#define CREATE(p) syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)
#else
#define MKDIR(p, m) mkdir(p, m)
#define SYMLINK(t, p) symlink(t, p)
#define CREATE(p) open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)
#endif

static const char *base;

static void report(const char *what, const char *name, long rc) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", base, name);
    if (rc < 0) {
        printf("%s %s: %s\n", what, name, strerror(errno));
        return;
    }
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
        printf("%s %s: ok %o\n", what, name, st.st_mode & 07777);
    else
        printf("%s %s: ok\n", what, name);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: mkdir_on_the_way BASE\n");
        return 2;
    }
    base = argv[1];
    umask(0);
    char p[4096];
    const char *dirs[] = {"a", "a/b", "other"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", base, dirs[i]);
        report("mkdir", dirs[i], MKDIR(p, 0777));
    }
    snprintf(p, sizeof p, "%s/q", base);
    report("symlink", "q", SYMLINK("/", p));
    snprintf(p, sizeof p, "%s/f", base);
    long fd = CREATE(p);
    report("create", "f", fd);
    return 0;
}
