/* Renames as told and prints one line per operation: `OP FROM TO: ok` or
 * `OP FROM TO: errno N`. `libc` calls rename/renameat2 (through the shim when dynamic);
 * `raw` makes the renameat2 system call itself (the seccomp transport); `ln` links FROM
 * as TO (link, or the linkat system call); `rm` unlinks FROM (TO is ignored).
 * The renames: `mv` (no flags), `xchg` (RENAME_EXCHANGE), `nr` (RENAME_NOREPLACE), `wo`
 * (RENAME_WHITEOUT), `nrx` (RENAME_NOREPLACE | RENAME_EXCHANGE), `f8` (1 << 3, no flag).
 * Usage: rename_calls libc|raw (OP FROM TO)... */
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
#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

static unsigned rename_flags(const char *op)
{
    if (strcmp(op, "xchg") == 0)
        return RENAME_EXCHANGE;
    if (strcmp(op, "nr") == 0)
        return RENAME_NOREPLACE;
    if (strcmp(op, "wo") == 0)
        return RENAME_WHITEOUT;
    if (strcmp(op, "nrx") == 0)
        return RENAME_NOREPLACE | RENAME_EXCHANGE;
    if (strcmp(op, "f8") == 0)
        return 1 << 3;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "libc") && strcmp(argv[1], "raw"))) {
        fprintf(stderr, "usage: rename_calls libc|raw (OP FROM TO)...\n");
        return 2;
    }
    int raw = strcmp(argv[1], "raw") == 0;
    for (int i = 2; i + 2 < argc; i += 3) {
        const char *op = argv[i], *a = argv[i + 1], *b = argv[i + 2];
        unsigned flags = rename_flags(op);
        long rc;
        if (strcmp(op, "ln") == 0)
            rc = raw ? syscall(SYS_linkat, (long)AT_FDCWD, a, (long)AT_FDCWD, b, 0L) : link(a, b);
        else if (strcmp(op, "rm") == 0)
            rc = raw ? syscall(SYS_unlinkat, (long)AT_FDCWD, a, 0L) : unlink(a);
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
