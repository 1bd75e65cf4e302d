/* A command that leaves a daemon behind, made with raw system calls only (no libc wrapper
 * the shim could hook), for the tests of what outlives a run (tests/tests/floor_lifetime.rs).
 * Usage: lifetime DIR stay|exit
 * Writes its own pid to DIR/main.pid, then double-forks: the middle process calls setsid
 * and exits, so the daemon is re-parented (to arbiter's broker under arbiter, to a
 * subreaper or init natively). The daemon blocks every signal it can, sets every
 * disposition it can to SIG_IGN, writes its pid to DIR/daemon.pid (through a temporary
 * name and a rename, so a reader never sees a partial file), closes fds 0-2 and waits
 * forever. Once the
 * daemon's pid file exists, the command prints "ok" and then exits 0 ("exit") or waits
 * forever ("stay"). Exits 2 on bad arguments, 3 when a call fails. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
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

/* Writes "PID\n" to DIR/NAME through DIR/NAME.tmp. */
static void write_pid(const char *dir, const char *name) {
    char tmp[4200], path[4096], line[32];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    long fd = syscall(SYS_openat, AT_FDCWD, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail();
    int n = snprintf(line, sizeof line, "%ld\n", (long)syscall(SYS_getpid));
    if (syscall(SYS_write, fd, line, n) != n) fail();
    syscall(SYS_close, fd);
    if (syscall(SYS_renameat, AT_FDCWD, tmp, AT_FDCWD, path) < 0) fail();
}

static long raw_fork(void) { return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

int main(int argc, char **argv) {
    if (argc != 3 || (strcmp(argv[2], "stay") && strcmp(argv[2], "exit"))) {
        printf("usage\n");
        return 2;
    }
    const char *dir = argv[1];
    write_pid(dir, "main.pid");
    long middle = raw_fork();
    if (middle < 0) fail();
    if (middle == 0) {
        if (syscall(SYS_setsid) < 0) fail();
        long daemon = raw_fork();
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
