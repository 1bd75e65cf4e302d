// Red team finding 09: fork children that make only in-process (fast-path) calls, reported
// through the report ring under their own getpid(), and exit before the broker drains them.
//
// Usage: fork_reports N CALLS   (N children, one after the other)
// The parent stats /usr/arbiter-rt09-P first; child k stats /usr/arbiter-rt09-C<k> CALLS times (10: fewer than wake the broker's
// drain, so it has exited before its reports are read; 200: drained partly while alive) and
// _exits at once; the parent waits for it and
// prints "child k pid P" (P: the child's pid as the parent knows it, fork's return).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 5;
    int calls = argc > 2 ? atoi(argv[2]) : 10;
    // The parent's own first call sets the shim's fast paths up (a brokered request); the
    // children inherit them and make no brokered call at all.
    struct stat first;
    stat("/usr/arbiter-rt09-P", &first);
    for (int k = 0; k < n; k++) {
        char path[64];
        snprintf(path, sizeof path, "/usr/arbiter-rt09-C%d", k);
        fflush(stdout);
        pid_t c = fork();
        if (c < 0) {
            perror("fork");
            return 1;
        }
        if (c == 0) {
            struct stat st;
            for (int i = 0; i < calls; i++) {
                stat(path, &st);
            }
            _exit(0);
        }
        waitpid(c, 0, 0);
        printf("child %d pid %d\n", k, (int)c);
    }
    return 0;
}
