/* A SIGALRM handler opens a file while the interrupted thread is inside a brokered call.
 * The handler's call must work (or fail cleanly); nothing may deadlock. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

static volatile sig_atomic_t handled, handler_failures;

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    int fd = open("/etc/hostname", O_RDONLY);
    if (fd < 0) handler_failures++; else close(fd);
    handled++;
    errno = saved;
}

int main(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 200}, {0, 200}};
    setitimer(ITIMER_REAL, &it, NULL);
    int failures = 0;
    for (int i = 0; i < 20000 && handled < 300; i++) {
        struct stat st;
        if (stat("/etc/hostname", &st) != 0) failures++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handled %d handler_failures %d failures %d\n", (int)handled, (int)handler_failures, failures);
    return (failures || handler_failures || handled == 0) ? 1 : 0;
}
