/* Reaching descriptors a program holds by the names Linux gives them (issue 18), with raw
 * system calls (no libc wrapper the shim could hook) unless the mode ends in "-libc".
 * Usage:
 *   compat_fd with-fd FD MODE PATH -- CMD...  open PATH as FD (MODE r, w, rw, path, dir),
 *                                             then exec CMD (outside arbiter: the fd is
 *                                             inherited, as a shell's redirection is)
 *   compat_fd reopen NAME MODE                open NAME (MODE r, w, rw, wt: write+trunc,
 *                                             dir) and read or write one byte through it
 *   compat_fd reopen-libc NAME MODE           the same through libc's open()
 *   compat_fd stat NAME                       stat(NAME)
 *   compat_fd access NAME MODE                faccessat(NAME, MODE: f, r, w, rw)
 *   compat_fd pipe-access                     access(R_OK|W_OK) of a pipe's /dev/fd/N
 *   compat_fd dir-escape FD NAME              re-open the directory fd FD through
 *                                             /proc/self/fd/FD, then read NAME beneath it
 *   compat_fd socket-reopen                   re-open one end of a socketpair
 *   compat_fd pipe-stat                       stat a pipe's read end by /dev/fd/N
 *   compat_fd pipe-reopen                     re-open a pipe's read end, read what was
 *                                             written to the write end
 *   compat_fd proc NAME                       read NAME, a file of /proc (the caller's own);
 *                                             checks "Tgid:" of a status file is the caller's
 *   compat_fd proc-pid NAME                   read /proc/<own pid>/NAME
 *   compat_fd proc-thread NAME                the same from a second thread (NAME relative
 *                                             to the thread's /proc/<pid>/task/<tid>, or
 *                                             pid/REST for /proc/<pid>/REST)
 *   compat_fd unix-pair PATH                  bind and listen on PATH, connect to it, pass
 *                                             a byte (the socket file is removed after)
 *   compat_fd unix-connect PATH               connect to PATH
 *   compat_fd write-exec SRC N                N times: copy SRC to ./x (raw open, write,
 *                                             close), fork, raw execve ./x; "errno 26"
 *                                             (ETXTBSY) if any exec found x still open for
 *                                             writing
 *   compat_fd readlink NAME                   readlink(NAME) must name this very program
 * Prints "ok" and exits 0 on success, "errno N" and exits 1 on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int done(long rc) {
    if (rc < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok\n");
    return 0;
}

static int usage(void) { printf("usage\n"); return 2; }

static int flags_of(const char *mode) {
    if (!strcmp(mode, "r")) return O_RDONLY;
    if (!strcmp(mode, "w")) return O_WRONLY;
    if (!strcmp(mode, "rw")) return O_RDWR;
    if (!strcmp(mode, "wt")) return O_WRONLY | O_TRUNC;
    if (!strcmp(mode, "path")) return O_PATH;
    if (!strcmp(mode, "dir")) return O_RDONLY | O_DIRECTORY;
    return -1;
}

/* Uses fd as the mode says: a byte read (r, dir: getdents), written (w, wt) or both. */
static long use(int fd, const char *mode) {
    char c;
    if (!strcmp(mode, "dir")) {
        char buf[512];
        return syscall(SYS_getdents64, fd, buf, sizeof buf);
    }
    if (mode[0] == 'r' && syscall(SYS_read, fd, &c, 1) < 0) return -1;
    if (strchr(mode, 'w') && syscall(SYS_write, fd, "x", 1) < 0) return -1;
    return 0;
}

static const char *name_arg;
static int thread_rc;

/* The innermost id on the `key` line of a /proc status text (`NStgid:`, `NSpid:`): the
 * process's id in its own pid namespace, what getpid() says — the host's /proc shows a
 * process in a pid namespace (arbiter's sandbox, as root) by its host pid in `Pid:`/`Tgid:`
 * and by both in `NStgid:`. -1 when the line is missing. */
static long innermost_id(const char *buf, const char *key) {
    const char *line = strstr(buf, key);
    if (!line) return -1;
    line += strlen(key);
    long last = -1;
    while (*line && *line != '\n') {
        while (*line == ' ' || *line == '\t') line++;
        if (*line < '0' || *line > '9') break;
        last = atol(line);
        while (*line >= '0' && *line <= '9') line++;
    }
    return last;
}

