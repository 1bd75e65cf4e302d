/* Binds many pathname unix sockets while another process swaps the directory they are
 * bound in (issue 18: a relative bind must land in the directory the broker decided on).
 *   unix_bind_swap MODE N [PREFIX]
 * MODE: rel, rel-libc (bind "sI.sock", relative to the working directory) or abs, abs-libc
 * (bind "PREFIX/sI.sock"); the -libc forms call bind(), the others the raw system call.
 * Prints "ready", waits for a line on stdin (the swapper runs by then), makes the N binds
 * (I = 0..N-1, each socket closed after its bind) and prints "bound K of N". */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: unix_bind_swap rel|rel-libc|abs|abs-libc N [PREFIX]\n");
        return 2;
    }
    const char *mode = argv[1];
    int libc_form = strstr(mode, "-libc") != NULL;
    int absolute = strncmp(mode, "abs", 3) == 0;
    if (absolute && argc < 4) {
        fprintf(stderr, "abs needs a PREFIX\n");
        return 2;
    }
    int n = atoi(argv[2]);
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) return 2;
    int bound = 0;
    for (int i = 0; i < n; i++) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (absolute)
            snprintf(a.sun_path, sizeof a.sun_path, "%s/s%d.sock", argv[3], i);
        else
            snprintf(a.sun_path, sizeof a.sun_path, "s%d.sock", i);
        socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(a.sun_path) + 1;
        int s = libc_form ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)
                          : (int)syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            printf("socket %s\n", strerror(errno));
            return 1;
        }
        long rc = libc_form ? bind(s, (struct sockaddr *)&a, len)
                            : syscall(SYS_bind, s, &a, len);
        if (rc == 0) bound++;
        close(s);
    }
    printf("bound %d of %d\n", bound, n);
    return 0;
}
