/* Calls the shim's fast paths answer in-process, from the places where a report-ring writer
 * can go wrong: both sides of a fork, a vfork child, and a signal handler that interrupts a
 * call. Built dynamically (the shim is preloaded); every stat goes through libc.
 *
 *   ring_writer fork N     the parent stats "pf" N times, a forked child "cf" N times;
 *                          prints "parent PID" and "child PID".
 *   ring_writer vfork      a vfork child stats "vf" once and _exits; prints "parent PID"
 *                          and "child PID".
 *   ring_writer signal N   stats "main" N times while a 500 µs interval timer's SIGALRM
 *                          handler stats "sig"; prints "handled H" (how many the handler
 *                          made).
 * Each stat must succeed ("stat failed" and exit 1 otherwise).
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t handled, failed;

static void on_alarm(int sig) {
    (void)sig;
    struct stat st;
    if (stat("sig", &st) != 0) failed = 1;
    handled++;
}

static int stat_n(const char *path, long n) {
    struct stat st;
    for (long i = 0; i < n; i++)
        if (stat(path, &st) != 0) return 1;
    return 0;
}

/* This process's pid as the broker's audit records number it: the first field of the
 * host's /proc/self/stat (as root the sandbox has a pid namespace of its own, where
 * getpid() is another number); getpid() if that cannot be read. */
static int host_pid(void) {
    FILE *f = fopen("/proc/self/stat", "r");
    int pid = 0;
    if (f) {
        if (fscanf(f, "%d", &pid) != 1) pid = 0;
        fclose(f);
    }
    return pid > 0 ? pid : (int)getpid();
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: ring_writer fork N | vfork | signal N\n"); return 2; }
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(argv[1], "fork")) {
        if (stat_n("pf", 1)) { printf("stat failed\n"); return 1; }
        fflush(stdout);
        pid_t child = fork();
        if (child < 0) return 2;
        if (child == 0) {
            /* Its host pid first: the open registers the child's call channel, where the
             * broker notes the child's pid in the sandbox's namespace for its reports. */
            int me = host_pid();
            int failed = stat_n("cf", n);
            printf("child %d\n", me);
            fflush(stdout);
            _exit(failed ? 1 : 0);
        }
        int bad = stat_n("pf", n - 1);
        int status;
        waitpid(child, &status, 0);
        if (bad || !WIFEXITED(status) || WEXITSTATUS(status) != 0) { printf("stat failed\n"); return 1; }
        printf("parent %d\n", host_pid());
        return 0;
    }
    if (!strcmp(argv[1], "vfork")) {
        if (stat_n("pf", 1)) { printf("stat failed\n"); return 1; }
        pid_t child = vfork();
        if (child < 0) return 2;
        if (child == 0) {
            struct stat st;
            _exit(stat("vf", &st) == 0 ? 0 : 1);
        }
        int status;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { printf("stat failed\n"); return 1; }
        /* The child's pid as vfork() returned it (in the sandbox's namespace, as root): the
         * test only checks it is not the parent's. */
        printf("parent %d\nchild %d\n", host_pid(), (int)child);
        return 0;
    }
    if (!strcmp(argv[1], "signal")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 500}, {0, 500}};
        setitimer(ITIMER_REAL, &it, NULL);
        int bad = stat_n("main", n);
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        if (bad || failed) { printf("stat failed\n"); return 1; }
        printf("handled %d\n", (int)handled);
        return 0;
    }
    return 2;
}
