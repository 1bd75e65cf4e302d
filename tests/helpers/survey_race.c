/* survey_race: the two sides of a start-up race on the floor's survey (red team s6,
 * finding 15).
 *   flip A B       exchanges the names A and B (renameat2 RENAME_EXCHANGE) until killed:
 *                  the racer outside the sandbox.
 *   read P         reads P through libc's open (the shim's hook in a dynamic build; a
 *                  plain system call in a static one).
 *   mread MARK P   reads P through a raw openat carrying MARK (NATIVE_OPEN_MARK), which
 *                  the seccomp filter leaves to Landlock.
 * Each read prints "P: " and the file's first line, or "P: errno N". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void show(const char *path, long fd) {
    if (fd < 0) { printf("%s: errno %d\n", path, errno); return; }
    char buf[256];
    long n = read((int)fd, buf, sizeof buf - 1);
    close((int)fd);
    if (n < 0) { printf("%s: errno %d\n", path, errno); return; }
    buf[n] = 0;
    char *nl = strchr(buf, '\n');
    if (nl) *nl = 0;
    printf("%s: %s\n", path, buf);
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "flip")) {
        for (;;) syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* EXCHANGE */);
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "read") && i + 1 < argc) {
            const char *p = argv[++i];
            show(p, open(p, O_RDONLY | O_CLOEXEC));
        } else if (!strcmp(argv[i], "mread") && i + 2 < argc) {
            unsigned long mark = strtoul(argv[++i], 0, 0);
            const char *p = argv[++i];
            show(p, syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC | mark, 0));
        } else {
            printf("usage\n");
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
