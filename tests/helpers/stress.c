/* 16 threads x N mixed brokered calls, with a thread blocked opening a FIFO and
 * concurrent fork+exec. Every result is checked; any mismatch exits non-zero.
 * Usage: stress THREADS CALLS_PER_THREAD
 * Prints "fds-before N", "fds-after N", then waits for a line on stdin before exiting, so
 * the harness can inspect the broker while this process is still alive. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int calls;
static volatile int failures;

static void fail(const char *what, int t, int i) {
    fprintf(stderr, "thread %d iteration %d: %s: %s\n", t, i, what, strerror(errno));
    __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
}

static int count_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d) return -1;
    while (readdir(d)) n++;
    closedir(d);
    return n - 3; /* ".", "..", and the DIR's own fd */
}

static void *worker(void *arg) {
    int t = (int)(long)arg;
    char a[64], b[64], buf[32];
    snprintf(a, sizeof a, "w%d.a", t);
    snprintf(b, sizeof b, "w%d.b", t);
    for (int i = 0; i < calls; i++) {
        int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) { fail("open", t, i); continue; }
        int len = snprintf(buf, sizeof buf, "%d-%d", t, i);
        if (write(fd, buf, len) != len) fail("write", t, i);
        close(fd);
        struct stat st;
        if (stat(a, &st) != 0 || st.st_size != len) fail("stat", t, i);
        if (access(a, R_OK | W_OK) != 0) fail("access", t, i);
        if (rename(a, b) != 0) fail("rename", t, i);
        if (access(a, F_OK) == 0 || errno != ENOENT) fail("renamed-away", t, i);
        fd = open(b, O_RDONLY);
        char back[32] = {0};
        if (fd < 0 || read(fd, back, sizeof back - 1) != len || memcmp(back, buf, len) != 0) fail("read-back", t, i);
        if (fd >= 0) close(fd);
        if (unlink(b) != 0) fail("unlink", t, i);
        if (open("/etc/shadow", O_RDONLY) >= 0 || errno != EACCES) fail("shadow-denied", t, i);
    }
    return NULL;
}

static void *fifo_reader(void *arg) {
    (void)arg;
    int fd = open("blocked.fifo", O_RDONLY); /* blocks until main opens the writer end */
    if (fd < 0) { fail("fifo-open", -1, 0); return NULL; }
    char c;
    if (read(fd, &c, 1) != 1 || c != 'x') fail("fifo-read", -1, 0);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 16;
    /* Calls per thread; one iteration below makes 9 brokered calls. */
    calls = (argc > 2 ? atoi(argv[2]) : 1000) / 9 + 1;
    /* The main thread's own channel exists from here on: access(W_OK) always goes to the
     * broker (a stat of "." is answered in-process since session 7, without a channel). */
    access(".", W_OK);
    printf("fds-before %d\n", count_fds());
    fflush(stdout);
    unlink("blocked.fifo");
    if (mkfifo("blocked.fifo", 0600) != 0) { perror("mkfifo"); return 2; }
    pthread_t fifo;
    pthread_create(&fifo, NULL, fifo_reader, NULL);
    pthread_t tids[64];
    for (int t = 0; t < threads && t < 64; t++) pthread_create(&tids[t], NULL, worker, (void *)(long)t);
    /* Concurrent fork+exec while the workers run. */
    for (int k = 0; k < 20; k++) {
        pid_t p = fork();
        if (p == 0) {
            int fd = open("/etc/hostname", O_RDONLY);
            if (fd < 0) _exit(3);
            close(fd);
            execl("/bin/cat", "cat", "/etc/hostname", (char *)NULL);
            _exit(4);
        }
        int status;
        waitpid(p, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) { fprintf(stderr, "child %d failed: %d\n", k, status); failures++; }
    }
    for (int t = 0; t < threads && t < 64; t++) pthread_join(tids[t], NULL);
    int w = open("blocked.fifo", O_WRONLY);
    if (w < 0 || write(w, "x", 1) != 1) fail("fifo-write", -1, 0);
    if (w >= 0) close(w);
    pthread_join(fifo, NULL);
    unlink("blocked.fifo");
    printf("fds-after %d\nfailures %d\n", count_fds(), failures);
    fflush(stdout);
    char line[8];
    if (!fgets(line, sizeof line, stdin)) { /* harness closed stdin: fine */ }
    return failures ? 1 : 0;
}
