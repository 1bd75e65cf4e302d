/* A signal arrives while the program waits in a brokered FIFO open that has no peer.
 *
 * usage: signal_during_wait MODE FIFO   (MODE: eintr, restart or term)
 *   eintr:   SIGALRM's handler has no SA_RESTART; alarm(1). Natively the open fails with
 *            EINTR after 1 s. Prints "eintr handled 1" and exits 0.
 *   restart: the handler has SA_RESTART; alarm(1); a writer opens the FIFO at 2 s. Natively
 *            the handler runs and the open goes on until the writer comes. Prints
 *            "opened handled 1" and exits 0.
 *   term:    as restart without a writer, and a timer sends the process SIGTERM (default
 *            action) at 2 s. Natively the process dies of SIGTERM.
 *   term-leader-exit: as term, but a second thread makes the open and the main thread
 *            ends with pthread_exit (a zombie leader takes no signal: red team s8b,
 *            finding 01). Natively the process dies of SIGTERM.
 * A watchdog child opens the FIFO for writing at 6 s in eintr mode (the open then
 * "succeeds" instead of failing) and kills the process with SIGKILL at 10 s in every mode,
 * so a build that gets it wrong fails fast instead of hanging. Built with -DRAW the open is a raw openat
 * (the seccomp transport); without, libc's (the shim). */
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

#ifdef RAW
#define OPEN(p, f) syscall(SYS_openat, AT_FDCWD, (p), (f))
#else
#define OPEN(p, f) open((p), (f))
#endif

static volatile sig_atomic_t handled;
static void on_alarm(int sig) {
    (void)sig;
    handled++;
}

/* A child that opens `fifo` for writing after `writer_at` s (0: never) and, with `rescue`,
 * at 6 s, and SIGKILLs `victim` at 10 s; it leaves the output alone (closes its copies) and
 * ends as soon as `victim` has. */
static void helper_child(const char *fifo, int writer_at, int rescue, pid_t victim) {
    if (fork() != 0) return;
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    for (int tenths = 1; tenths <= 100; tenths++) {
        usleep(100000);
        if (getppid() != victim) _exit(0);
        if ((writer_at && tenths == writer_at * 10) || (rescue && tenths == 60))
            open(fifo, O_WRONLY | O_NONBLOCK);
    }
    kill(victim, SIGKILL);
    _exit(0);
}

static const char *fifo_path;

/* The worker of term-leader-exit: the open no writer ever answers. */
static void *open_in_thread(void *unused) {
    (void)unused;
    long fd = OPEN(fifo_path, O_RDONLY);
    printf("open in thread returned %ld\n", fd);
    exit(1);
}

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const char *mode = argv[1], *fifo = argv[2];
    unlink(fifo);
    if (mkfifo(fifo, 0600)) {
        perror("mkfifo");
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = strcmp(mode, "eintr") ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    helper_child(fifo, strcmp(mode, "restart") ? 0 : 2, !strcmp(mode, "eintr"), getpid());
    int leader_exits = !strcmp(mode, "term-leader-exit");
    if (!strcmp(mode, "term") || leader_exits) {
        struct sigevent sev;
        memset(&sev, 0, sizeof sev);
        sev.sigev_notify = SIGEV_SIGNAL;
        sev.sigev_signo = SIGTERM;
        timer_t timer;
        struct itimerspec at = {{0, 0}, {2, 0}};
        if (timer_create(CLOCK_MONOTONIC, &sev, &timer) || timer_settime(timer, 0, &at, NULL)) {
            perror("timer");
            return 2;
        }
    }
    alarm(1);
    if (leader_exits) {
        fifo_path = fifo;
        pthread_t worker;
        if (pthread_create(&worker, NULL, open_in_thread, NULL)) return 2;
        pthread_exit(NULL);
    }
    long fd = OPEN(fifo, O_RDONLY);
    int e = errno;
    if (fd < 0 && e == EINTR) {
        printf("eintr handled %d\n", (int)handled);
        return strcmp(mode, "eintr") ? 1 : 0;
    }
    if (fd < 0) {
        printf("error %s handled %d\n", strerror(e), (int)handled);
        return 1;
    }
    printf("opened handled %d\n", (int)handled);
    return strcmp(mode, "restart") ? 1 : 0;
}
