/* One thread flips a path buffer between an allowed and a denied file while the main
 * thread opens it in a loop with raw syscalls. Prints "opened=N denied=M leaks=K", where a
 * leak is any read that returned the denied file's contents (it starts with "SECRET"). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static char buf[4096];
static const char *allowed, *denied;
static volatile int stop;

static void *flipper(void *arg) {
    (void)arg;
    size_t la = strlen(allowed) + 1, ld = strlen(denied) + 1;
    while (!stop) {
        memcpy(buf, allowed, la);
        memcpy(buf, denied, ld);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) return 2;
    allowed = argv[1];
    denied = argv[2];
    int rounds = atoi(argv[3]);
    strcpy(buf, allowed);
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    int opened = 0, refused = 0, leaks = 0;
    for (int i = 0; i < rounds; i++) {
        long fd = syscall(SYS_openat, AT_FDCWD, buf, O_RDONLY);
        if (fd < 0) {
            refused++;
            continue;
        }
        opened++;
        char data[64] = {0};
        read((int)fd, data, sizeof data - 1);
        if (strncmp(data, "SECRET", 6) == 0) leaks++;
        close((int)fd);
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("opened=%d denied=%d leaks=%d\n", opened, refused, leaks);
    return 0;
}
