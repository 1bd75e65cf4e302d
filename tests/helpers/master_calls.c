/* Calls for the master API tests: `master_calls MODE open PATH...` opens each PATH in its
 * own thread, all at once, and prints one line per open as it completes:
 * "open PATH: ok CONTENT" or "open PATH: errno N". MODE is `libc` (open(3), through the
 * shim) or `raw` (syscall(SYS_openat), which only the seccomp transport or the kernel
 * floor sees). Built static for `raw` so no shim is involved at all.
 * `master_calls libc gai NAME` resolves NAME (any family, SOCK_STREAM) and prints
 * "gai NAME: ok ADDR…" or "gai NAME: error EAI". */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
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

#ifndef NO_GAI /* the static build leaves it out: static getaddrinfo needs NSS modules */
static int gai(const char *name) {
    struct addrinfo hints = {0}, *res, *ai;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        printf("gai %s: error %d\n", name, rc);
        return 0;
    }
    printf("gai %s: ok", name);
    for (ai = res; ai; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN];
        const void *a = ai->ai_family == AF_INET
                            ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                            : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        printf(" %s", inet_ntop(ai->ai_family, a, text, sizeof text) ? text : "?");
    }
    printf("\n");
    freeaddrinfo(res);
    return 0;
}
#endif

int main(int argc, char **argv) {
#ifndef NO_GAI
    if (argc == 4 && strcmp(argv[2], "gai") == 0)
        return gai(argv[3]);
#endif
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
