/* A command that leaves a daemon behind, made with raw system calls only (no libc wrapper
 * the shim could hook), for the tests of what outlives a run (tests/tests/floor_lifetime.rs).
 * Usage: lifetime DIR stay|exit [plain|named|chain|fill]
 * Writes its own pid to DIR/main.pid, then double-forks: the middle process calls setsid
 * and exits, so the daemon is re-parented (to arbiter's broker under arbiter, to a
 * subreaper or init natively). The daemon blocks every signal it can, sets every
 * disposition it can to SIG_IGN, writes its pid to DIR/daemon.pid (through a temporary
 * name and a rename, so a reader never sees a partial file), closes fds 0-2 and waits
 * forever. Once the
 * daemon's pid file exists, the command prints "ok" and then exits 0 ("exit") or waits
 * forever ("stay"). Exits 2 on bad arguments, 3 when a call fails.
 * The daemon's shape (the optional third argument; red-team findings against the end of a
 * run):
 *   plain  waits (the default);
 *   named  names itself "\xff\xfe-daemon" (prctl(PR_SET_NAME): a comm that is not UTF-8)
 *          after writing its pid file;
 *   chain  grows a chain at its tip: every link forks the next and waits, the tip adds a
 *          level every 2 ms, for 90 s (so a failed test ends by itself);
 *   fill   fills its broker's descriptor table: a unix datagram socket whose peer's queue
 *          is full (filled natively), and 19 processes that each sendmsg() a batch of
 *          SCM_RIGHTS descriptors on it (253 ×4, 128, …, 2, 1 ×8: the broker takes the
 *          descriptors of every batch that fits and holds them while the send blocks);
 *   libc   as plain, but the two forks and setsid go through libc (fork(), setsid(): the
 *          shim's hooks in the dynamic build) instead of raw system calls.
 * The pids written are the host's (host_pid): as root, arbiter runs the sandbox in a pid
 * namespace of its own. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The kernel's struct sigaction (rt_sigaction). */
struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    unsigned long mask;
};

static void fail(void) { syscall(SYS_exit_group, 3); }

static void nap(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_nanosleep, &t, NULL);
}

static void forever(void) {
    for (;;) nap(1000);
}

/* This process's pid as the host's /proc names it: under arbiter as root the sandbox has a
 * pid namespace of its own, where getpid() is not the pid the test (on the host) sees;
 * /proc is the host's, so the first field of /proc/self/stat is. getpid() if that fails. */
static long host_pid(void) {
    long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char buf[64];
        long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
        syscall(SYS_close, fd);
        long pid = 0;
        for (long i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) pid = pid * 10 + (buf[i] - '0');
        if (pid > 0) return pid;
    }
    return syscall(SYS_getpid);
}

