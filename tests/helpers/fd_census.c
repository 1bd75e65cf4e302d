/* The descriptors a program holds at its start, one line each: "fd N K" where K is the
 * kind fstat gives (s socket, f file, c character device, p pipe, d directory, b block
 * device, l symlink, a an anonymous inode: eventfd, epoll, a seccomp listener…), with
 * " listener" added when the descriptor answers SECCOMP_IOCTL_NOTIF_ID_VALID as only a
 * seccomp listener does (0 or ENOENT; any other descriptor refuses the request).
 *
 * With the argument "selftest" the program first installs an allow-all seccomp filter with
 * a listener of its own (the native control: the census must find it).
 * With -DRAW every call is a raw system call (built static: only the seccomp transport
 * sees it). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef RAW
#define FCNTL(fd, cmd) syscall(SYS_fcntl, (fd), (cmd))
#define FSTAT(fd, st) syscall(SYS_fstat, (fd), (st))
#define IOCTL(fd, req, arg) syscall(SYS_ioctl, (fd), (req), (arg))
#else
#define FCNTL(fd, cmd) fcntl((fd), (cmd))
#define FSTAT(fd, st) fstat((fd), (st))
#define IOCTL(fd, req, arg) ioctl((fd), (req), (arg))
#endif

static char kind(mode_t m) {
    switch (m & S_IFMT) {
    case S_IFSOCK: return 's';
    case S_IFREG: return 'f';
    case S_IFCHR: return 'c';
    case S_IFIFO: return 'p';
    case S_IFDIR: return 'd';
    case S_IFBLK: return 'b';
    case S_IFLNK: return 'l';
    default: return 'a';
    }
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "selftest") == 0) {
        struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
        struct sock_fprog prog = {.len = 1, .filter = &allow};
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
            syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog) < 0) {
            printf("selftest errno=%d\n", errno);
            return 3;
        }
    }
    char out[64 * 1024];
    size_t len = 0;
    for (int fd = 0; fd < 1024; fd++) {
        if (FCNTL(fd, F_GETFD) < 0) continue;
        struct stat st;
        char k = FSTAT(fd, &st) == 0 ? kind(st.st_mode) : '?';
        unsigned long long id = 0;
        long rc = IOCTL(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
        int listener = rc == 0 || errno == ENOENT;
        len += snprintf(out + len, sizeof out - len, "fd %d %c%s\n", fd, k, listener ? " listener" : "");
    }
#ifdef RAW
    syscall(SYS_write, 1, out, len);
#else
    fwrite(out, 1, len, stdout);
#endif
    return 0;
}
