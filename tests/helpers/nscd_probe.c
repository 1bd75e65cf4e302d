/* glibc's name-service cache probe, as getpwuid() makes it: a unix stream connect to
 * /var/run/nscd/socket. Prints `connect => ERRNO-NAME` (or `connect => 0`). Built through
 * libc, and static with -DRAW (raw system calls, which only the seccomp transport sees). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static const char *name(int e) {
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case ECONNREFUSED: return "ECONNREFUSED";
    case ENOTDIR: return "ENOTDIR";
    default: return strerror(e);
    }
}

int main(void) {
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "/var/run/nscd/socket");
#ifdef RAW
    long fd = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    long r = fd < 0 ? -1 : syscall(SYS_connect, fd, &a, sizeof a);
#else
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = fd < 0 ? -1 : connect(fd, (struct sockaddr *)&a, sizeof a);
#endif
    printf("connect => %s\n", name(r == 0 ? 0 : errno));
    return 0;
}
