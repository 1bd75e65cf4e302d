/* Attempts on the kernel floor, made with raw system calls (no libc wrapper the shim could
 * hook), or through libc where the mode ends in "-libc".
 * Usage: floor_attack MODE [ARG...]  Prints "ok" and exits 0 on success, "errno N" and
 * exits 1 on failure, "usage" and exits 2 on bad arguments. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <termios.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x10
#endif

/* The innermost id on the `key` line of a /proc status text (`NStgid:`, `NSpid:`): the
 * process's id in its own pid namespace, what getpid() says — the host's /proc shows a
 * process in a pid namespace (arbiter's sandbox, as root) by its host pid in `Pid:`/`Tgid:`
 * and by both in `NStgid:`. -1 when the line is missing. */
static long innermost_id(const char *buf, const char *key) {
    const char *line = strstr(buf, key);
    if (!line) return -1;
    line += strlen(key);
    long last = -1;
    while (*line && *line != '\n') {
        while (*line == ' ' || *line == '\t') line++;
        if (*line < '0' || *line > '9') break;
        last = atol(line);
        while (*line >= '0' && *line <= '9') line++;
    }
    return last;
}

static int done(long rc) {
    if (rc < 0) { printf("errno %d\n", errno); return 1; }
    printf("ok\n");
    return 0;
}

static int usage(void) { printf("usage\n"); return 2; }

/* open(path, O_RDONLY) with a raw syscall; exits with the errno line when it fails. */
static int open_ro(const char *path) {
    long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { printf("open failed: errno %d\n", errno); exit(3); }
    return (int)fd;
}

