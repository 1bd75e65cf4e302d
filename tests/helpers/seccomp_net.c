/* Built with -static: no shim, so connect/bind reach the broker by seccomp notification.
 * Usage: seccomp_net STEP ARG…; prints "STEP ok" or "STEP errno=N" and exits 0.
 *   connect PORT        TCP connect to 127.0.0.1:PORT
 *   bind PORT           TCP bind to 127.0.0.1:PORT
 *   resolve NAME PORT   getaddrinfo(NAME, AF_INET) (reads /etc/hosts), then connect
 *   nonblock PORT       non-blocking connect: EINPROGRESS or 0, then SO_ERROR after poll
 *   unix PATH           connect to a pathname unix socket (relative to the cwd)
 *   unix_bind PATH      bind a pathname unix socket (relative to the cwd)
 *   netlink             bind an AF_NETLINK NETLINK_SOCK_DIAG socket (another family than
 *                       unix/inet, and not the NETLINK_ROUTE reads glibc needs: refused) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int report(const char *name, int ok) {
    if (ok) printf("%s ok\n", name);
    else printf("%s errno=%d\n", name, errno);
    return 0;
}

static struct sockaddr_in loopback(const char *port) {
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)atoi(port));
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return sin;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *step = argv[1];
    if (!strcmp(step, "connect") && argc == 3) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = loopback(argv[2]);
        return report(step, connect(s, (struct sockaddr *)&sin, sizeof sin) == 0);
    }
    if (!strcmp(step, "bind") && argc == 3) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = loopback(argv[2]);
        int ok = bind(s, (struct sockaddr *)&sin, sizeof sin) == 0;
        if (ok) {
            socklen_t len = sizeof sin;
            ok = getsockname(s, (struct sockaddr *)&sin, &len) == 0
                && ntohs(sin.sin_port) == atoi(argv[2]);
        }
        return report(step, ok);
    }
    if (!strcmp(step, "resolve") && argc == 4) {
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = AF_INET;
        hints.ai_socktype = SOCK_STREAM;
        int rc = getaddrinfo(argv[2], argv[3], &hints, &res);
        if (rc != 0) {
            printf("resolve eai=%d\n", rc);
            return 0;
        }
        int s = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
        int ok = connect(s, res->ai_addr, res->ai_addrlen) == 0;
        freeaddrinfo(res);
        return report(step, ok);
    }
    if (!strcmp(step, "nonblock") && argc == 3) {
        int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        struct sockaddr_in sin = loopback(argv[2]);
        int rc = connect(s, (struct sockaddr *)&sin, sizeof sin);
        if (rc < 0 && errno != EINPROGRESS) return report(step, 0);
        printf("nonblock first=%s\n", rc == 0 ? "0" : "EINPROGRESS");
        struct pollfd p = {.fd = s, .events = POLLOUT};
        int err = -1;
        socklen_t len = sizeof err;
        int ok = poll(&p, 1, 5000) == 1
            && getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0
            && (fcntl(s, F_GETFL) & O_NONBLOCK);
        return report(step, ok);
    }
    if ((!strcmp(step, "unix") || !strcmp(step, "unix_bind")) && argc == 3) {
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sun;
        memset(&sun, 0, sizeof sun);
        sun.sun_family = AF_UNIX;
        strncpy(sun.sun_path, argv[2], sizeof sun.sun_path - 1);
        socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(sun.sun_path) + 1);
        if (!strcmp(step, "unix")) return report(step, connect(s, (struct sockaddr *)&sun, len) == 0);
        return report(step, bind(s, (struct sockaddr *)&sun, len) == 0);
    }
    if (!strcmp(step, "netlink")) {
        int s = socket(AF_NETLINK, SOCK_RAW, NETLINK_SOCK_DIAG);
        if (s < 0) return report("netlink_socket", 0);
        struct sockaddr_nl nl;
        memset(&nl, 0, sizeof nl);
        nl.nl_family = AF_NETLINK;
        return report(step, bind(s, (struct sockaddr *)&nl, sizeof nl) == 0);
    }
    return 2;
}
