/* tty_stall: what red-team finding 13 did. Stops output on the terminal that is fd 2
 * (clears IXON and IXANY so ^Q cannot restart it, then TCXONC/TCOOFF), opens PATH for
 * reading, and, with `resume`, restarts output (TCOON) before exiting; with `stay` it
 * exits leaving the terminal stopped. It writes nothing itself.
 *
 *   tty_stall raw|libc stay|resume|pipe PATH
 *
 * pipe (red team s6 finding 12): the terminal is /dev/tty, not fd 2 (a pipe whose reader
 * writes to that terminal); after stopping it the program fills the pipe on fd 1, then
 * opens PATH and restarts output (as resume).
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

static int stop_raw(int tty) {
    /* The kernel's struct termios starts like glibc's (four tcflag_t, then c_line, c_cc);
     * a buffer larger than either holds it. */
    unsigned int t[32];
    memset(t, 0, sizeof t);
    if (syscall(SYS_ioctl, tty, TCGETS, t) != 0) return -1;
    t[0] &= ~(unsigned int)(IXON | IXANY);
    if (syscall(SYS_ioctl, tty, TCSETS, t) != 0) return -1;
    return (int)syscall(SYS_ioctl, tty, TCXONC, TCOOFF);
}

static int stop_libc(int tty) {
    struct termios t;
    if (tcgetattr(tty, &t) != 0) return -1;
    t.c_iflag &= ~(tcflag_t)(IXON | IXANY);
    if (tcsetattr(tty, TCSANOW, &t) != 0) return -1;
    return tcflow(tty, TCOOFF);
}

int main(int argc, char **argv) {
    if (argc != 4) return 4;
    int raw = strcmp(argv[1], "raw") == 0;
    int pipe = strcmp(argv[2], "pipe") == 0;
    int resume = pipe || strcmp(argv[2], "resume") == 0;
    int tty = 2;
    if (pipe) {
        tty = raw ? (int)syscall(SYS_openat, AT_FDCWD, "/dev/tty", O_RDWR | O_CLOEXEC)
                  : open("/dev/tty", O_RDWR | O_CLOEXEC);
        if (tty < 0) return 3;
    }
    if ((raw ? stop_raw(tty) : stop_libc(tty)) != 0) return 3;
    if (pipe) {
        /* Fill the pipe on fd 1 (arbiter's stderr goes there too; its reader outside writes
         * to the terminal just stopped), so that nothing more gets into it. */
        char buf[4096];
        memset(buf, 'x', sizeof buf);
        buf[sizeof buf - 1] = '\n';
        /* A small pipe: what the fill puts on the screen stays small. */
        fcntl(1, F_SETPIPE_SZ, 4096);
        int flags = fcntl(1, F_GETFL);
        fcntl(1, F_SETFL, flags | O_NONBLOCK);
        /* Full when writes keep failing EAGAIN for a while (the reader may still be taking
         * what it can before it blocks on the stopped terminal). */
        for (int i = 0, busy = 0; i < 4096 && busy < 50; i++) {
            if (write(1, buf, sizeof buf) < 0 && errno == EAGAIN) {
                busy++;
                usleep(10000);
            } else {
                busy = 0;
            }
        }
        fcntl(1, F_SETFL, flags);
    }
    long fd = raw ? syscall(SYS_openat, AT_FDCWD, argv[3], O_RDONLY | O_CLOEXEC)
                  : open(argv[3], O_RDONLY | O_CLOEXEC);
    int err = errno;
    if (resume) {
        if (raw)
            syscall(SYS_ioctl, tty, TCXONC, TCOON);
        else
            tcflow(tty, TCOON);
    }
    if (fd >= 0) return 0;
    return err == EACCES || err == EPERM ? 1 : 2;
}