int main(int argc, char **argv) {
    if (argc < 2) return usage();
    const char *m = argv[1];
    const char *p = argc > 2 ? argv[2] : NULL;
    struct stat st;

    /* ---- metadata changes through an fd or an AT_EMPTY_PATH form */
    if (!strcmp(m, "fchmod") && p) {
        int fd = open_ro(p);
        if (fstat(fd, &st) < 0) return done(-1);
        return done(syscall(SYS_fchmod, fd, st.st_mode & 07777));
    }
    if (!strcmp(m, "fchmod-libc") && p) {
        int fd = open_ro(p);
        if (fstat(fd, &st) < 0) return done(-1);
        return done(fchmod(fd, st.st_mode & 07777));
    }
    if (!strcmp(m, "fchown") && p) {
        int fd = open_ro(p);
        return done(syscall(SYS_fchown, fd, getuid(), getgid()));
    }
    if (!strcmp(m, "futimens") && p) {
        int fd = open_ro(p);
        struct timespec t[2] = {{1, 0}, {1, 0}};
        return done(syscall(SYS_utimensat, fd, NULL, t, 0));
    }
    if (!strcmp(m, "futimens-libc") && p) {
        int fd = open_ro(p);
        struct timespec t[2] = {{1, 0}, {1, 0}};
        return done(futimens(fd, t));
    }
    if (!strcmp(m, "fchmodat2-empty") && p) {
        /* A non-empty path with AT_EMPTY_PATH names the path. */
        if (stat(p, &st) < 0) return done(-1);
        return done(syscall(SYS_fchmodat2, AT_FDCWD, p, st.st_mode & 07777, AT_EMPTY_PATH));
    }
    if (!strcmp(m, "fchownat-empty") && p) {
        return done(syscall(SYS_fchownat, AT_FDCWD, p, getuid(), getgid(), AT_EMPTY_PATH));
    }
    if (!strcmp(m, "fsetxattr") && p) {
        int fd = open_ro(p);
        return done(syscall(SYS_fsetxattr, fd, "user.arbiter", "1", 1, 0));
    }
    if (!strcmp(m, "listxattr") && p) {
        char buf[256];
        return done(syscall(SYS_listxattr, p, buf, sizeof buf));
    }
    /* ---- the fd forms that stay allowed, decided against the policy */
    if (!strcmp(m, "fchmod-own") && p) {
        /* A file the policy grants writing: fchmod is brokered and allowed. */
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(syscall(SYS_fchmod, fd, 0640));
    }
    if (!strcmp(m, "fchmodat2-fd") && p) {
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(syscall(SYS_fchmodat2, fd, "", 0600, AT_EMPTY_PATH));
    }

    /* ---- the terminal: fd 0 must be a terminal */
    if (!strcmp(m, "tiocsti")) {
        /* Make the terminal ours first, so that only the floor can refuse the injection. */
        if (setsid() < 0) { printf("setsid failed: errno %d\n", errno); return 3; }
        if (ioctl(0, TIOCSCTTY, 0) < 0) { printf("TIOCSCTTY failed: errno %d\n", errno); return 3; }
        char c = ' ';
        return done(syscall(SYS_ioctl, 0, TIOCSTI, &c));
    }
    if (!strcmp(m, "tcgets")) {
        struct termios t;
        return done(syscall(SYS_ioctl, 0, TCGETS, &t));
    }

    /* ---- sockets */
    if (!strcmp(m, "socket-raw")) return done(syscall(SYS_socket, AF_INET, SOCK_RAW, 1 /* ICMP */));
    if (!strcmp(m, "socket-raw-libc")) return done(socket(AF_INET, SOCK_RAW, 1));
    if (!strcmp(m, "socket-packet")) return done(syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0));
    if (!strcmp(m, "socket-netlink-audit")) return done(syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 9));
    if (!strcmp(m, "socket-netlink-route")) return done(syscall(SYS_socket, AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0));
    if (!strcmp(m, "socket-udp")) return done(syscall(SYS_socket, AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK, 0));

    /* ---- namespaces and new processes */
    if (!strcmp(m, "unshare-uts")) return done(syscall(SYS_unshare, CLONE_NEWUTS | CLONE_NEWUSER));
    if (!strcmp(m, "unshare-files")) return done(syscall(SYS_unshare, CLONE_FILES));
    if (!strcmp(m, "clone3")) {
        struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } a;
        memset(&a, 0, sizeof a);
        a.exit_signal = SIGCHLD;
        long pid = syscall(SYS_clone3, &a, sizeof a);
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid((pid_t)pid, NULL, 0);
        return done(pid);
    }
    if (!strcmp(m, "fork-libc")) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        int status = 0;
        if (pid > 0 && (waitpid(pid, &status, 0) < 0 || status != 0)) return done(-1);
        return done(pid);
    }

    /* ---- other processes (p: a pid outside the sandbox) */
    if (!strcmp(m, "prlimit") && p) {
        struct rlimit r;
        /* The write is the attempt; the values written are the victim's own where it can be
         * read, else this process's (as root the sandbox has a pid namespace of its own, in
         * which the victim has no pid: the read fails with ESRCH). */
        if (syscall(SYS_prlimit64, atol(p), RLIMIT_NOFILE, NULL, &r) < 0 &&
            syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &r) < 0)
            return done(-1);
        return done(syscall(SYS_prlimit64, atol(p), RLIMIT_NOFILE, &r, NULL));
    }
    if (!strcmp(m, "prlimit-self")) {
        struct rlimit r;
        if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &r) < 0) return done(-1);
        return done(syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &r, NULL));
    }
    if (!strcmp(m, "setpriority") && p) {
        errno = 0;
        int prio = getpriority(PRIO_PROCESS, (id_t)atol(p));
        if (prio == -1 && errno) return done(-1);
        return done(syscall(SYS_setpriority, PRIO_PROCESS, atol(p), 19));
    }
    if (!strcmp(m, "sched_setaffinity") && p) {
        cpu_set_t set;
        /* The victim's mask where it can be read, else this process's (as for prlimit). */
        if (sched_getaffinity((pid_t)atol(p), sizeof set, &set) < 0 &&
            sched_getaffinity(0, sizeof set, &set) < 0)
            return done(-1);
        return done(syscall(SYS_sched_setaffinity, atol(p), sizeof set, &set));
    }
    if (!strcmp(m, "kcmp")) return done(syscall(SYS_kcmp, getpid(), getpid(), 1 /* KCMP_FILES */, 0, 0));

    /* ---- the host */
    if (!strcmp(m, "sethostname")) {
        char name[256] = {0};
        if (gethostname(name, sizeof name - 1) < 0) return done(-1);
        return done(syscall(SYS_sethostname, name, strlen(name)));
    }
    if (!strcmp(m, "keyctl")) return done(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3 /* session */, 0));
    if (!strcmp(m, "mq_open")) {
        long fd = syscall(SYS_mq_open, "arbiter-floor-test", O_CREAT | O_RDWR, 0600, NULL);
        if (fd >= 0) syscall(SYS_mq_unlink, "arbiter-floor-test");
        return done(fd);
    }
    if (!strcmp(m, "inotify") && p) {
        long fd = syscall(SYS_inotify_init1, IN_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(syscall(SYS_inotify_add_watch, fd, p, 1 /* IN_ACCESS */));
    }
    if (!strcmp(m, "io_uring")) {
        char params[120];
        memset(params, 0, sizeof params);
        return done(syscall(SYS_io_uring_setup, 1, params));
    }

    /* ---- exec */
    if (!strcmp(m, "memfd-exec")) return done(syscall(SYS_memfd_create, "x", MFD_EXEC));
    if (!strcmp(m, "memfd")) return done(syscall(SYS_memfd_create, "x", 0));
    if (!strcmp(m, "memfd-exec-proc") && p) {
        /* A copy of P (an echo) in a plain memfd, run through /proc/self/fd: it prints "ok". */
        int src = open_ro(p);
        long fd = syscall(SYS_memfd_create, "x", 0);
        if (fd < 0) return done(-1);
        char buf[65536];
        long n;
        while ((n = syscall(SYS_read, src, buf, sizeof buf)) > 0)
            if (syscall(SYS_write, fd, buf, n) != n) return done(-1);
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%ld", fd);
        char *args[] = {"echo", "ok", NULL};
        extern char **environ;
        return done(syscall(SYS_execve, path, args, environ));
    }
    if (!strcmp(m, "execve-path") && p) {
        /* Runs P (an echo) by path with a raw execve; it prints "ok" itself. */
        char *args[] = {"echo", "ok", NULL};
        extern char **environ;
        return done(syscall(SYS_execve, p, args, environ));
    }
    if (!strcmp(m, "execv-libc") && p) {
        /* Runs P (an echo) by path through libc; it prints "ok" itself. */
        char *args[] = {"echo", "ok", NULL};
        execv(p, args);
        return done(-1);
    }
    if ((!strcmp(m, "reopen-write") || !strcmp(m, "reopen-write-libc")) && p) {
        /* Opens P (a FIFO) read-only, then re-opens its /proc/self/fd/N for writing. */
        int libc_form = !strcmp(m, "reopen-write-libc");
        long r = libc_form ? open(p, O_RDONLY | O_NONBLOCK)
                           : syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_NONBLOCK);
        if (r < 0) { printf("open failed: errno %d\n", errno); return 3; }
        char name[64];
        snprintf(name, sizeof name, "/proc/self/fd/%ld", r);
        long w = libc_form ? open(name, O_WRONLY | O_NONBLOCK)
                           : syscall(SYS_openat, AT_FDCWD, name, O_WRONLY | O_NONBLOCK);
        return done(w);
    }
    if ((!strcmp(m, "open-path") || !strcmp(m, "open-path-libc")) && p) {
        /* Opens P read-only (raw or through libc) and reads from it. */
        long fd = !strcmp(m, "open-path-libc") ? open(p, O_RDONLY)
                                               : syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
        if (fd < 0) return done(-1);
        char b[16];
        return done(read((int)fd, b, sizeof b));
    }
    if ((!strcmp(m, "open-rw-path") || !strcmp(m, "open-rw-path-libc")) && p) {
        /* Opens P read-write (raw or through libc): /proc/PID/mem of another process. */
        return done(!strcmp(m, "open-rw-path-libc") ? open(p, O_RDWR)
                                                    : syscall(SYS_openat, AT_FDCWD, p, O_RDWR));
    }
    if ((!strcmp(m, "stat-path") || !strcmp(m, "stat-path-libc")) && p) {
        /* stat of P, following symlinks (raw or through libc). */
        return done(!strcmp(m, "stat-path-libc") ? stat(p, &st)
                                                 : syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0));
    }
    if (!strcmp(m, "execveat-fd") && p) {
        /* Runs P (an echo) from an fd; it prints "ok" itself. */
        int fd = open_ro(p);
        char *args[] = {"echo", "ok", NULL};
        extern char **environ;
        return done(syscall(SYS_execveat, fd, "", args, environ, AT_EMPTY_PATH));
    }

    /* ---- another ABI: i386's int 0x80 from a 64-bit process (x86_64 only) */
    if (!strcmp(m, "int80")) {
#if defined(__x86_64__)
        long r;
        __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L /* i386 getpid */) : "memory");
        if (r < 0) { errno = (int)-r; return done(-1); }
        return done(0);
