/* Slow calls that hold broker resources while they wait for the program's peer.
 *
 * Usage: slow_calls sends N K raw|libc
 *          a unix datagram socketpair whose peer queue is filled first (native writes), K
 *          descriptors of /dev/null, N threads each sendmsg(2) the K fds (SCM_RIGHTS,
 *          blocking) on the full socket. Prints "pid P", then a line as each
 *          send returns ("sent", "refused" for ETOOMANYREFS, "error E"); at end of file on
 *          stdin (the test looks meanwhile) drains the queue (closing what it receives)
 *          until every sender has returned and prints "sent=A refused=B other=C".
 *        slow_calls fifo N raw|libc
 *          N child processes each open the FIFO "fifo" (made here) for writing, with no
 *          reader; prints "pids P1 P2 …", waits for end of file on stdin (the test kills the
 *          children meanwhile), reaps them and prints "ok".
 *        slow_calls bigsends N raw|libc
 *          N threads, each with its own unix stream socketpair whose queue is filled first
 *          (native send(MSG_DONTWAIT)), each sendmsg(2) 4 MiB (blocking) on it. Prints
 *          "pid P", then "big R" as each send returns R; at end of file on stdin drains every
 *          pair (checking the payload's bytes) until every sender has returned and prints
 *          "big_ok=A bad=B" (A: sends that returned 4 MiB whose bytes all arrived intact).
 *        slow_calls connects N raw|libc
 *          listens (backlog 0) on the unix socket "s", fills the backlog with non-blocking
 *          connects, then N child processes each connect(2) to "s" (blocking: they wait
 *          for room in the backlog); prints "pids P1 P2 …", waits for end of file on stdin
 *          (the test kills the children meanwhile), reaps them and prints "ok".
 * raw: the calls are raw system calls (the seccomp transport sees them); libc: through libc
 * (in a dynamic build, the shim's hooks). Exits 2 on bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FDS 253

static int raw, n, k, sv[2], fds[MAX_FDS];
static atomic_int sent, refused, other, last_err;

static void wait_eof(void) {
    char c;
    while (read(0, &c, 1) > 0) {}
}

static void *sender(void *arg) {
    (void)arg;
    char c = 'x';
    struct iovec iov = { &c, 1 };
    union { char b[CMSG_SPACE(sizeof fds)]; struct cmsghdr h; } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                        .msg_controllen = CMSG_SPACE(k * sizeof(int)) };
    struct cmsghdr *h = CMSG_FIRSTHDR(&m);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(k * sizeof(int));
    memcpy(CMSG_DATA(h), fds, k * sizeof(int));
    long r = raw ? syscall(SYS_sendmsg, sv[0], &m, 0) : sendmsg(sv[0], &m, 0);
    int e = errno;
    char line[32];
    if (r >= 0) {
        atomic_fetch_add(&sent, 1);
        strcpy(line, "sent\n");
    } else if (e == ETOOMANYREFS) {
        atomic_fetch_add(&refused, 1);
        strcpy(line, "refused\n");
    } else {
        atomic_store(&last_err, e);
        atomic_fetch_add(&other, 1);
        snprintf(line, sizeof line, "error %d\n", e);
    }
    if (write(1, line, strlen(line)) < 0) {}
    return 0;
}

/* Receives one queued datagram without waiting, closing the descriptors it carried. */
static int drain_one(void) {
    char c;
    struct iovec iov = { &c, 1 };
    union { char b[CMSG_SPACE(sizeof fds)]; struct cmsghdr h; } u;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b,
                        .msg_controllen = sizeof u.b };
    if (recvmsg(sv[1], &m, MSG_DONTWAIT) < 0) return 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        int got = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int *p = (int *)CMSG_DATA(h);
        for (int i = 0; i < got; i++) close(p[i]);
    }
    return 1;
}

static int sends(void) {
    if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) { perror("socketpair"); return 3; }
    int fl = fcntl(sv[0], F_GETFL);
    fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
    while (write(sv[0], "y", 1) == 1) {}
    fcntl(sv[0], F_SETFL, fl);
    for (int i = 0; i < k; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fds[i] < 0) { perror("open /dev/null"); return 3; }
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 65536);
    pthread_t th[1024];
    printf("pid %d\n", getpid());
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        if (pthread_create(&th[i], &at, sender, 0)) { perror("pthread_create"); return 3; }
    }
    wait_eof();
    while (atomic_load(&sent) + atomic_load(&refused) + atomic_load(&other) < n || drain_one()) {
        if (!drain_one()) usleep(1000);
    }
    for (int i = 0; i < n; i++) pthread_join(th[i], 0);
    printf("sent=%d refused=%d other=%d last_err=%d\n", atomic_load(&sent), atomic_load(&refused),
           atomic_load(&other), atomic_load(&last_err));
    return 0;
}

#define BIG (4 << 20)
static unsigned char *big;
static int bigsv[1024][2];
static long bigfill[1024], bigret[1024];
static atomic_int bigdone;

