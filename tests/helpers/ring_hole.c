/* A program run under the shim at --audit-level all that leaves a hole in the report ring
 * (a slot claimed and never published) while real calls are reported after it, from the
 * red team's findings 11 and 12 (docs/audit.md, "Reported calls"). Dynamic: its stat()
 * calls go through the shim's fast path and are reported through the ring; it finds the
 * ring as any process of the sandbox can, in /proc/self/maps, and claims slots with the
 * ring's own protocol.
 *
 *   ring_hole stall N PATH_A PATH_B
 *       N stat(PATH_A), then claims one slot and never publishes it, then N stat(PATH_B),
 *       and exits at once (the last drain must take the reports after the hole).
 *   ring_hole stallfork N PATH
 *       claims one slot and never publishes it, then a fork child makes N stat(PATH) and
 *       exits; the parent waits for it and exits (another process's reports).
 *   ring_hole hold N PATH STEPS
 *       claims one slot and never publishes it; a hostile child then flips the shared head
 *       to head + 2^63 for 12 ms every 300 ms, STEPS times, and zeroes the ring's full
 *       counter; an honest child makes N stat(PATH) spread over the same time (the drain
 *       must skip the hole on its own clock, whatever the head says).
 * Prints "hole at P" once the hole is claimed, "done" at the end; "no ring" (exit 3) when
 * the process has no ring mapped.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The layout of arbiter_protocol::ring. */
#define SLOTS 16384u
#define SLOT_SIZE 128u
#define HEADER 256u
#define OFF_HEAD 64
#define OFF_FULL 136

static unsigned char *ring;

static uint64_t *head(void) { return (uint64_t *)(ring + OFF_HEAD); }
static uint64_t *seq_word(uint64_t pos) {
    return (uint64_t *)(ring + HEADER + (pos % SLOTS) * SLOT_SIZE);
}
static uint64_t load_seq(uint64_t pos) {
    return __atomic_load_n(seq_word(pos), __ATOMIC_ACQUIRE) + pos % SLOTS;
}

/* Claims the next slot as a producer does; -1 when the ring is full. */
static int64_t claim(void) {
    for (int i = 0; i < 100000; i++) {
        uint64_t pos = __atomic_load_n(head(), __ATOMIC_RELAXED);
        uint64_t s = load_seq(pos);
        if (s == pos) {
            if (__atomic_compare_exchange_n(head(), &pos, pos + 1, 0, __ATOMIC_RELAXED,
                                            __ATOMIC_RELAXED))
                return (int64_t)pos;
        } else if ((int64_t)(s - pos) < 0) {
            return -1;
        }
    }
    return -1;
}

static void ms(int n) {
    struct timespec t = {n / 1000, (n % 1000) * 1000000L};
    nanosleep(&t, 0);
}

static void stats(int n, const char *path, int pause_every, int pause_ms) {
    struct stat st;
    for (int i = 0; i < n; i++) {
        stat(path, &st);
        if (pause_every > 0 && i % pause_every == 0) ms(pause_ms);
    }
}

static int64_t hole(void) {
    int64_t p = claim();
    printf("hole at %lld\n", (long long)p);
    fflush(stdout);
    return p;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: ring_hole stall|stallfork|hold N PATH [PATH_B|STEPS]\n");
        return 2;
    }
    struct stat st;
    stat("/", &st); /* the fast paths (and the ring) are set up on the first call */
    FILE *m = fopen("/proc/self/maps", "r");
    char line[512];
    while (m && fgets(line, sizeof line, m))
        if (strstr(line, "arbiter-audit-reports")) {
            ring = (unsigned char *)strtoull(line, 0, 16);
            break;
        }
    if (m) fclose(m);
    if (!ring) {
        printf("no ring\n");
        return 3;
    }
    int n = atoi(argv[2]);
    if (!strcmp(argv[1], "stall") && argc >= 5) {
        stats(n, argv[3], 0, 0);
        if (hole() < 0) return 4;
        stats(n, argv[4], 0, 0);
    } else if (!strcmp(argv[1], "stallfork")) {
        if (hole() < 0) return 4;
        pid_t c = fork();
        if (c == 0) {
            stats(n, argv[3], 0, 0);
            _exit(0);
        }
        int ws;
        waitpid(c, &ws, 0);
    } else if (!strcmp(argv[1], "hold") && argc >= 5) {
        int steps = atoi(argv[4]);
        if (hole() < 0) return 4;
        pid_t h = fork();
        if (h == 0) {
            for (int t = 0; t < steps; t++) {
                uint64_t cur = __atomic_load_n(head(), __ATOMIC_RELAXED);
                uint64_t far = cur + (1ull << 63);
                if (__atomic_compare_exchange_n(head(), &cur, far, 0, __ATOMIC_SEQ_CST,
                                                __ATOMIC_SEQ_CST)) {
                    ms(12);
                    __atomic_compare_exchange_n(head(), &far, cur, 0, __ATOMIC_SEQ_CST,
                                                __ATOMIC_SEQ_CST);
                }
                ms(300);
            }
            __atomic_store_n((uint64_t *)(ring + OFF_FULL), 0, __ATOMIC_RELAXED);
            _exit(0);
        }
        pid_t c = fork();
        if (c == 0) {
            /* N calls spread over about STEPS * 300 ms, in 100 pauses */
            int every = n / 100 > 0 ? n / 100 : 1;
            stats(n, argv[3], every, steps * 300 / 100);
            _exit(0);
        }
        int ws;
        waitpid(c, &ws, 0);
        waitpid(h, &ws, 0);
    } else {
        fprintf(stderr, "unknown mode %s\n", argv[1]);
        return 2;
    }
    printf("done\n");
    return 0;
}
