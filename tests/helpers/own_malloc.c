/* A program with its own allocator, as rustc links jemalloc: malloc and friends are
 * defined here, so they interpose libc's for every library in the process (the shim
 * included). The allocator initialises lazily on each thread's first allocation, and
 * that initialisation calls open(), stat() and access() -- as jemalloc reads
 * /etc/malloc.conf and sysfs files.
 *
 * If anything calls malloc while a thread's initialisation is running (the shim's first
 * call on that thread allocating through the program's malloc), a real allocator would
 * deadlock on its own lock; this one says so and exits 99 instead of hanging.
 *
 * Prints "main: open ok stat ok access ok" and the same for a second thread, then "done". */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARENA (256u << 20)
static char arena[ARENA] __attribute__((aligned(64)));
static size_t used;

static __thread int in_init;
static __thread int ready;
static __thread char report[128];

static void say(const char *s) {
    syscall(SYS_write, 2, s, strlen(s));
}

static void thread_init(void) {
    int fd = open("/etc/hostname", O_RDONLY | O_CLOEXEC);
    int open_ok = fd >= 0;
    if (fd >= 0)
        close(fd);
    struct stat st;
    int stat_ok = stat("/etc/hostname", &st) == 0;
    int access_ok = access("/etc/hostname", R_OK) == 0;
    snprintf(report, sizeof report, "open %s stat %s access %s", open_ok ? "ok" : "failed",
             stat_ok ? "ok" : "failed", access_ok ? "ok" : "failed");
}

static void *bump(size_t n, size_t align) {
    if (in_init) {
        say("own_malloc: malloc re-entered during its own initialisation\n");
        syscall(SYS_exit_group, 99);
    }
    if (!ready) {
        in_init = 1;
        thread_init();
        in_init = 0;
        ready = 1;
    }
    if (align < 16)
        align = 16;
    size_t need = (n + 16 + align + 15) & ~(size_t)15;
    size_t at = __atomic_fetch_add(&used, need, __ATOMIC_RELAXED);
    if (at + need > ARENA) {
        errno = ENOMEM;
        return NULL;
    }
    uintptr_t base = (uintptr_t)(arena + at + 16);
    uintptr_t p = (base + align - 1) & ~(uintptr_t)(align - 1);
    ((size_t *)p)[-1] = n;
    return (void *)p;
}

void *malloc(size_t n) { return bump(n, 16); }
void free(void *p) { (void)p; }
void *calloc(size_t a, size_t b) {
    size_t n;
    if (__builtin_mul_overflow(a, b, &n)) {
        errno = ENOMEM;
        return NULL;
    }
    return bump(n, 16); /* the arena is zero and never reused */
}
void *realloc(void *old, size_t n) {
    void *p = bump(n, 16);
    if (p && old) {
        size_t was = ((size_t *)old)[-1];
        memcpy(p, old, was < n ? was : n);
    }
    return p;
}
void *memalign(size_t align, size_t n) { return bump(n, align); }
void *aligned_alloc(size_t align, size_t n) { return bump(n, align); }
int posix_memalign(void **out, size_t align, size_t n) {
    void *p = bump(n, align);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
void *valloc(size_t n) { return bump(n, 4096); }
void *pvalloc(size_t n) { return bump((n + 4095) & ~(size_t)4095, 4096); }
size_t malloc_usable_size(void *p) { return p ? ((size_t *)p)[-1] : 0; }

/* Kept so the compiler cannot drop a malloc/free pair. */
static void *volatile sink;

static void *worker(void *arg) {
    (void)arg;
    sink = malloc(32); /* this thread's first allocation: its initialisation */
    printf("thread: %s\n", report);
    return NULL;
}

int main(void) {
    sink = malloc(32);
    printf("main: %s\n", report);
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) {
        perror("pthread_create");
        return 1;
    }
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}
