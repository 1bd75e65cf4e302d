/* A thread with a small stack makes a brokered call.
 *
 * glibc carves a thread's static TLS out of the stack the program asks for, so every byte
 * of the shim's thread-locals is taken from such a thread: with two 16 KiB message buffers
 * there, pthread_create refused stacks below ~40 KiB (EINVAL: node's worker threads) and
 * the call overflowed what was left. argv[1] is the stack size; prints
 * "opened 1 with a stack of N" when the thread opened the file, exits 1 otherwise. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *run(void *path) {
    int fd = open((const char *)path, O_RDONLY);
    if (fd >= 0) close(fd);
    return (void *)(long)(fd >= 0);
}

int main(int argc, char **argv) {
    size_t size = argc > 1 ? strtoul(argv[1], 0, 0) : 0;
    const char *path = argc > 2 ? argv[2] : "/etc/hostname";
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    int rc = pthread_attr_setstacksize(&attr, size);
    if (rc) {
        printf("setstacksize %zu: %s\n", size, strerror(rc));
        return 2;
    }
    pthread_t t;
    rc = pthread_create(&t, &attr, run, (void *)path);
    if (rc) {
        printf("pthread_create with a stack of %zu: %s\n", size, strerror(rc));
        return 1;
    }
    void *opened;
    pthread_join(t, &opened);
    printf("opened %ld with a stack of %zu\n", (long)opened, size);
    return opened ? 0 : 1;
}
