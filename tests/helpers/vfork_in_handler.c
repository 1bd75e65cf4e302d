/* vfork children make brokered calls from a signal handler that interrupted one
 * (red team s8, finding 09).
 *
 * The main code opens a file over and over; a 2 ms SIGALRM handler vforks a child that
 * opens a file and execs /bin/true, 300 times. A vfork child shares its parent's memory,
 * so it used to register a channel in the interrupted thread's thread-locals, an fd of its
 * own table the parent then used (EIO, or the program's own fd at that number written to
 * and replaced). Prints "vforks N, bad B, open errors E"; exits 1 when anything failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile int vforks, bad, errors;
static ino_t ino;

static void on_alarm(int sig) {
    (void)sig;
    int saved = errno;
    if (vforks < 300) {
        pid_t pid = vfork();
        if (pid == 0) {
            int fd = open("in-child", O_WRONLY | O_CREAT, 0644);
            if (fd < 0) _exit(3);
            execl("/bin/true", "true", (char *)0);
            _exit(4);
        }
        if (pid > 0) {
            int status;
            waitpid(pid, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status)) bad++;
            vforks++;
        }
    }
    errno = saved;
}

int main(void) {
    struct stat st;
    int fd = open("in-parent", O_WRONLY | O_CREAT, 0644);
    if (fd < 0 || fstat(fd, &st)) return 2;
    ino = st.st_ino;
    close(fd);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 2000}, {0, 2000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (vforks < 300) {
        int f = open("in-parent", O_WRONLY | O_CREAT, 0644);
        if (f < 0) {
            errors++;
            continue;
        }
        if (fstat(f, &st) || st.st_ino != ino) bad++;
        close(f);
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("vforks %d, bad %d, open errors %d\n", vforks, bad, errors);
    return bad || errors;
}
