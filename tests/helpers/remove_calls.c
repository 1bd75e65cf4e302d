/* Removes each PATH (a file; `d:PATH` a directory) and prints `remove PATH: ok` or
 * `remove PATH: errno N`. `libc` calls unlink/rmdir (through the shim when dynamic);
 * `raw` makes the system call itself, `unlinkat` carrying arbiter's native-removal mark
 * (bit 32 of the flags register) as a hostile program would.
 * Usage: remove_calls libc|raw [d:]PATH... */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MARK (1ULL << 32)

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "libc") && strcmp(argv[1], "raw"))) {
        fprintf(stderr, "usage: remove_calls libc|raw [d:]PATH...\n");
        return 2;
    }
    int raw = strcmp(argv[1], "raw") == 0;
    for (int i = 2; i < argc; i++) {
        const char *p = argv[i];
        int dir = strncmp(p, "d:", 2) == 0;
        if (dir)
            p += 2;
        long rc;
        if (raw)
            rc = syscall(SYS_unlinkat, (long)AT_FDCWD, p,
                         (unsigned long long)(dir ? AT_REMOVEDIR : 0) | MARK);
        else
            rc = dir ? rmdir(p) : unlink(p);
        if (rc == 0)
            printf("remove %s: ok\n", p);
        else
            printf("remove %s: errno %d\n", p, errno);
    }
    return 0;
}
