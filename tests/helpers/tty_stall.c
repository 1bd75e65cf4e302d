/* tty_stall: what red-team finding 13 did. Stops output on the terminal that is fd 2
 * (clears IXON and IXANY so ^Q cannot restart it, then TCXONC/TCOOFF), opens PATH for
 * reading, and, with `resume`, restarts output (TCOON) before exiting; with `stay` it
 * exits leaving the terminal stopped. It writes nothing itself.
 *
 *   tty_stall raw|libc stay|resume PATH
 *
 * raw: ioctl and openat as raw system calls (only the seccomp transport sees them);
 * libc: tcgetattr/tcsetattr/tcflow/open (through the shim when dynamic).
 * Exit status: 0 PATH opened, 1 refused (EACCES or EPERM), 2 other open error,
 * 3 the terminal could not be stopped (not a terminal?), 4 usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static int stop_raw(void) {
    /* The kernel's struct termios starts like glibc's (four tcflag_t, then c_line, c_cc);
     * a buffer larger than either holds it. */
    unsigned int t[32];
    memset(t, 0, sizeof t);
    if (syscall(SYS_ioctl, 2, TCGETS, t) != 0) return -1;
    t[0] &= ~(unsigned int)(IXON | IXANY);
    if (syscall(SYS_ioctl, 2, TCSETS, t) != 0) return -1;
    return (int)syscall(SYS_ioctl, 2, TCXONC, TCOOFF);
}

static int stop_libc(void) {
    struct termios t;
    if (tcgetattr(2, &t) != 0) return -1;
    t.c_iflag &= ~(tcflag_t)(IXON | IXANY);
    if (tcsetattr(2, TCSANOW, &t) != 0) return -1;
    return tcflow(2, TCOOFF);
}

int main(int argc, char **argv) {
    if (argc != 4) return 4;
    int raw = strcmp(argv[1], "raw") == 0;
    int resume = strcmp(argv[2], "resume") == 0;
    if ((raw ? stop_raw() : stop_libc()) != 0) return 3;
    long fd = raw ? syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY | O_CLOEXEC)
                  : open(argv[3], O_RDONLY | O_CLOEXEC);
    int err = errno;
    if (resume) {
        if (raw)
            syscall(SYS_ioctl, 2, TCXONC, TCOON);
        else
            tcflow(2, TCOON);
    }
    if (fd >= 0) return 0;
    return err == EACCES || err == EPERM ? 1 : 2;
}
