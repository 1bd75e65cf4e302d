/* fast_table_forge MODE PROG ARG...: tampers with the fast-path table a sandboxed process
 * inherits at fd 1022 (arbiter_protocol::fast_table), by raw system calls only, then
 * execs PROG (a dynamic program whose shim reads the table) with the same environment.
 *   keep     leaves fd 1022 as inherited
 *   close    closes it
 *   unsealed puts an unsealed memfd holding a forged table there (the shim must ignore it)
 *   forge    puts a memfd sealed exactly as the broker's, holding a forged table that
 *            offers every path for native opens, stats and removals ("o/", "s/", "r/")
 * Before exec it also makes one raw openat of PROBE (env FORGE_PROBE, if set) carrying the
 * native-open mark, and prints "probe ok" or "probe errno N". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define TABLE_FD 1022
#define MARK (1 << 30)
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#endif
#define SEALS 0xf /* F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE */

extern char **environ;

static int forged(int sealed) {
    static const char table[] = "arbFT\0\0\1o/\0s/\0r/\0";
    long fd = syscall(SYS_memfd_create, "forged", 2 /* MFD_ALLOW_SEALING */);
    if (fd < 0) return -1;
    if (syscall(SYS_write, fd, table, sizeof table - 1) != (long)(sizeof table - 1)) return -1;
    if (sealed && syscall(SYS_fcntl, fd, F_ADD_SEALS, SEALS) != 0) return -1;
    if (syscall(SYS_dup2, fd, TABLE_FD) != TABLE_FD) return -1;
    syscall(SYS_close, fd);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { printf("usage\n"); return 2; }
    const char *mode = argv[1];
    int rc = 0;
    if (strcmp(mode, "close") == 0) {
        syscall(SYS_close, TABLE_FD);
    } else if (strcmp(mode, "unsealed") == 0) {
        rc = forged(0);
    } else if (strcmp(mode, "forge") == 0) {
        rc = forged(1);
    } else if (strcmp(mode, "keep") != 0) {
        printf("bad mode\n");
        return 2;
    }
    if (rc != 0) { printf("cannot forge: errno %d\n", errno); return 3; }
    const char *probe = getenv("FORGE_PROBE");
    if (probe && *probe) {
        long fd = syscall(SYS_openat, AT_FDCWD, probe, O_RDONLY | O_CLOEXEC | MARK);
        if (fd >= 0) { printf("probe ok\n"); syscall(SYS_close, fd); }
        else printf("probe errno %d\n", errno);
        fflush(stdout);
    }
    syscall(SYS_execve, argv[2], argv + 2, environ);
    printf("exec errno %d\n", errno);
    return 127;
}
