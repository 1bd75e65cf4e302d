/* job_control PATH: what a program does to stop arbiter through the terminal's job control
 * (red team s6 finding 10). Prints the SIGTTOU/SIGTTIN dispositions it started with, then
 * leaves the caller's process group for its own, makes that the terminal's foreground group
 * (fd 2) with TOSTOP set, and opens PATH for reading (built -DRAW: a raw openat system call,
 * no libc wrapper the shim could hook). Prints "open=FD" or "open=-1 errno=N" and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static const char *disposition(int sig) {
    struct sigaction sa;
    if (sigaction(sig, NULL, &sa) != 0) return "?";
    return sa.sa_handler == SIG_IGN ? "ign" : sa.sa_handler == SIG_DFL ? "dfl" : "handler";
}

int main(int argc, char **argv) {
    if (argc != 2) { printf("usage\n"); return 2; }
    printf("ttou=%s ttin=%s\n", disposition(SIGTTOU), disposition(SIGTTIN));
    fflush(stdout);
    signal(SIGTTOU, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    if (setpgid(0, 0) != 0) { printf("setpgid errno=%d\n", errno); return 3; }
    if (tcsetpgrp(2, getpgrp()) != 0) { printf("tcsetpgrp errno=%d\n", errno); return 3; }
    struct termios t;
    if (tcgetattr(2, &t) != 0) { printf("tcgetattr errno=%d\n", errno); return 3; }
    t.c_lflag |= TOSTOP;
    if (tcsetattr(2, TCSANOW, &t) != 0) { printf("tcsetattr errno=%d\n", errno); return 3; }
#ifdef RAW
    long fd = syscall(SYS_openat, AT_FDCWD, argv[1], O_RDONLY | O_CLOEXEC);
#else
    long fd = open(argv[1], O_RDONLY | O_CLOEXEC);
#endif
    if (fd < 0) printf("open=-1 errno=%d\n", errno);
    else printf("open=%ld\n", fd);
    fflush(stdout);
    return 0;
}
