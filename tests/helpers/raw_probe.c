/* raw_probe MODE PATH...: one call on each PATH, in order, each answer on a line of stdout.
 *   open, access         raw openat(O_RDONLY) / access(F_OK) system calls (no libc wrapper
 *                        the shim could hook; built -static there is no shim at all);
 *   libc-open, libc-access   libc's open() / access() (the shim's, when preloaded).
 * Prints the file's first line (or "ok" for access, "empty" for an empty file) on success,
 * "errno N" on failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int probe(const char *mode, const char *path) {
    long r;
    if (!strcmp(mode, "open")) r = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    else if (!strcmp(mode, "access")) r = syscall(SYS_access, path, F_OK);
    else if (!strcmp(mode, "libc-open")) r = open(path, O_RDONLY | O_CLOEXEC);
    else if (!strcmp(mode, "libc-access")) r = access(path, F_OK);
    else { printf("usage\n"); return 2; }
    if (r < 0) { printf("errno %d\n", errno); return 1; }
    if (strstr(mode, "access")) { printf("ok\n"); return 0; }
    char buf[256];
    long n = syscall(SYS_read, (int)r, buf, sizeof buf - 1);
    if (n <= 0) { printf(n == 0 ? "empty\n" : "errno %d\n", errno); syscall(SYS_close, (int)r); return n < 0; }
    buf[n] = 0;
    buf[strcspn(buf, "\n")] = 0;
    for (long i = 0; buf[i]; i++)
        if (buf[i] < 32 || buf[i] > 126) buf[i] = '.';
    printf("%s\n", buf);
    syscall(SYS_close, (int)r);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { printf("usage\n"); return 2; }
    int failed = 0;
    for (int i = 2; i < argc; i++) {
        int rc = probe(argv[1], argv[i]);
        if (rc == 2) return 2;
        failed |= rc;
    }
    fflush(stdout);
    return failed;
}
