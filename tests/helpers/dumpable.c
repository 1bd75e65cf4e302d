/* A program that makes itself non-dumpable (as gpg-agent and ssh-agent do) and then makes
 * brokered calls (issue 18): prctl(PR_SET_DUMPABLE, 0), then a relative unix bind and a
 * file creation in the working directory, by raw system calls (the seccomp transport).
 * Prints:
 *   set 0            (prctl's result)
 *   dumpable N       (PR_GET_DUMPABLE)
 *   bind ok|bind ERR
 *   create ok|create ERR */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int main(void) {
    printf("set %ld\n", syscall(SYS_prctl, PR_SET_DUMPABLE, 0L, 0L, 0L, 0L));
    printf("dumpable %ld\n", syscall(SYS_prctl, PR_GET_DUMPABLE, 0L, 0L, 0L, 0L));
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, "d.sock");
    int s = (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1;
    if (s >= 0 && syscall(SYS_bind, s, &a, len) == 0)
        printf("bind ok\n");
    else
        printf("bind %s\n", strerror(errno));
    long fd = syscall(SYS_openat, AT_FDCWD, "made", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        printf("create ok\n");
    else
        printf("create %s\n", strerror(errno));
    return 0;
}
