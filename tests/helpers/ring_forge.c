/* A hostile program that takes the audit report ring (docs/audit.md, "Reported calls")
 * the way the shim does, with raw system calls, and writes into it what it likes.
 *
 * It registers a call channel on $ARBITER_FD, sends the FRAME (hex: a postcard-encoded
 * FastPaths request the test made), maps the memfd that comes back with the reply, then:
 *
 *   ring_forge forge VERSION FRAME PATH PID
 *       publishes, through the ring's own claim/publish protocol, one slot of each forgery
 *       the broker must refuse (unknown call, pid 0, a NUL in the path, an open claiming
 *       O_WRONLY|O_CREAT, an impossible stat result, no time, a time an hour ahead, a read
 *       of /etc/shadow, which the policy denies) and one well-formed claim, a stat of PATH
 *       by PID (which the broker writes, marked as reported); prints "forged N".
 *   ring_forge scribble VERSION FRAME
 *       overwrites the whole ring, header included, with a byte pattern; prints "scribbled".
 *   ring_forge fill VERSION FRAME [STOPFILE]
 *       claims every free slot and never publishes one; prints "filled N". With STOPFILE,
 *       then keeps claiming every slot the broker frees (it skips holes a second after it
 *       knew them claimed) every 5 ms until STOPFILE exists (at most 6000 rounds).
 *   ring_forge rel VERSION FRAME PATH PID
 *       publishes one well-formed read-only open of the relative PATH (fd 3) by PID, which
 *       the broker cannot check against the policy; prints "forged 1" (finding 10).
 *   ring_forge opens VERSION FRAME PID PATH...
 *       publishes one well-formed read-only open of each absolute PATH by PID (answered
 *       fd 3); prints "forged N" (red team s6 finding 11: paths no fast path answers).
 *   ring_forge flood VERSION FRAME PATH PID N
 *       publishes up to N well-formed stat reports of PATH by PID as fast as it can (no
 *       system call per report); when the ring is full it waits a millisecond and tries
 *       again, and gives up after 3000 full tries in a row; prints "flooded N".
 *       (Red-team finding 14: with the audit sink stalled, the broker must not buffer
 *       what the program writes without bound.)
 *
 * Without a ring in the reply it prints "no ring" and exits 3.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The layout of arbiter_protocol::ring. */
#define SLOTS 16384u
#define SLOT_SIZE 128u
#define HEADER 256u
#define RING_BYTES (HEADER + SLOTS * SLOT_SIZE)
#define OFF_HEAD 64
#define SLOT_TIME 8
#define SLOT_PID 16
#define SLOT_FLAGS 20
#define SLOT_RESULT 24
#define SLOT_CALL 28
#define SLOT_PATH_LEN 30
#define SLOT_PATH 32

static unsigned char *ring;

static uint64_t *head(void) { return (uint64_t *)(ring + OFF_HEAD); }
static unsigned char *slot(uint64_t pos) { return ring + HEADER + (pos % SLOTS) * SLOT_SIZE; }
/* A slot stores its sequence number less its index (a zero-filled ring is fresh). */
static uint64_t *seq_word(uint64_t pos) { return (uint64_t *)slot(pos); }
static uint64_t load_seq(uint64_t pos) {
    return __atomic_load_n(seq_word(pos), __ATOMIC_ACQUIRE) + pos % SLOTS;
}
static void store_seq(uint64_t pos, uint64_t v) {
    __atomic_store_n(seq_word(pos), v - pos % SLOTS, __ATOMIC_RELEASE);
}

