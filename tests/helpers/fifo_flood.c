/* FIFO opens with no peer, made with raw system calls (no libc wrapper the shim could
 * hook), for tests/tests/floor_fifo.rs.
 * Usage: fifo_flood flood N    N threads each open their own FIFO for reading (no writer
 *                              yet); once all have started, a plain open of the regular
 *                              file "probe" must be answered; then every FIFO gets a writer
 *                              and every reader's open must succeed. Prints "ok", or
 *                              "errno N" for the probe, "stalled" when the probe got no
 *                              answer within 60 s, "reader errno N", "writer errno N".
 *        fifo_flood abandon N  N child processes each open their own FIFO for reading;
 *                              prints "pids P1 P2 …" and waits for end of file on stdin,
 *                              then prints "ok" (the test kills the children meanwhile).
 *        fifo_flood reopen N   as flood, each reader re-opening /proc/self/fd/K of a
 *                              read fd it holds on its FIFO (K held, O_NONBLOCK).
 *        fifo_flood repipe N   as flood, each reader re-opening /proc/self/fd/K of an
 *                              anonymous pipe's read end whose write end is closed; the
 *                              writers re-open the same name for writing.
 * FIFOs are fifo0 … fifoN-1 in the working directory. Exits 2 on bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX 1024

static int n;
static volatile int started;
static int reader_err[MAX];

static void say(const char *s) { syscall(SYS_write, 1, s, strlen(s)); }

static void nap(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    syscall(SYS_nanosleep, &t, NULL);
}

/* 0: fifoI by name; 1: fifoI through /proc/self/fd of a read fd held on it; 2: an
 * anonymous pipe (its write end closed) through /proc/self/fd of its read end. */
static int how;
static int held[MAX];

static void name(char *buf, int i) {
    if (how) snprintf(buf, 32, "/proc/self/fd/%d", held[i]);
    else snprintf(buf, 32, "fifo%d", i);
}

/* The fds re-opened by "reopen" and "repipe". */
static int hold(void) {
    for (int i = 0; i < n; i++) {
        char p[32];
        snprintf(p, sizeof p, "fifo%d", i);
        long fd;
        if (how == 1) {
            fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        } else {
            int pp[2];
            fd = syscall(SYS_pipe2, pp, O_CLOEXEC);
            if (fd == 0) { syscall(SYS_close, pp[1]); fd = pp[0]; }
        }
        if (fd < 0) { printf("hold errno %d\n", errno); return 3; }
        held[i] = (int)fd;
    }
    return 0;
}

static void *reader(void *arg) {
    int i = (int)(long)arg;
    char p[32];
    name(p, i);
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
    reader_err[i] = fd < 0 ? errno : 0;
    if (fd >= 0) syscall(SYS_close, fd);
    return NULL;
}

static void stalled(int sig) {
    (void)sig;
    say("stalled\n");
    syscall(SYS_exit_group, 4);
}

static void make_fifos(void) {
    char p[32];
    for (int i = 0; i < n; i++) {
        name(p, i);
        if (syscall(SYS_mknodat, AT_FDCWD, p, S_IFIFO | 0600, 0) < 0 && errno != EEXIST) {
            printf("mknod errno %d\n", errno);
            exit(3);
        }
    }
}

static int flood(void) {
    long fd = syscall(SYS_openat, AT_FDCWD, "probe", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) { printf("probe create errno %d\n", errno); return 3; }
    syscall(SYS_close, fd);
    pthread_t t[MAX];
    for (int i = 0; i < n; i++) {
        if (pthread_create(&t[i], NULL, reader, (void *)(long)i)) { say("pthread_create\n"); return 3; }
    }
    while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < n) nap(5);
    nap(300); /* the opens reach the kernel (natively) or the broker (under arbiter) */
    signal(SIGALRM, stalled);
    alarm(60);
    fd = syscall(SYS_openat, AT_FDCWD, "probe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) { printf("errno %d\n", errno); return 1; }
    syscall(SYS_close, fd);
    char p[32];
    long w[MAX];
    for (int i = 0; i < n; i++) {
        name(p, i);
        w[i] = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (w[i] < 0) { printf("writer errno %d\n", errno); return 1; }
    }
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < n; i++) {
        syscall(SYS_close, w[i]);
        if (reader_err[i]) { printf("reader errno %d\n", reader_err[i]); return 1; }
    }
    alarm(0);
    say("ok\n");
    return 0;
}

static int abandon(void) {
    char line[16 * MAX] = "pids", p[32];
    for (int i = 0; i < n; i++) {
        long pid = syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
        if (pid < 0) { say("clone failed\n"); return 3; }
        if (pid == 0) {
            name(p, i);
            syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
            syscall(SYS_exit_group, 0);
        }
        snprintf(line + strlen(line), sizeof line - strlen(line), " %ld", pid);
    }
    strcat(line, "\n");
    say(line);
    char c;
    while (syscall(SYS_read, 0, &c, 1) > 0) {}
    say("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 3) { say("usage\n"); return 2; }
    n = atoi(argv[2]);
    if (n <= 0 || n > MAX) { say("usage\n"); return 2; }
    make_fifos();
    if (!strcmp(argv[1], "flood")) return flood();
    if (!strcmp(argv[1], "abandon")) return abandon();
    if (!strcmp(argv[1], "reopen") || !strcmp(argv[1], "repipe")) {
        how = !strcmp(argv[1], "reopen") ? 1 : 2;
        int rc = hold();
        return rc ? rc : flood();
    }
    say("usage\n");
    return 2;
}