static long read_proc(const char *name) {
    long fd = syscall(SYS_openat, AT_FDCWD, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    static char buf[65536];
    long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    if (n < 0) return -1;
    buf[n] = 0;
    if (strstr(name, "status") && innermost_id(buf, "\nNStgid:") != (long)getpid()) {
        printf("other process\n");
        exit(4);
    }
    return 0;
}

static void *in_thread(void *arg) {
    (void)arg;
    char name[256];
    if (name_arg[0] == '/') snprintf(name, sizeof name, "%s", name_arg);
    else if (!strncmp(name_arg, "pid/", 4)) snprintf(name, sizeof name, "/proc/%d/%s", getpid(), name_arg + 4);
    else snprintf(name, sizeof name, "/proc/%d/task/%ld/%s", getpid(), syscall(SYS_gettid), name_arg);
    thread_rc = (int)read_proc(name);
    if (thread_rc < 0) thread_rc = -errno;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *m = argv[1];
    if (!strcmp(m, "with-fd") && argc > 6 && !strcmp(argv[5], "--")) {
        int want = atoi(argv[2]);
        int fl = flags_of(argv[3]);
        if (fl < 0) return usage();
        int fd = open(argv[4], fl);
        if (fd < 0) { printf("with-fd: cannot open: errno %d\n", errno); return 3; }
        if (fd != want && (dup2(fd, want) < 0 || close(fd) < 0)) return 3;
        execvp(argv[6], argv + 6);
        printf("with-fd: cannot exec: errno %d\n", errno);
        return 3;
    }
    if ((!strcmp(m, "reopen") || !strcmp(m, "reopen-libc")) && argc > 3) {
        int fl = flags_of(argv[3]);
        if (fl < 0 || fl == O_PATH) return usage();
        long fd = !strcmp(m, "reopen") ? syscall(SYS_openat, AT_FDCWD, argv[2], fl | O_CLOEXEC)
                                       : open(argv[2], fl | O_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(use((int)fd, argv[3]));
    }
    if (!strcmp(m, "stat") && argc > 2) {
        struct stat st;
        return done(syscall(SYS_newfstatat, AT_FDCWD, argv[2], &st, 0));
    }
    if (!strcmp(m, "access") && argc > 3) {
        int mode = !strcmp(argv[3], "f") ? F_OK : !strcmp(argv[3], "r") ? R_OK
                 : !strcmp(argv[3], "w") ? W_OK : !strcmp(argv[3], "rw") ? R_OK | W_OK : -1;
        if (mode < 0) return usage();
        return done(syscall(SYS_faccessat, AT_FDCWD, argv[2], mode));
    }
    if (!strcmp(m, "pipe-access")) {
        int p[2];
        if (pipe(p) < 0) return 3;
        char name[64];
        snprintf(name, sizeof name, "/dev/fd/%d", p[0]);
        return done(syscall(SYS_faccessat, AT_FDCWD, name, R_OK | W_OK));
    }
    if (!strcmp(m, "dir-escape") && argc > 3) {
        char name[64];
        snprintf(name, sizeof name, "/proc/self/fd/%s", argv[2]);
        long d = syscall(SYS_openat, AT_FDCWD, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0) { printf("reopen failed: errno %d\n", errno); return 3; }
        long fd = syscall(SYS_openat, d, argv[3], O_RDONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(use((int)fd, "r"));
    }
    if (!strcmp(m, "socket-reopen")) {
        int sv[2];
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 3;
        char name[64];
        snprintf(name, sizeof name, "/proc/self/fd/%d", sv[0]);
        return done(syscall(SYS_openat, AT_FDCWD, name, O_RDWR | O_CLOEXEC));
    }
    if (!strcmp(m, "pipe-reopen")) {
        int p[2];
        if (pipe(p) < 0 || write(p[1], "y", 1) != 1) return 3;
        char name[64], c = 0;
        snprintf(name, sizeof name, "/dev/fd/%d", p[0]);
        long fd = syscall(SYS_openat, AT_FDCWD, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        if (syscall(SYS_read, fd, &c, 1) != 1 || c != 'y') { printf("wrong data\n"); return 4; }
        return done(0);
    }
    if (!strcmp(m, "pipe-stat")) {
        int p[2];
        struct stat st;
        if (pipe(p) < 0) return 3;
        char name[64];
        snprintf(name, sizeof name, "/dev/fd/%d", p[0]);
        if (syscall(SYS_newfstatat, AT_FDCWD, name, &st, 0) < 0) return done(-1);
        if (!S_ISFIFO(st.st_mode)) { printf("not a fifo\n"); return 4; }
        return done(0);
    }
    if ((!strcmp(m, "unix-pair") || !strcmp(m, "unix-connect")) && argc > 2) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(argv[2]) >= sizeof a.sun_path) return usage();
        strcpy(a.sun_path, argv[2]);
        long c = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0) return 3;
        if (!strcmp(m, "unix-connect")) return done(syscall(SYS_connect, c, &a, sizeof a));
        long l = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (l < 0) return 3;
        if (syscall(SYS_bind, l, &a, sizeof a) < 0) return done(-1);
        long rc = syscall(SYS_listen, l, 1);
        if (rc == 0) rc = syscall(SYS_connect, c, &a, sizeof a);
        long s = rc == 0 ? syscall(SYS_accept4, l, NULL, NULL, SOCK_CLOEXEC) : -1;
        char b = 0;
        if (s >= 0 && (syscall(SYS_write, c, "z", 1) != 1 || syscall(SYS_read, s, &b, 1) != 1 || b != 'z'))
            s = -1;
        int saved = errno;
        unlink(argv[2]);
        errno = saved;
        return done(s < 0 ? -1 : 0);
    }
    if (!strcmp(m, "write-exec") && argc > 3) {
        static char buf[1 << 20];
        long src = syscall(SYS_openat, AT_FDCWD, argv[2], O_RDONLY | O_CLOEXEC);
        long len = src < 0 ? -1 : syscall(SYS_read, src, buf, sizeof buf);
        if (len <= 0) return 3;
        int busy = 0;
        for (int i = 0, n = atoi(argv[3]); i < n; i++) {
            syscall(SYS_unlinkat, AT_FDCWD, "x", 0);
            long fd = syscall(SYS_openat, AT_FDCWD, "x", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
            if (fd < 0) return done(-1);
            if (syscall(SYS_write, fd, buf, len) != len || syscall(SYS_close, fd) < 0) return 3;
            pid_t p = fork();
            if (p == 0) {
                char *av[] = {"x", NULL}, *ev[] = {NULL};
                syscall(SYS_execve, "./x", av, ev);
                _exit(errno == ETXTBSY ? 99 : 98);
            }
            int st;
            if (p < 0 || waitpid(p, &st, 0) != p) return 3;
            if (WIFEXITED(st) && WEXITSTATUS(st) == 99) busy++;
            else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) { printf("exec failed: %d\n", st); return 4; }
        }
        syscall(SYS_unlinkat, AT_FDCWD, "x", 0);
        if (busy) { errno = ETXTBSY; return done(-1); }
        return done(0);
    }
    if (!strcmp(m, "proc") && argc > 2) return done(read_proc(argv[2]));
    if (!strcmp(m, "proc-pid") && argc > 2) {
        char name[256];
        snprintf(name, sizeof name, "/proc/%d/%s", getpid(), argv[2]);
        return done(read_proc(name));
    }
    if (!strcmp(m, "proc-thread") && argc > 2) {
        name_arg = argv[2];
        pthread_t t;
        if (pthread_create(&t, NULL, in_thread, NULL) != 0 || pthread_join(t, NULL) != 0) return 3;
        if (thread_rc < 0) { errno = -thread_rc; return done(-1); }
        return done(0);
    }
    if (!strcmp(m, "readlink") && argc > 2) {
        char buf[4096], self[4096];
        long n = syscall(SYS_readlinkat, AT_FDCWD, argv[2], buf, sizeof buf - 1);
        if (n < 0) return done(-1);
        buf[n] = 0;
        if (!realpath(argv[0], self) || strcmp(buf, self)) { printf("names %s\n", buf); return 4; }
        return done(0);
    }
    return usage();
}
