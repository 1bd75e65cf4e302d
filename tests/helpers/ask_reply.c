/* Under `arbiter run --ask`: tries to answer arbiter's question itself with a terminal's
   reply (red team s6 finding 13). A thread opens argv[1], which the policy leaves to the
   person; with argv[3] = "query", once the file argv[2] exists (the test creates it when the
   question is on screen) the main thread writes the XTVERSION and DA1 queries to /dev/tty:
   tmux answers "ESC P >|tmux 3.3a ESC \" and "ESC [ ? 1 ; 2 c" into the terminal's input,
   where arbiter reads the person's key. Prints what the open gave. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *target;

static void *opener(void *x) {
  (void)x;
  char b[256] = {0};
  int fd = open(target, O_RDONLY);
  if (fd >= 0 && read(fd, b, sizeof b - 1) < 0) b[0] = 0;
  b[strcspn(b, "\n")] = 0;
  if (fd >= 0)
    fprintf(stderr, "\r\nOPENED content: %s\r\n", b);
  else
    fprintf(stderr, "\r\nREFUSED: %s\r\n", strerror(errno));
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: ask_reply FILE GO query|none\n");
    return 2;
  }
  target = argv[1];
  int tty = open("/dev/tty", O_RDWR);
  if (tty < 0) {
    perror("/dev/tty");
    return 2;
  }
  pthread_t t;
  if (pthread_create(&t, 0, opener, 0) != 0) return 2;
  if (strcmp(argv[3], "query") == 0) {
    struct stat st;
    while (stat(argv[2], &st) != 0) usleep(10000);
    if (write(tty, "\033[>q\033[c", 7) != 7) perror("write /dev/tty");
  }
  pthread_join(t, 0);
  return 0;
}
