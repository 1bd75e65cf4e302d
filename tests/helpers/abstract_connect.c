/* Connects a stream socket to the abstract unix socket name argv[1] (red team C 03: a name
 * carrying a newline and policy text) and prints "connected" or "connect: ERROR".
 * Built dynamically (libc: the shim answers connect) and with -DRAW -static (raw system
 * calls: the seccomp transport answers). */
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
#define CONNECT(f, a, l) syscall(SYS_connect, f, a, l)
#else
#define SOCKET socket
#define CONNECT connect
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: abstract_connect NAME\n");
        return 2;
    }
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t n = strlen(argv[1]);
    if (n + 1 > sizeof a.sun_path) {
        fprintf(stderr, "name too long\n");
        return 2;
    }
    memcpy(a.sun_path + 1, argv[1], n);
    int fd = (int)SOCKET(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        printf("socket: %s\n", strerror(errno));
        return 1;
    }
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    if (CONNECT(fd, (struct sockaddr *)&a, len) == 0)
        printf("connected\n");
    else
        printf("connect: %s\n", strerror(errno));
    fflush(stdout);
    return 0;
}