/* Writes "PID\n" (the host's pid, host_pid) to DIR/NAME through DIR/NAME.tmp. */
static void write_pid(const char *dir, const char *name) {
    char tmp[4200], path[4096], line[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    long fd = syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail();
    int n = snprintf(line, sizeof line, "%ld\n", host_pid());
    if (syscall(SYS_write, fd, line, n) != n) fail();
    syscall(SYS_close, fd);
    if (syscall(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, path) < 0) fail();
}

static long raw_fork(void) { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

static long now_s(void) {
    struct timespec t;
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &t);
    return t.tv_sec;
}

/* The chain: returns only in the daemon (the head) once it has started its first link. */
static void chain(void) {
    long start = now_s();
    for (;;) {
        long child = raw_fork();
        if (child > 0) forever();             /* a link: waits for ever */
        if (child < 0) nap(2);
        nap(2);                               /* the new tip */
        if (now_s() - start > 90) syscall(SYS_exit_group, 0);
    }
}

/* The senders of "fill"; the daemon returns once all of them are started. */
static void fill(void) {
    int sv[2];
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM, 0, sv) < 0) fail();
    long fl = syscall(SYS_fcntl, sv[0], F_GETFL);
    syscall(SYS_fcntl, sv[0], F_SETFL, fl | O_NONBLOCK);
    while (syscall(SYS_write, sv[0], "y", 1) == 1) {
    }
    syscall(SYS_fcntl, sv[0], F_SETFL, fl);
    static int fds[253];
    for (int i = 0; i < 253; i++) {
        fds[i] = (int)syscall(SYS_dup, sv[1]);
        if (fds[i] < 0) fail();
    }
    static const int sizes[] = {253, 253, 253, 253, 128, 64, 32, 16, 8, 4, 2, 1, 1, 1, 1, 1, 1, 1, 1};
    for (unsigned k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        long pid = raw_fork();
        if (pid < 0) fail();
        if (pid == 0) {
            char c = 'x';
            struct iovec iov = {&c, 1};
            union {
                char b[CMSG_SPACE(sizeof fds)];
                struct cmsghdr h;
            } u;
            memset(&u, 0, sizeof u);
            struct msghdr m = {0};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = u.b;
            m.msg_controllen = CMSG_SPACE(sizes[k] * sizeof(int));
            struct cmsghdr *h = CMSG_FIRSTHDR(&m);
            h->cmsg_level = SOL_SOCKET;
            h->cmsg_type = SCM_RIGHTS;
            h->cmsg_len = CMSG_LEN(sizes[k] * sizeof(int));
            memcpy(CMSG_DATA(h), fds, sizes[k] * sizeof(int));
            syscall(SYS_sendmsg, sv[0], &m, 0); /* blocks: the peer's queue is full */
            forever();
        }
        nap(50); /* the batches in order, largest first */
    }
}

int main(int argc, char **argv) {
    const char *shape = argc == 4 ? argv[3] : "plain";
    if ((argc != 3 && argc != 4) || (strcmp(argv[2], "stay") && strcmp(argv[2], "exit")) ||
        (strcmp(shape, "plain") && strcmp(shape, "named") && strcmp(shape, "chain") &&
         strcmp(shape, "fill") && strcmp(shape, "libc"))) {
        printf("usage\n");
        return 2;
    }
    const char *dir = argv[1];
    write_pid(dir, "main.pid");
    int with_libc = !strcmp(shape, "libc");
    long middle = with_libc ? fork() : raw_fork();
    if (middle < 0) fail();
    if (middle == 0) {
        if ((with_libc ? setsid() : syscall(SYS_setsid)) < 0) fail();
        long daemon = with_libc ? fork() : raw_fork();
        if (daemon < 0) fail();
        if (daemon > 0) syscall(SYS_exit_group, 0);
        /* The daemon: deaf to every signal it may refuse (all but SIGKILL and SIGSTOP). */
        unsigned long all = ~0UL;
        syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all);
        struct ksigaction ign = {SIG_IGN, 0, NULL, 0};
        for (int s = 1; s <= 64; s++) {
            if (s != SIGKILL && s != SIGSTOP) syscall(SYS_rt_sigaction, s, &ign, NULL, sizeof all);
        }
        write_pid(dir, "daemon.pid");
        /* Holds no pipe of its caller's open (a reader of the command's output sees EOF). */
        for (int fd = 0; fd <= 2; fd++) syscall(SYS_close, fd);
        /* After the pid file (the test waits for the name): the daemon makes no brokered
         * call once named. */
        if (!strcmp(shape, "named") &&
            syscall(SYS_prctl, PR_SET_NAME, "\xff\xfe-daemon", 0, 0, 0) < 0)
            fail();
        /* After the pid file: a full broker table refuses brokered opens. */
        if (!strcmp(shape, "fill")) fill();
        if (!strcmp(shape, "chain")) chain();
        forever();
    }
    int status;
    if (syscall(SYS_wait4, middle, &status, 0, NULL) != middle) fail();
    char path[4096];
    snprintf(path, sizeof path, "%s/daemon.pid", dir);
    for (;;) {
        long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            syscall(SYS_close, fd);
            break;
        }
        nap(10);
    }
    syscall(SYS_write, 1, "ok\n", 3);
    if (!strcmp(argv[2], "exit")) syscall(SYS_exit_group, 0);
    forever();
    return 0;
}