#else
        return usage();
#endif
    }

    /* ---- capabilities (as root) */
    if (!strcmp(m, "caps")) {
        /* Prints the effective, permitted and inheritable sets, then the bounding set. */
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        if (syscall(SYS_capget, &h, d) < 0) return done(-1);
        unsigned long long bound = 0;
        for (int cap = 0; cap < 64; cap++)
            if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1) bound |= 1ULL << cap;
        printf("eff %x%08x prm %x%08x inh %x%08x bnd %llx amb %d\n", d[1].effective, d[0].effective,
               d[1].permitted, d[0].permitted, d[1].inheritable, d[0].inheritable, bound,
               (int)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0));
        return done(0);
    }
    if (!strcmp(m, "chown-other") && p) {
        /* chown of a file the program holds open for writing, to another uid: CAP_CHOWN. */
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        return done(syscall(SYS_fchown, fd, 12345, 12345));
    }
    if (!strcmp(m, "read") && p) {
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        char buf[16];
        return done(syscall(SYS_read, fd, buf, sizeof buf));
    }
    if (!strcmp(m, "setuid-other")) return done(syscall(SYS_setuid, 12345));
    /* ---- priority: which/who forms beyond the caller (issue 15, finding 02). The helper
     * first makes itself a process group of its own, so the native control only reaches
     * itself. */
    if (!strcmp(m, "setpriority-pgrp")) {
        if (setpgid(0, 0) < 0) { printf("setpgid failed: errno %d\n", errno); return 3; }
        errno = 0;
        int prio = getpriority(PRIO_PROCESS, 0);
        if (prio == -1 && errno) return done(-1);
        return done(syscall(SYS_setpriority, PRIO_PGRP, 0, prio < 19 ? prio + 1 : 19));
    }
    if (!strcmp(m, "getpriority-user")) {
        errno = 0;
        long r = syscall(SYS_getpriority, PRIO_USER, 0);
        return done(r == -1 && errno ? -1 : 0);
    }
    if (!strcmp(m, "ioprio-pgrp")) {
        if (setpgid(0, 0) < 0) { printf("setpgid failed: errno %d\n", errno); return 3; }
        return done(syscall(SYS_ioprio_set, 2 /* IOPRIO_WHO_PGRP */, 0, (2 << 13) | 4 /* BE 4 */));
    }
    if (!strcmp(m, "ioprio-get-user")) return done(syscall(SYS_ioprio_get, 3 /* IOPRIO_WHO_USER */, 0));
    if (!strcmp(m, "priority-self")) {
        /* The caller's own forms: raw, and glibc's nice(). */
        errno = 0;
        long prio = syscall(SYS_getpriority, PRIO_PROCESS, 0);
        if (prio == -1 && errno) return done(-1);
        if (syscall(SYS_setpriority, PRIO_PROCESS, 0, 20 - prio < 19 ? 20 - prio + 1 : 19) < 0) return done(-1);
        if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, (2 << 13) | 4) < 0) return done(-1);
        if (syscall(SYS_ioprio_get, 1, 0) < 0) return done(-1);
        errno = 0;
        if (nice(1) == -1 && errno) return done(-1);
        return done(0);
    }

    /* ---- the death signal (finding 03) */
    if (!strcmp(m, "pdeathsig-clear")) return done(syscall(SYS_prctl, PR_SET_PDEATHSIG, 0, 0, 0, 0));
    if (!strcmp(m, "pdeathsig-clear-libc")) return done(prctl(PR_SET_PDEATHSIG, 0));
    if (!strcmp(m, "pdeathsig-other")) return done(syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGCHLD, 0, 0, 0));
    if (!strcmp(m, "pdeathsig-kill")) {
        int sig = -1;
        if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) return done(-1);
        if (syscall(SYS_prctl, PR_GET_PDEATHSIG, &sig, 0, 0, 0) < 0) return done(-1);
        if (sig != SIGKILL) { printf("pdeathsig is %d\n", sig); return 3; }
        if (syscall(SYS_prctl, PR_SET_NAME, "floor", 0, 0, 0) < 0) return done(-1);
        return done(0);
    }

    /* ---- leases and dnotify (finding 06; p: a file the helper's uid owns, a directory) */
    if (!strcmp(m, "lease") && p) {
        int fd = open_ro(p);
        return done(syscall(SYS_fcntl, fd, F_SETLEASE, F_RDLCK));
    }
    if (!strcmp(m, "lease-libc") && p) {
        int fd = open_ro(p);
        return done(fcntl(fd, F_SETLEASE, F_RDLCK));
    }
    if (!strcmp(m, "dnotify") && p) {
        long fd = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) { printf("open failed: errno %d\n", errno); return 3; }
        return done(syscall(SYS_fcntl, fd, F_NOTIFY, DN_MODIFY));
    }
    if (!strcmp(m, "fcntl-kept") && p) {
        int fd = open_ro(p);
        long fl = syscall(SYS_fcntl, fd, F_GETFL);
        if (fl < 0) return done(-1);
        if (syscall(SYS_fcntl, fd, F_SETFD, FD_CLOEXEC) < 0) return done(-1);
        if (syscall(SYS_fcntl, fd, F_GETLEASE) < 0) return done(-1);
        return done(syscall(SYS_fcntl, fd, F_DUPFD_CLOEXEC, 10));
    }

    /* ---- System V IPC (finding 08; p: the id of a segment made outside the sandbox) */
    if (!strcmp(m, "shm-attach") && p) {
        void *a = (void *)syscall(SYS_shmat, atoi(p), NULL, SHM_RDONLY);
        if (a == (void *)-1) return done(-1);
        printf("read: %.16s\n", (char *)a);
        return done(0);
    }
    if (!strcmp(m, "shm-stat")) {
        struct shm_info info;
        return done(syscall(SYS_shmctl, 0, SHM_INFO, &info));
    }
    if (!strcmp(m, "shm-private")) {
        long id = syscall(SYS_shmget, IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0) return done(-1);
        return done(syscall(SYS_shmctl, id, IPC_RMID, NULL));
    }
    if (!strcmp(m, "sem-private")) {
        long id = syscall(SYS_semget, IPC_PRIVATE, 1, IPC_CREAT | 0600);
        if (id < 0) return done(-1);
        return done(syscall(SYS_semctl, id, 0, IPC_RMID, 0));
    }
    if (!strcmp(m, "msg-private")) {
        long id = syscall(SYS_msgget, IPC_PRIVATE, IPC_CREAT | 0600);
        if (id < 0) return done(-1);
        return done(syscall(SYS_msgctl, id, IPC_RMID, NULL));
    }
    if (!strcmp(m, "shm-libc")) {
        int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
        if (id < 0) return done(-1);
        return done(shmctl(id, IPC_RMID, NULL));
    }

    /* ---- set-id modes (finding 07; p: a path in a directory the policy grants writing).
     * Prints the mode the object ends with, then the verdict of the call. */
    if (!strncmp(m, "setid-", 6) && p) {
        umask(0);
        long rc;
        if (!strcmp(m, "setid-chmod")) {
            rc = syscall(SYS_chmod, p, 04755);
        } else if (!strcmp(m, "setid-chmod-libc")) {
            rc = chmod(p, 06755);
        } else if (!strcmp(m, "setid-fchmod")) {
            long fd = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CLOEXEC);
            if (fd < 0) return done(-1);
            rc = syscall(SYS_fchmod, fd, 06755);
        } else if (!strcmp(m, "setid-fchmodat2")) {
            rc = syscall(SYS_fchmodat2, AT_FDCWD, p, 04755, 0);
        } else if (!strcmp(m, "setid-creat")) {
            rc = syscall(SYS_openat, AT_FDCWD, p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 06755);
        } else if (!strcmp(m, "setid-creat-libc")) {
            rc = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 06755);
        } else if (!strcmp(m, "setid-mknod")) {
            rc = syscall(SYS_mknodat, AT_FDCWD, p, S_IFREG | 06755, 0);
        } else if (!strcmp(m, "setid-mkdir")) {
            /* mkdir takes no set-id bits; a chmod of the directory afterwards. */
            rc = syscall(SYS_mkdir, p, 0777);
            if (rc == 0) rc = syscall(SYS_chmod, p, 06775);
        } else {
            return usage();
        }
        if (rc < 0) return done(-1);
        if (stat(p, &st) < 0) return done(-1);
        printf("mode %o\n", (unsigned)(st.st_mode & 07777));
        return done(0);
    }
    /* ---- /proc as the caller's (finding 04). Each prints "ok" only when what it opened is
     * the caller's own; "other process" when it is someone else's (the broker's). */
    if (!strcmp(m, "proc-self-rel") || !strcmp(m, "proc-self-abs")) {
        int rel = !strcmp(m, "proc-self-rel");
        if (rel && syscall(SYS_chdir, "/") < 0) { printf("chdir failed: errno %d\n", errno); return 3; }
        long fd = syscall(SYS_openat, AT_FDCWD, rel ? "proc/self/status" : "/proc/self/status",
                          O_RDONLY | O_CLOEXEC);
        if (fd < 0) return done(-1);
        char buf[4096];
        long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
        if (n < 0) return done(-1);
        buf[n] = 0;
        if (innermost_id(buf, "\nNStgid:") != (long)getpid()) { printf("other process\n"); return 4; }
        return done(0);
    }
    if (!strcmp(m, "dev-fd-rel") && p) {
        /* Opens P, then "fd/N" from /dev: natively the same file again. */
        int fd = open_ro(p);
        struct stat a, b;
        if (fstat(fd, &a) < 0) return done(-1);
        if (syscall(SYS_chdir, "/dev") < 0) { printf("chdir failed: errno %d\n", errno); return 3; }
        char rel[32];
        snprintf(rel, sizeof rel, "fd/%d", fd);
        long again = syscall(SYS_openat, AT_FDCWD, rel, O_RDONLY | O_CLOEXEC);
        if (again < 0) return done(-1);
        if (fstat((int)again, &b) < 0) return done(-1);
        if (a.st_dev != b.st_dev || a.st_ino != b.st_ino) { printf("other process\n"); return 4; }
        return done(0);
    }
    return usage();
}
