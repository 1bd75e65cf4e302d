/* Calls for the master API tests: `master_calls MODE open PATH...` opens each PATH in its
 * own thread, all at once, and prints one line per open as it completes:
 * "open PATH: ok CONTENT" or "open PATH: errno N". MODE is `libc` (open(3), through the
 * shim) or `raw` (syscall(SYS_openat), which only the seccomp transport or the kernel
 * floor sees). Built static for `raw` so no shim is involved at all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int raw;

static void *open_one(void *arg) {
    const char *path = arg;
    char line[512], buf[128];
    int fd = raw ? (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC, 0)
                 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(line, sizeof line, "open %s: errno %d\n", path, errno);
    } else {
        ssize_t n = raw ? syscall(SYS_read, fd, buf, sizeof buf - 1) : read(fd, buf, sizeof buf - 1);
        if (n < 0)
            n = 0;
        buf[n] = 0;
        if (n > 0 && buf[n - 1] == '\n')
            buf[n - 1] = 0;
        snprintf(line, sizeof line, "open %s: ok %s\n", path, buf);
        close(fd);
    }
    /* One write per line: lines of different threads never interleave. */
    ssize_t w = write(1, line, strlen(line));
    (void)w;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4 || strcmp(argv[2], "open") != 0) {
        fprintf(stderr, "usage: master_calls libc|raw open PATH...\n");
        return 2;
    }
    raw = strcmp(argv[1], "raw") == 0;
    pthread_t t[16];
    int n = argc - 3 > 16 ? 16 : argc - 3;
    for (int i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, open_one, argv[3 + i]) != 0)
            return 3;
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
