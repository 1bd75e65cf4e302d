/* The network floor's attacks, each one step: prints "ok" or "errno N" and exits 0.
 * Built dynamic (the shim is loaded) and -static (no shim); MODE "raw" makes the system
 * call with syscall(2), MODE "libc" through glibc's wrapper.
 *   listen MODE               TCP socket, listen() without bind (the kernel picks a port)
 *   relisten MODE PORT        TCP connect 127.0.0.1:PORT, which must be refused, then
 *                             listen() on the same socket (the kernel released the port
 *                             getsockname still shows and picks another)
 *   autolisten MODE           unix stream socket autobound (bind with only the family:
 *                             the kernel picks an abstract name), then listen()
 *   rthdr MODE                IPv6 UDP socket, setsockopt(IPPROTO_IPV6, IPV6_RTHDR) with a
 *                             segment routing header naming fd00::2 (no capability needed;
 *                             in raw mode the level carries a high bit the kernel drops)
 *   ipopts MODE               IPv4 UDP socket, setsockopt(IPPROTO_IP, IP_OPTIONS) with a
 *                             loose source route through 10.9.9.9 (CAP_NET_RAW natively)
 *   unspec MODE KIND ADDR PORT  KIND tcp: connect to ADDR:PORT; udp: sendto ADDR:PORT
 *                             (ADDR an IPv4 or IPv6 literal: 0.0.0.0, ::, ::ffff:0.0.0.0
 *                             reach this host)
 *   pin MODE                  a thread blocks in sendmsg(MSG_FASTOPEN) on a full unix stream
 *                             socketpair; it is interrupted 80 times by a SA_RESTART signal
 *                             (each restart a new call), then openat(/etc/hostname) must be
 *                             answered (alarm(30): SIGALRM when it never is)
 *   nlgroup MODE              NETLINK_ROUTE socket, setsockopt(SOL_NETLINK,
 *                             NETLINK_ADD_MEMBERSHIP, RTNLGRP_LINK) (no capability needed)
 *   udp MODE PORT             UDP sendto 127.0.0.1:PORT
 *   sendmsg MODE PORT         UDP sendmsg with msg_name 127.0.0.1:PORT
 *   sendmmsg MODE PORT        UDP sendmmsg, two datagrams with msg_name 127.0.0.1:PORT
 *   tfo MODE PORT             TCP Fast Open: sendto(MSG_FASTOPEN) to 127.0.0.1:PORT
 *   tfomsg MODE PORT          TCP Fast Open: sendmsg(msg_name, MSG_FASTOPEN) to 127.0.0.1:PORT
 *   tfommsg MODE PORT         TCP Fast Open: sendmmsg(msg_name, MSG_FASTOPEN), one message
 *   unixdgram MODE PATH       unix datagram sendto a pathname socket
 *   connected MODE PORT       UDP connect 127.0.0.1:PORT, then send (no destination)
 *   rights MODE PATH          unix datagram sendmsg to PATH passing fd 0 (SCM_RIGHTS)
 *   race PORT DENIED N        N sendmsg to PORT while a thread flips msg_name's port to
 *                             DENIED and back; "ok" when every call returned
 *   raw MODE                  socket(AF_INET, SOCK_RAW, IPPROTO_ICMP)
 *   packet MODE               socket(AF_PACKET, SOCK_RAW, 0)
 *   sockpacket MODE           socket(AF_INET, SOCK_PACKET, 0) (the legacy packet type)
 *   sctp MODE                 socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)
 *   sctpseq MODE              socket(AF_INET6, SOCK_SEQPACKET, 0) (SCTP one-to-many)
 *   shortname MODE PORT       UDP sendto with a 1-byte destination (EINVAL natively)
 *   nlread MODE               NETLINK_ROUTE: bind, send an RTM_GETLINK dump request, read
 *   nlwrite MODE              NETLINK_ROUTE: bind, send an RTM_SETLINK for a missing link
 *                             (a state-changing request; "ok" when the send went out) */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

static int raw_mode;

static int done(long rc) {
    if (rc >= 0) printf("ok\n");
    else printf("errno %d\n", errno);
    return 0;
}

static long x_socket(int d, int t, int p) {
    return raw_mode ? syscall(SYS_socket, d, t, p) : socket(d, t, p);
}

