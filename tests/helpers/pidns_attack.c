/* Attacks on the broker's translation of the sandbox's pids (docs/process-model.md):
 * as root the sandbox runs in a pid namespace and the broker, which reads the host's
 * /proc, translates `/proc/<n>` from the sandbox's numbering to the host's.
 *
 *   self        (red team rt2 01) fork until a child's namespace pid equals this
 *               process's host pid, keep that child, then check that /proc/self,
 *               /proc/thread-self and /proc/<getpid()> still name this process.
 *   spell       (rt2 03) /proc//<pid>, /proc/./<pid>, /../proc/<pid>, //proc/<pid>,
 *               proc/<pid> from the working directory / and <pid> from a directory
 *               descriptor on /proc name this process.
 *   flood N M P (rt2 05) start N idle threads, print "ready", wait for a line on stdin,
 *               open P (a %d in it: a pid no process has) M times, print "done", wait
 *               for a line on stdin, exit.
 *
 * Every check is made twice: through libc open() (the shim, when dynamic) and with a raw
 * openat system call (the seccomp transport). A check prints "ok <how> <path>", or
 * "WRONG <how> <path>: <what it names>" / "ERR <how> <path>: <errno>". Natively every check
 * passes (the controls).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The directory relative paths are opened from (AT_FDCWD: the working directory). */
static int base_dir = AT_FDCWD;

static int open_how(const char *path, int raw) {
    if (raw)
        return (int)syscall(SYS_openat, base_dir, path, O_RDONLY | O_CLOEXEC);
    return openat(base_dir, path, O_RDONLY | O_CLOEXEC);
}

/* The value of field `key` ("Name:", "NSpid:") of status text `buf`, into `out`. */
static void field(const char *buf, const char *key, char *out, size_t n) {
    out[0] = 0;
    const char *p = strstr(buf, key);
    if (!p)
        return;
    p += strlen(key);
    while (*p == '\t' || *p == ' ')
        p++;
    size_t i = 0;
    while (p[i] && p[i] != '\n' && i + 1 < n) {
        out[i] = p[i];
        i++;
    }
    out[i] = 0;
}

/* Reads status file `path`; 0 and its text in buf, or -errno. */
static int read_status(const char *path, int raw, char *buf, size_t n) {
    int fd = open_how(path, raw);
    if (fd < 0)
        return -errno;
    ssize_t got = read(fd, buf, n - 1);
    int e = errno;
    close(fd);
    if (got < 0)
        return -e;
    buf[got] = 0;
    return 0;
}

static int failures;

/* Whether status file `path` is this process's: its Name is our comm and the last
 * field of its NSpid line (our pid in the innermost namespace) is getpid(). */
static void check_own(const char *path, int raw) {
    const char *how = raw ? "raw" : "libc";
    char buf[4096], name[64], comm[17] = {0}, nspid[128];
    int r = read_status(path, raw, buf, sizeof buf);
    if (r < 0) {
        printf("ERR %s %s: %s\n", how, path, strerror(-r));
        failures++;
        return;
    }
    prctl(PR_GET_NAME, comm);
    field(buf, "Name:", name, sizeof name);
    field(buf, "NSpid:", nspid, sizeof nspid);
    const char *last = strrchr(nspid, '\t');
    last = last ? last + 1 : nspid;
    if (strcmp(name, comm) != 0 || atol(last) != (long)syscall(SYS_getpid)) {
        printf("WRONG %s %s: Name %s NSpid %s\n", how, path, name, nspid);
        failures++;
        return;
    }
    printf("ok %s %s\n", how, path);
}

static void check_all(const char *path) {
    check_own(path, 0);
    check_own(path, 1);
}

/* The first field of our NSpid line (our host pid), and how many fields it has. */
static long host_pid(int *fields) {
    char buf[4096], nspid[128];
    if (read_status("/proc/self/status", 1, buf, sizeof buf) < 0)
        return -1;
    field(buf, "NSpid:", nspid, sizeof nspid);
    *fields = 1;
    for (char *c = nspid; *c; c++)
        *fields += *c == '\t';
    return atol(nspid);
}