static void *big_sender(void *arg) {
    long i = (long)arg;
    struct iovec iov = { big, BIG };
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
    long r = raw ? syscall(SYS_sendmsg, bigsv[i][0], &m, 0) : sendmsg(bigsv[i][0], &m, 0);
    bigret[i] = r < 0 ? -errno : r;
    atomic_fetch_add(&bigdone, 1);
    char line[32];
    snprintf(line, sizeof line, "big %ld\n", bigret[i]);
    if (write(1, line, strlen(line)) < 0) {}
    return 0;
}

static int bigsends(void) {
    big = malloc(BIG);
    if (!big) return 3;
    for (long j = 0; j < BIG; j++) big[j] = (unsigned char)(j % 251);
    static char chunk[65536];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < n; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, bigsv[i]) < 0) { perror("socketpair"); return 3; }
        long s;
        while ((s = send(bigsv[i][0], chunk, sizeof chunk, MSG_DONTWAIT)) > 0) bigfill[i] += s;
    }
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 65536);
    pthread_t th[1024];
    printf("pid %d\n", getpid());
    fflush(stdout);
    for (long i = 0; i < n; i++) {
        if (pthread_create(&th[i], &at, big_sender, (void *)i)) { perror("pthread_create"); return 3; }
    }
    wait_eof();
    static long got[1024];
    static unsigned char buf[65536];
    int bad = 0, busy = 1;
    while (busy || atomic_load(&bigdone) < n) {
        busy = 0;
        for (int i = 0; i < n; i++) {
            long r = recv(bigsv[i][1], buf, sizeof buf, MSG_DONTWAIT);
            if (r <= 0) continue;
            busy = 1;
            for (long j = 0; j < r; j++, got[i]++) {
                long at = got[i] - bigfill[i];
                unsigned char want = at < 0 ? 'x' : (unsigned char)(at % 251);
                if (buf[j] != want) bad++;
            }
        }
        if (!busy) usleep(1000);
    }
    int ok = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(th[i], 0);
        long r;
        while ((r = recv(bigsv[i][1], buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            for (long j = 0; j < r; j++, got[i]++) {
                long at = got[i] - bigfill[i];
                if (buf[j] != (at < 0 ? 'x' : (unsigned char)(at % 251))) bad++;
            }
        }
        if (bigret[i] == BIG && got[i] == bigfill[i] + BIG) ok++;
    }
    printf("big_ok=%d bad=%d\n", ok, bad);
    return 0;
}

static int connects(void) {
    struct sockaddr_un a = { .sun_family = AF_UNIX, .sun_path = "s" };
    unlink("s");
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 0)) {
        perror("listen");
        return 3;
    }
    for (int i = 0; i < 64; i++) {
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a)) break;
    }
    char line[16 * 1024] = "pids";
    pid_t pids[1024];
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 3; }
        if (pid == 0) {
            int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (raw) syscall(SYS_connect, s, &a, sizeof a);
            else connect(s, (struct sockaddr *)&a, sizeof a);
            _exit(0);
        }
        pids[i] = pid;
        snprintf(line + strlen(line), sizeof line - strlen(line), " %d", pid);
    }
    printf("%s\n", line);
    fflush(stdout);
    wait_eof();
    for (int i = 0; i < n; i++) waitpid(pids[i], 0, 0);
    printf("ok\n");
    return 0;
}

static int fifo(void) {
    if (mkfifo("fifo", 0600) < 0 && errno != EEXIST) { perror("mkfifo"); return 3; }
    char line[16 * 1024] = "pids";
    pid_t pids[1024];
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 3; }
        if (pid == 0) {
            if (raw) syscall(SYS_openat, AT_FDCWD, "fifo", O_WRONLY | O_CLOEXEC);
            else open("fifo", O_WRONLY | O_CLOEXEC);
            _exit(0);
        }
        pids[i] = pid;
        snprintf(line + strlen(line), sizeof line - strlen(line), " %d", pid);
    }
    printf("%s\n", line);
    fflush(stdout);
    wait_eof();
    for (int i = 0; i < n; i++) waitpid(pids[i], 0, 0);
    printf("ok\n");
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage\n"); return 2; }
    raw = !strcmp(argv[argc - 1], "raw");
    n = atoi(argv[2]);
    if (n <= 0 || n > 1024) { fprintf(stderr, "usage\n"); return 2; }
    if (!strcmp(argv[1], "sends") && argc == 5) {
        k = atoi(argv[3]);
        if (k <= 0 || k > MAX_FDS) { fprintf(stderr, "usage\n"); return 2; }
        return sends();
    }
    if (!strcmp(argv[1], "fifo") && argc == 4) return fifo();
    if (!strcmp(argv[1], "bigsends") && argc == 4) return bigsends();
    if (!strcmp(argv[1], "connects") && argc == 4) return connects();
    fprintf(stderr, "usage\n");
    return 2;
}
