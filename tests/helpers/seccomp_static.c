/* Built with -static: no shim; every path call reaches the broker by seccomp notification.
 * Prints one line per step: "NAME ok" or "NAME errno=N". */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void report(const char *name, int ok) {
    if (ok) printf("%s ok\n", name);
    else printf("%s errno=%d\n", name, errno);
}

static int read_file(const char *path) {
    char buf[256];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    return n >= 0;
}

int main(void) {
    report("read_hostname", read_file("/etc/hostname"));
    report("read_shadow", read_file("/etc/shadow"));
    DIR *d = opendir(".");
    int entries = 0;
    if (d) {
        while (readdir(d)) entries++;
        closedir(d);
    }
    report("opendir", d != NULL && entries >= 2);
    FILE *f = fopen("written.txt", "w");
    int wrote = f && fputs("hello\n", f) >= 0;
    if (f) wrote = (fclose(f) == 0) && wrote;
    report("write", wrote);
    struct stat st;
    report("stat", stat("written.txt", &st) == 0 && st.st_size == 6 && S_ISREG(st.st_mode));
    report("mkdir", mkdir("sub", 0755) == 0);
    report("rename", rename("written.txt", "sub/moved.txt") == 0);
    report("unlink", unlink("sub/moved.txt") == 0);
    report("rmdir", rmdir("sub") == 0);
    char link[64];
    report("symlink", symlink("/etc/hostname", "ln") == 0);
    ssize_t n = readlink("ln", link, sizeof link - 1);
    if (n >= 0) link[n] = 0;
    report("readlink", n == 13 && strcmp(link, "/etc/hostname") == 0);
    report("unlink_link", unlink("ln") == 0);
    return 0;
}