static int self_attack(void) {
    char path[64];
    int fields;
    long host = host_pid(&fields);
    if (host <= 0) {
        printf("ERR cannot read own NSpid\n");
        return 1;
    }
    pid_t q = -1;
    if (fields > 1) {
        /* Only a namespace pid <= pid_max can collide: a bounded number of forks. */
        for (long i = 0; i < 200000 && q < 0; i++) {
            pid_t c = fork();
            if (c < 0) {
                printf("ERR fork: %s\n", strerror(errno));
                return 1;
            }
            if (c == 0) {
                if (syscall(SYS_getpid) == host)
                    for (;;)
                        pause();
                _exit(0);
            }
            if (c == host)
                q = c;
            else
                waitpid(c, NULL, 0);
        }
        if (q < 0) {
            printf("ERR no child got namespace pid %ld\n", host);
            return 1;
        }
        printf("collided: child %d has namespace pid %ld, our host pid\n", q, host);
    } else {
        printf("no namespace\n");
    }
    check_all("/proc/self/status");
    check_all("/proc/thread-self/status");
    snprintf(path, sizeof path, "/proc/%ld/status", (long)syscall(SYS_getpid));
    check_all(path);
    if (q > 0) {
        kill(q, SIGKILL);
        waitpid(q, NULL, 0);
    }
    return 0;
}

static int spell_attack(void) {
    char path[64];
    long me = (long)syscall(SYS_getpid);
    const char *forms[] = {"/proc//%ld/status", "/proc/./%ld/status", "/../proc/%ld/status",
                           "//proc/%ld/status", "/proc/%ld//status"};
    for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
        snprintf(path, sizeof path, forms[i], me);
        check_all(path);
    }
    if (chdir("/") != 0) {
        printf("ERR chdir /: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "proc/%ld/status", me);
    /* Relative to the working directory /. */
    check_all(path);
    /* Relative to a directory descriptor on /proc. */
    base_dir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (base_dir < 0) {
        printf("ERR open /proc: %s\n", strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%ld/status", me);
    check_all(path);
    base_dir = AT_FDCWD;
    return 0;
}

static void *idle(void *arg) {
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void wait_line(void) {
    char c;
    while (read(0, &c, 1) == 1 && c != '\n') {
    }
}

static int flood(int threads, int opens, const char *pattern, int raw) {
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    for (int i = 0; i < threads; i++) {
        pthread_t t;
        if (pthread_create(&t, &a, idle, NULL) != 0) {
            printf("ERR pthread_create %d\n", i);
            return 1;
        }
    }
    printf("ready\n");
    fflush(stdout);
    wait_line();
    char path[64];
    /* pid_max is at most 4194304: 4194305 and up are no process's. */
    snprintf(path, sizeof path, pattern, 4194305 + 7);
    int refused = 0;
    for (int i = 0; i < opens; i++) {
        int fd = open_how(path, raw);
        if (fd >= 0)
            close(fd);
        else
            refused++;
    }
    printf("done %d of %d refused\n", refused, opens);
    fflush(stdout);
    wait_line();
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = 2;
    if (argc == 2 && strcmp(argv[1], "self") == 0)
        rc = self_attack();
    else if (argc == 2 && strcmp(argv[1], "spell") == 0)
        rc = spell_attack();
    else if (argc == 6 && strcmp(argv[1], "flood") == 0)
        rc = flood(atoi(argv[2]), atoi(argv[3]), argv[4], strcmp(argv[5], "raw") == 0);
    else
        fprintf(stderr, "usage: %s self | spell | flood N M PATTERN raw|libc\n", argv[0]);
    if (rc == 0 && failures)
        rc = 1;
    printf("end %d failure(s)\n", failures);
    return rc;
}