/* Claims the next slot as a producer does; -1 when the ring is full. */
static int64_t claim(void) {
    for (int i = 0; i < 1000; i++) {
        uint64_t pos = __atomic_load_n(head(), __ATOMIC_RELAXED);
        uint64_t s = load_seq(pos);
        if (s == pos) {
            if (__atomic_compare_exchange_n(head(), &pos, pos + 1, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
                return (int64_t)pos;
        } else if ((int64_t)(s - pos) < 0) {
            return -1;
        }
    }
    return -1;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int publish(uint64_t time_ns, int32_t pid, uint8_t call, int32_t flags, int32_t result,
                   const char *path, uint16_t len) {
    int64_t pos = claim();
    if (pos < 0) return 0;
    unsigned char *s = slot((uint64_t)pos);
    memcpy(s + SLOT_TIME, &time_ns, 8);
    memcpy(s + SLOT_PID, &pid, 4);
    memcpy(s + SLOT_FLAGS, &flags, 4);
    memcpy(s + SLOT_RESULT, &result, 4);
    s[SLOT_CALL] = call;
    memcpy(s + SLOT_PATH_LEN, &len, 2);
    memcpy(s + SLOT_PATH, path, len);
    store_seq((uint64_t)pos, (uint64_t)pos + 1);
    return 1;
}

static long send_fd(int sock, const void *buf, long len, int fd) {
    struct iovec iov = {(void *)buf, (size_t)len};
    char ctl[CMSG_SPACE(sizeof(int))];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    memset(ctl, 0, sizeof ctl);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    if (fd >= 0) {
        m.msg_control = ctl;
        m.msg_controllen = sizeof ctl;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return syscall(SYS_sendmsg, sock, &m, 0);
}

static long recv_fd(int sock, void *buf, long len, int *fd) {
    struct iovec iov = {buf, (size_t)len};
    char ctl[CMSG_SPACE(4 * sizeof(int))];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    long n = syscall(SYS_recvmsg, sock, &m, 0);
    *fd = -1;
    if (n >= 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                memcpy(fd, CMSG_DATA(c), sizeof *fd);
    }
    return n;
}

static int unhex(const char *s, unsigned char *out, int max) {
    int n = 0;
    for (; s[0] && s[1] && n < max; s += 2) {
        char b[3] = {s[0], s[1], 0};
        out[n++] = (unsigned char)strtoul(b, NULL, 16);
    }
    return n;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: ring_forge forge|scribble|fill|rel|flood VERSION FRAME [PATH PID [N]]\n");
        return 2;
    }
    const char *env = getenv("ARBITER_FD");
    if (!env) { printf("no ARBITER_FD\n"); return 2; }
    int boot = atoi(env);
    int sv[2];
    if (syscall(SYS_socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) return 2;
    unsigned char reg = (unsigned char)atoi(argv[2]);
    if (send_fd(boot, &reg, 1, sv[1]) < 0) { printf("cannot register\n"); return 2; }
    syscall(SYS_close, sv[1]);
    static unsigned char buf[16384];
    int fd;
    if (recv_fd(sv[0], buf, sizeof buf, &fd) <= 0) { printf("no welcome\n"); return 2; }
    static unsigned char frame[16384];
    int len = unhex(argv[3], frame, sizeof frame);
    if (send_fd(sv[0], frame, len, -1) < 0) { printf("closed\n"); return 2; }
    if (recv_fd(sv[0], buf, sizeof buf, &fd) <= 0) { printf("closed\n"); return 2; }
    if (fd < 0) { printf("no ring\n"); return 3; }
    ring = (unsigned char *)syscall(SYS_mmap, 0, RING_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED,
                                    fd, 0);
    if ((long)ring < 0 && (long)ring > -4096) { printf("cannot map\n"); return 2; }
    syscall(SYS_close, fd);

    if (!strcmp(argv[1], "forge") && argc >= 6) {
        const char *claimed = argv[4];
        int32_t pid = atoi(argv[5]);
        uint64_t t = now_ns();
        int n = 0;
        n += publish(t, pid, 9, 0, 0, "/a", 2);                                /* unknown call */
        n += publish(t, 0, 1, 0, 0, "/a", 2);                                  /* pid 0 */
        n += publish(t, pid, 1, 0, 0, "/a\0b", 4);                             /* NUL in path */
        n += publish(t, pid, 3, O_WRONLY | O_CREAT, 3, "/tmp/x", 6);           /* a write */
        n += publish(t, pid, 1, 0, 5, "/a", 2);                                /* stat = 5 */
        n += publish(0, pid, 1, 0, 0, "/a", 2);                                /* no time */
        n += publish(t + 3600ull * 1000000000ull, pid, 1, 0, 0, "/a", 2);      /* an hour on */
        n += publish(t, pid, 3, O_RDONLY, 3, "/etc/shadow", 11);               /* denied */
        n += publish(t, pid, 1, 0, 0, claimed, (uint16_t)strlen(claimed));     /* well-formed */
        printf("forged %d\n", n);
    } else if (!strcmp(argv[1], "scribble")) {
        for (unsigned long i = 0; i < RING_BYTES; i++) ring[i] = (unsigned char)(0xa5 ^ (i * 7));
        printf("scribbled\n");
    } else if (!strcmp(argv[1], "rel") && argc >= 6) {
        int n = publish(now_ns(), atoi(argv[5]), 3, O_RDONLY, 3, argv[4], (uint16_t)strlen(argv[4]));
        printf("forged %d\n", n);
    } else if (!strcmp(argv[1], "opens") && argc >= 6) {
        /* ring_forge opens VERSION FRAME PID PATH...: one well-formed read-only open of each
         * absolute PATH by PID, answered fd 3 (red team s6 finding 11). */
        int32_t pid = atoi(argv[4]);
        int n = 0;
        for (int i = 5; i < argc; i++)
            n += publish(now_ns(), pid, 3, O_RDONLY, 3, argv[i], (uint16_t)strlen(argv[i]));
        printf("forged %d\n", n);
    } else if (!strcmp(argv[1], "flood") && argc >= 7) {
        const char *path = argv[4];
        int32_t pid = atoi(argv[5]);
        long want = atol(argv[6]), n = 0, full = 0;
        uint16_t len = (uint16_t)strlen(path);
        while (n < want && full < 3000) {
            if (publish(now_ns(), pid, 1, 0, 0, path, len)) {
                n++;
                full = 0;
            } else {
                struct timespec ms = {0, 1000000};
                syscall(SYS_nanosleep, &ms, NULL);
                full++;
            }
        }
        printf("flooded %ld\n", n);
    } else if (!strcmp(argv[1], "fill")) {
        long n = 0;
        while (claim() >= 0) n++;
        printf("filled %ld\n", n);
        fflush(stdout);
        for (int i = 0; argc >= 5 && i < 6000; i++) {
            if (syscall(SYS_faccessat, AT_FDCWD, argv[4], F_OK, 0) == 0) break;
            while (claim() >= 0) {
            }
            struct timespec ms = {0, 5000000};
            syscall(SYS_nanosleep, &ms, NULL);
        }
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    fflush(stdout);
    return 0;
}
