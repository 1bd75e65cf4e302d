/* Renames as told and prints one line per operation: `OP FROM TO: ok` or
 * `OP FROM TO: errno N`. `libc` calls rename/renameat2 (through the shim when dynamic);
 * `raw` makes the renameat2 system call itself (the seccomp transport); `ln` links FROM
 * as TO (link, or the linkat system call).
 * Usage: rename_calls libc|raw (mv FROM TO | xchg A B | ln FROM TO)... */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "libc") && strcmp(argv[1], "raw"))) {
        fprintf(stderr, "usage: rename_calls libc|raw (mv FROM TO | xchg A B | ln FROM TO)...\n");
        return 2;
    }
    int raw = strcmp(argv[1], "raw") == 0;
    for (int i = 2; i + 2 < argc; i += 3) {
        const char *op = argv[i], *a = argv[i + 1], *b = argv[i + 2];
        unsigned flags = strcmp(op, "xchg") == 0 ? RENAME_EXCHANGE : 0;
        long rc;
        if (strcmp(op, "ln") == 0)
            rc = raw ? syscall(SYS_linkat, (long)AT_FDCWD, a, (long)AT_FDCWD, b, 0L) : link(a, b);
        else if (raw)
            rc = syscall(SYS_renameat2, (long)AT_FDCWD, a, (long)AT_FDCWD, b, (long)flags);
        else if (flags)
            rc = renameat2(AT_FDCWD, a, AT_FDCWD, b, flags);
        else
            rc = rename(a, b);
        if (rc == 0)
            printf("%s %s %s: ok\n", op, a, b);
        else
            printf("%s %s %s: errno %d\n", op, a, b, errno);
    }
    return 0;
}
