// A command that makes a sibling with clone(CLONE_PARENT) and exits (red team findings 06 and
// 07 against the pid namespace): the child's parent is the command's parent, which under
// arbiter is the broker, outside the sandbox's pid namespace.
//
// Usage: clone_parent SHAPE SECS
//   SHAPE raw:  syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0)
//   SHAPE libc: glibc's clone(fn, stack, CLONE_PARENT | SIGCHLD, arg)
// The child opens ./child.log (append), writes "ready pid P ppid Q", then sleeps SECS seconds
// and writes "done"; a SIGTERM makes it write "term" and exit 0. The command waits until the
// child is ready, prints "ok" and exits 0. Everything the child writes is a plain write(2)
// on a descriptor it opened before, so the signal handler is async-signal-safe.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int log_fd = -1;
static int ready[2];
static int secs;

static void say(const char *s) {
    if (write(log_fd, s, strlen(s)) < 0) {
        _exit(3);
    }
}

static void on_term(int sig) {
    (void)sig;
    say("term\n");
    _exit(0);
}

static int child(void *arg) {
    (void)arg;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, 0);
    log_fd = open("child.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (log_fd < 0) {
        _exit(2);
    }
    char line[96];
    snprintf(line, sizeof line, "ready pid %ld ppid %ld\n", (long)syscall(SYS_getpid),
             (long)syscall(SYS_getppid));
    say(line);
    if (write(ready[1], "r", 1) != 1) {
        _exit(2);
    }
    close(ready[1]);
    struct timespec t = {secs, 0};
    while (nanosleep(&t, &t) < 0) {
    }
    say("done\n");
    _exit(0);
}

static char stack[256 * 1024] __attribute__((aligned(16)));

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: clone_parent raw|libc SECS\n");
        return 64;
    }
    secs = atoi(argv[2]);
    if (pipe(ready) < 0) {
        perror("pipe");
        return 1;
    }
    long pid;
    if (strcmp(argv[1], "raw") == 0) {
        pid = syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0) {
            child(0);
        }
    } else if (strcmp(argv[1], "libc") == 0) {
        pid = clone(child, stack + sizeof stack, CLONE_PARENT | SIGCHLD, 0);
    } else {
        fprintf(stderr, "clone_parent: unknown shape %s\n", argv[1]);
        return 64;
    }
    if (pid < 0) {
        perror("clone");
        return 1;
    }
    close(ready[1]);
    char c;
    if (read(ready[0], &c, 1) != 1) {
        fprintf(stderr, "clone_parent: the child never got ready\n");
        return 1;
    }
    printf("ok\n");
    return 0;
}
