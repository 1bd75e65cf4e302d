/* A sandboxed program that outlives its supervisor (red-team finding 02).
 * Usage: survivor raw|libc LOG
 * Forks; the child calls setsid, opens LOG for appending (registering its shim channel in
 * libc mode), closes the bootstrap socket (fd 1023) with a raw close and writes "pid N"; then, every 50 ms, opens "probe" in the
 * working directory (a raw openat in `raw` mode, trapped by the seccomp filter; libc's
 * open in `libc` mode, forwarded by the shim) and appends "ok" or "errno N" to LOG through
 * the fd it already holds (a write the sandbox needs no broker for). The parent waits for
 * the child's "pid" line, then SIGKILLs its own parent (the launcher, in the same Landlock
 * domain), and waits to die with it. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void say(long fd, const char *s) { syscall(SYS_write, fd, s, strlen(s)); }

static void nap(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_nanosleep, &t, NULL);
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: survivor raw|libc LOG\n"); return 2; }
    int raw = !strcmp(argv[1], "raw");
    const char *log = argv[2];
    pid_t launcher = getppid();
    int ready[2];
    if (pipe(ready) < 0) return 1;
    pid_t child = fork();
    if (child < 0) return 1;
    if (child == 0) {
        close(ready[0]);
        setsid();
        /* The first open registers this process's call channel (libc mode), then the
         * bootstrap socket goes. */
        long fd = raw ? syscall(SYS_openat, AT_FDCWD, log, O_WRONLY | O_APPEND | O_CREAT, 0666)
                      : open(log, O_WRONLY | O_APPEND | O_CREAT, 0666);
        if (fd < 0) _exit(3);
        syscall(SYS_close, 1023);
        char line[64];
        snprintf(line, sizeof line, "pid %d\n", (int)getpid());
        say(fd, line);
        say(ready[1], "r");
        for (;;) {
            long p = raw ? syscall(SYS_openat, AT_FDCWD, "probe", O_RDONLY) : open("probe", O_RDONLY);
            if (p >= 0) { say(fd, "ok\n"); syscall(SYS_close, p); }
            else { snprintf(line, sizeof line, "errno %d\n", errno); say(fd, line); }
            nap(50);
        }
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) return 1;
    nap(200); /* a few probes answered while the sandbox lives */
    kill(launcher, SIGKILL);
    for (;;) pause();
}