static long x_sendto(int s, const void *b, size_t n, int f, const void *a, socklen_t l) {
    return raw_mode ? syscall(SYS_sendto, s, b, n, f, a, l)
                    : sendto(s, b, n, f, (const struct sockaddr *)a, l);
}

static long x_sendmsg(int s, const struct msghdr *m, int f) {
    return raw_mode ? syscall(SYS_sendmsg, s, m, f) : sendmsg(s, m, f);
}

static struct sockaddr_in loopback(const char *port) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

static struct sockaddr_in race_addr;
static volatile int race_stop, race_started;
static volatile unsigned long race_flips;
static unsigned short race_ports[2];

static void *flipper(void *unused) {
    (void)unused;
    unsigned i = 0;
    while (!race_stop) {
        *(volatile unsigned short *)&race_addr.sin_port = race_ports[++i & 1];
        race_flips = i;
        if (i > 1000) race_started = 1;
    }
    return NULL;
}

static volatile pid_t pin_tid;
static void on_signal(int sig) { (void)sig; }

static void *pin_blocker(void *unused) {
    (void)unused;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return NULL;
    int sz = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    static char junk[4096];
    while (write(sv[0], junk, sizeof junk) > 0) {
    }
    fcntl(sv[0], F_SETFL, 0);
    struct iovec iov = {junk, sizeof junk};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    pin_tid = (pid_t)syscall(SYS_gettid);
    x_sendmsg(sv[0], &m, MSG_FASTOPEN);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *step = argv[1];
    raw_mode = argc > 2 && !strcmp(argv[2], "raw");
    if (!strcmp(step, "listen") && argc == 3) {
        long s = x_socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) return done(s);
        return done(raw_mode ? syscall(SYS_listen, s, 1) : listen(s, 1));
    }
    if (!strcmp(step, "relisten") && argc == 4) {
        long s = x_socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) return done(s);
        struct sockaddr_in sin = loopback(argv[3]);
        long rc = raw_mode ? syscall(SYS_connect, s, &sin, sizeof sin)
                           : connect(s, (struct sockaddr *)&sin, sizeof sin);
        if (rc == 0 || errno != ECONNREFUSED) {
            printf("connect was not refused: rc %ld errno %d\n", rc, errno);
            return 1;
        }
        return done(raw_mode ? syscall(SYS_listen, s, 1) : listen(s, 1));
    }
    if (!strcmp(step, "autolisten") && argc == 3) {
        long s = x_socket(AF_UNIX, SOCK_STREAM, 0);
        if (s < 0) return done(s);
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        socklen_t len = sizeof(sa_family_t);
        long rc = raw_mode ? syscall(SYS_bind, s, &sun, len)
                           : bind(s, (struct sockaddr *)&sun, len);
        if (rc < 0) {
            printf("autobind failed: errno %d\n", errno);
            return 1;
        }
        return done(raw_mode ? syscall(SYS_listen, s, 1) : listen(s, 1));
    }
    if ((!strcmp(step, "rthdr") || !strcmp(step, "ipopts")) && argc == 3) {
        int v6 = !strcmp(step, "rthdr");
        long s = x_socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM, 0);
        if (s < 0) return done(s);
        unsigned char srh[24] = {IPPROTO_UDP, 2, 4 /* SRH */, 0, 0};
        inet_pton(AF_INET6, "fd00::2", srh + 8);
        unsigned char lsrr[8] = {1 /* NOP */, 131 /* LSRR */, 7, 4, 10, 9, 9, 9};
        int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP, name = v6 ? IPV6_RTHDR : IP_OPTIONS;
        void *val = v6 ? (void *)srh : (void *)lsrr;
        socklen_t len = v6 ? sizeof srh : sizeof lsrr;
        if (raw_mode)
            return done(syscall(SYS_setsockopt, s, (1L << 32) | level, name, val, len));
        return done(setsockopt(s, level, name, val, len));
    }
    if (!strcmp(step, "unspec") && argc == 6) {
        int tcp = !strcmp(argv[3], "tcp");
        struct sockaddr_storage ss;
        socklen_t len;
        memset(&ss, 0, sizeof ss);
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        if (inet_pton(AF_INET, argv[4], &sin->sin_addr) == 1) {
            sin->sin_family = AF_INET;
            sin->sin_port = htons((unsigned short)atoi(argv[5]));
            len = sizeof *sin;
        } else if (inet_pton(AF_INET6, argv[4], &sin6->sin6_addr) == 1) {
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons((unsigned short)atoi(argv[5]));
            len = sizeof *sin6;
        } else {
            return 2;
        }
        long s = x_socket(ss.ss_family, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
        if (s < 0) return done(s);
        if (!tcp) return done(x_sendto(s, "x", 1, 0, &ss, len));
        return done(raw_mode ? syscall(SYS_connect, s, &ss, len)
                             : connect(s, (struct sockaddr *)&ss, len));
    }
    if (!strcmp(step, "pin") && argc == 3) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &sa, NULL);
        pthread_t t;
        pthread_create(&t, NULL, pin_blocker, NULL);
        while (!pin_tid) usleep(1000);
        for (int i = 0; i < 80; i++) {
            syscall(SYS_tgkill, getpid(), pin_tid, SIGUSR1);
            usleep(15000);
        }
        alarm(30);
        long fd = raw_mode ? syscall(SYS_openat, AT_FDCWD, "/etc/hostname", O_RDONLY)
                           : open("/etc/hostname", O_RDONLY);
        done(fd);
        fflush(stdout);
        _exit(0);
    }
    if (!strcmp(step, "nlgroup") && argc == 3) {
        long s = x_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
        if (s < 0) return done(s);
        int group = RTNLGRP_LINK;
        if (raw_mode)
            return done(syscall(SYS_setsockopt, s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group,
                                sizeof group));
        return done(setsockopt(s, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group));
    }
    if (!strcmp(step, "udp") && argc == 4) {
        long s = x_socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        return done(x_sendto(s, "x", 1, 0, &sin, sizeof sin));
    }
    if ((!strcmp(step, "sendmsg") || !strcmp(step, "sendmmsg")) && argc == 4) {
        long s = x_socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        struct iovec iov = {.iov_base = "x", .iov_len = 1};
        struct mmsghdr mm[2];
        memset(mm, 0, sizeof mm);
        for (int i = 0; i < 2; i++) {
            mm[i].msg_hdr.msg_name = &sin;
            mm[i].msg_hdr.msg_namelen = sizeof sin;
            mm[i].msg_hdr.msg_iov = &iov;
            mm[i].msg_hdr.msg_iovlen = 1;
        }
        if (!strcmp(step, "sendmsg")) return done(x_sendmsg(s, &mm[0].msg_hdr, 0));
        long n = raw_mode ? syscall(SYS_sendmmsg, s, mm, 2, 0) : sendmmsg(s, mm, 2, 0);
        if (n == 2 && mm[0].msg_len == 1 && mm[1].msg_len == 1) return done(0);
        if (n >= 0) {
            printf("sent %ld\n", n);
            return 0;
        }
        return done(n);
    }
    if (!strcmp(step, "shortname") && argc == 4) {
        long s = x_socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        return done(x_sendto(s, "x", 1, 0, &sin, 1));
    }
    if (!strcmp(step, "tfo") && argc == 4) {
        long s = x_socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        return done(x_sendto(s, "x", 1, MSG_FASTOPEN, &sin, sizeof sin));
    }
    if ((!strcmp(step, "tfomsg") || !strcmp(step, "tfommsg")) && argc == 4) {
        long s = x_socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        struct iovec iov = {"x", 1};
        struct mmsghdr mm;
        memset(&mm, 0, sizeof mm);
        mm.msg_hdr.msg_name = &sin;
        mm.msg_hdr.msg_namelen = sizeof sin;
        mm.msg_hdr.msg_iov = &iov;
        mm.msg_hdr.msg_iovlen = 1;
        if (!strcmp(step, "tfomsg")) return done(x_sendmsg(s, &mm.msg_hdr, MSG_FASTOPEN));
        long n = raw_mode ? syscall(SYS_sendmmsg, s, &mm, 1, MSG_FASTOPEN)
                          : sendmmsg(s, &mm, 1, MSG_FASTOPEN);
        return done(n == 1 ? 0 : n < 0 ? -1 : (errno = EIO, -1));
    }
    if (!strcmp(step, "connected") && argc == 4) {
        long s = x_socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in sin = loopback(argv[3]);
        if (connect(s, (struct sockaddr *)&sin, sizeof sin) < 0) return done(-1);
        return done(x_sendto(s, "x", 1, 0, NULL, 0));
    }
    if ((!strcmp(step, "unixdgram") || !strcmp(step, "rights")) && argc == 4) {
        long s = x_socket(AF_UNIX, SOCK_DGRAM, 0);
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strncpy(sun.sun_path, argv[3], sizeof sun.sun_path - 1);
        if (!strcmp(step, "unixdgram")) return done(x_sendto(s, "x", 1, 0, &sun, sizeof sun));
        union {
            struct cmsghdr h;
            char buf[CMSG_SPACE(sizeof(int))];
        } ctl;
        memset(&ctl, 0, sizeof ctl);
        struct iovec iov = {.iov_base = "x", .iov_len = 1};
        struct msghdr m = {.msg_name = &sun, .msg_namelen = sizeof sun, .msg_iov = &iov,
                           .msg_iovlen = 1, .msg_control = ctl.buf,
                           .msg_controllen = sizeof ctl.buf};
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int zero = 0;
        memcpy(CMSG_DATA(c), &zero, sizeof zero);
        return done(x_sendmsg(s, &m, 0));
    }
    if (!strcmp(step, "race") && argc == 5) {
        raw_mode = 1;
        long s = x_socket(AF_INET, SOCK_DGRAM, 0);
        race_addr = loopback(argv[2]);
        race_ports[0] = htons((unsigned short)atoi(argv[2]));
        race_ports[1] = htons((unsigned short)atoi(argv[3]));
        int n = atoi(argv[4]);
        struct iovec iov = {.iov_base = "x", .iov_len = 1};
        struct msghdr m = {.msg_name = &race_addr, .msg_namelen = sizeof race_addr,
                           .msg_iov = &iov, .msg_iovlen = 1};
        pthread_t t;
        if (pthread_create(&t, NULL, flipper, NULL) != 0) return 2;
        while (!race_started) {
        }
        for (int i = 0; i < n; i++) {
            /* The flipper has moved since the last send: the two really run together. */
            unsigned long seen = race_flips;
            while (race_flips == seen) sched_yield();
            x_sendmsg(s, &m, 0);
        }
        race_stop = 1;
        pthread_join(t, NULL);
        return done(0);
    }
    if (!strcmp(step, "raw") && argc == 3) return done(x_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP));
    if (!strcmp(step, "packet") && argc == 3) return done(x_socket(AF_PACKET, SOCK_RAW, 0));
    if (!strcmp(step, "sockpacket") && argc == 3)
        return done(x_socket(AF_INET, SOCK_PACKET, htons(3)));
    if (!strcmp(step, "sctp") && argc == 3)
        return done(x_socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP));
    if (!strcmp(step, "sctpseq") && argc == 3)
        return done(x_socket(AF_INET6, SOCK_SEQPACKET, 0));
    if ((!strcmp(step, "nlread") || !strcmp(step, "nlwrite")) && argc == 3) {
        long s = x_socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (s < 0) return done(s);
        struct sockaddr_nl nl;
        memset(&nl, 0, sizeof nl);
        nl.nl_family = AF_NETLINK;
        if (bind(s, (struct sockaddr *)&nl, sizeof nl) < 0) return done(-1);
        struct {
            struct nlmsghdr h;
            struct ifinfomsg i;
        } req;
        memset(&req, 0, sizeof req);
        req.h.nlmsg_len = sizeof req;
        req.h.nlmsg_seq = 1;
        if (!strcmp(step, "nlread")) {
            req.h.nlmsg_type = RTM_GETLINK;
            req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
        } else {
            req.h.nlmsg_type = RTM_SETLINK;
            req.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
            req.i.ifi_index = 0x7ffffff0;
            req.i.ifi_change = 1; /* IFF_UP */
        }
        if (x_sendto(s, &req, sizeof req, 0, &nl, sizeof nl) < 0) return done(-1);
        if (!strcmp(step, "nlwrite")) return done(0);
        char buf[8192];
        return done(recv(s, buf, sizeof buf, 0) > 0 ? 0 : -1);
    }
    return 2;
}
