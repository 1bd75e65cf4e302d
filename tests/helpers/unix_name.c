/* A pathname unix socket's own name (issue 18): binds a stream socket to argv[1], listens,
 * connects a second socket to it, and prints what getsockname() says of the listener,
 * getpeername() of the client and accept() of the client's (unbound, so empty) address:
 *   sockname PATH
 *   peername PATH
 *   accepted
 * Built dynamically (libc: the shim answers bind) and with -DRAW -static (raw system calls:
 * the seccomp transport answers). */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#ifdef RAW
#define SOCKET(d, t, p) syscall(SYS_socket, d, t, p)
#define BIND(f, a, l) syscall(SYS_bind, f, a, l)
#define LISTEN(f, n) syscall(SYS_listen, f, n)
#define CONNECT(f, a, l) syscall(SYS_connect, f, a, l)
#define GETSOCKNAME(f, a, l) syscall(SYS_getsockname, f, a, l)
#define GETPEERNAME(f, a, l) syscall(SYS_getpeername, f, a, l)
#define ACCEPT(f, a, l) syscall(SYS_accept4, f, a, l, 0)
#else
#define SOCKET socket
#define BIND bind
#define LISTEN listen
#define CONNECT connect
#define GETSOCKNAME getsockname
#define GETPEERNAME getpeername
#define ACCEPT accept
#endif

static void show(const char *what, const struct sockaddr_un *a, socklen_t len) {
    size_t n = len > offsetof(struct sockaddr_un, sun_path)
                   ? len - offsetof(struct sockaddr_un, sun_path)
                   : 0;
    if (n > 0 && a->sun_path[n - 1] == 0) n--;
    printf("%s %.*s\n", what, (int)n, a->sun_path);
}

int main(int argc, char **argv) {
    if (argc != 2 || strlen(argv[1]) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        fprintf(stderr, "usage: unix_name PATH (shorter than 108 bytes)\n");
        return 2;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strcpy(addr.sun_path, argv[1]);
    socklen_t alen = offsetof(struct sockaddr_un, sun_path) + strlen(argv[1]) + 1;
    int srv = SOCKET(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (srv < 0 || BIND(srv, &addr, alen) != 0 || LISTEN(srv, 1) != 0) {
        printf("bind %s\n", strerror(errno));
        return 1;
    }
    struct sockaddr_un got;
    socklen_t len = sizeof got;
    if (GETSOCKNAME(srv, &got, &len) != 0) {
        printf("getsockname %s\n", strerror(errno));
        return 1;
    }
    show("sockname", &got, len);
    int cli = SOCKET(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (cli < 0 || CONNECT(cli, &addr, alen) != 0) {
        printf("connect %s\n", strerror(errno));
        return 1;
    }
    len = sizeof got;
    if (GETPEERNAME(cli, &got, &len) != 0) {
        printf("getpeername %s\n", strerror(errno));
        return 1;
    }
    show("peername", &got, len);
    len = sizeof got;
    if (ACCEPT(srv, &got, &len) < 0) {
        printf("accept %s\n", strerror(errno));
        return 1;
    }
    show("accepted", &got, len);
    return 0;
}
