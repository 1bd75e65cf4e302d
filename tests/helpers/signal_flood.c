/* Brokered calls under a flood of signals: each must take effect exactly once.
 *
 * A 20 µs interval timer interrupts the program all the time while it makes directories,
 * renames them, creates files exclusively and removes them again. A call the broker
 * performed for the seccomp transport, interrupted before its answer arrived, used to be
 * restarted by the kernel after the handler and performed a second time: the program saw
 * EEXIST or ENOENT for a call that had succeeded. Prints
 * "handled N bad M first-errno E first-call C"; exits 1 when any call failed.
 * Built with -DRAW the calls are raw system calls (the seccomp transport); without, libc's
 * (the shim's channels). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef RAW
#define MKDIR(p) syscall(SYS_mkdirat, AT_FDCWD, (p), 0700)
#define RMDIR(p) syscall(SYS_unlinkat, AT_FDCWD, (p), AT_REMOVEDIR)
#define RENAME(a, b) syscall(SYS_renameat, AT_FDCWD, (a), AT_FDCWD, (b))
#define CREATE(p) syscall(SYS_openat, AT_FDCWD, (p), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
#define UNLINK(p) syscall(SYS_unlinkat, AT_FDCWD, (p), 0)
#define CLOSE(fd) syscall(SYS_close, (fd))
#else
#define MKDIR(p) mkdir((p), 0700)
#define RMDIR(p) rmdir(p)
#define RENAME(a, b) rename((a), (b))
#define CREATE(p) open((p), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
#define UNLINK(p) unlink(p)
#define CLOSE(fd) close(fd)
#endif

static volatile sig_atomic_t handled;
static int bad, first_errno;
static const char *first_call = "none";

static void on_alarm(int sig) {
    (void)sig;
    handled++;
}

static void check(long rc, const char *call) {
    if (rc >= 0) return;
    if (!bad++) {
        first_errno = errno;
        first_call = call;
    }
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 20}, {0, 20}};
    setitimer(ITIMER_REAL, &it, NULL);
    for (int i = 0; i < 1500; i++) {
        check(MKDIR("flood-a"), "mkdir");
        check(RENAME("flood-a", "flood-b"), "rename");
        check(RMDIR("flood-b"), "rmdir");
        long fd = CREATE("flood-f");
        check(fd, "create");
        if (fd >= 0) CLOSE(fd);
        check(UNLINK("flood-f"), "unlink");
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handled %d bad %d first-errno %d first-call %s\n", (int)handled, bad, first_errno,
           first_call);
    return bad ? 1 : 0;
}
