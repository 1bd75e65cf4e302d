/* Under `arbiter run --ask`: tries to answer arbiter's question itself with a terminal's
   reply (red team s6 finding 13). A thread opens argv[1], which the policy leaves to the
   person; with argv[3] = "query", once the file argv[2] exists (the test creates it when the
   question is on screen) the main thread writes the XTVERSION and DA1 queries to /dev/tty:
   tmux answers "ESC P >|tmux 3.3a ESC \" and "ESC [ ? 1 ; 2 c" into the terminal's input,
   where arbiter reads the person's key. Prints what the open gave. Other modes:
   "flood": once argv[2] exists, the queries every 10 ms, 300 times, then the process exits
   with its question still up; "late": after the open, the queries, then waits (FIONREAD in
   non-canonical mode) until the replies are in the terminal's input, and exits;
   "pending": prints PENDING=N, the bytes waiting in the terminal's input. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
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

static const char queries[] = "\033[>q\033[c";

/* The bytes waiting in the terminal's input (counted in non-canonical mode: canonical mode
   counts whole lines only). */
static int pending(int tty) {
  struct termios was, raw;
  int n = -1;
  if (tcgetattr(tty, &was) != 0) return -1;
  raw = was;
  raw.c_lflag &= ~(ICANON | ECHO);
  if (tcsetattr(tty, TCSANOW, &raw) != 0) return -1;
  if (ioctl(tty, FIONREAD, &n) != 0) n = -1;
  tcsetattr(tty, TCSANOW, &was);
  return n;
}

static void wait_for(const char *go) {
  struct stat st;
  while (stat(go, &st) != 0) usleep(10000);
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
  if (strcmp(argv[3], "pending") == 0) {
    printf("PENDING=%d\n", pending(tty));
    return 0;
  }
  pthread_t t;
  if (pthread_create(&t, 0, opener, 0) != 0) return 2;
  if (strcmp(argv[3], "query") == 0) {
    wait_for(argv[2]);
    if (write(tty, queries, strlen(queries)) < 0) perror("write /dev/tty");
  } else if (strcmp(argv[3], "flood") == 0) {
    wait_for(argv[2]);
    for (int i = 0; i < 300; i++) {
      if (write(tty, queries, strlen(queries)) < 0) perror("write /dev/tty");
      usleep(10000);
    }
    fprintf(stderr, "\r\nFLOODED\r\n");
    exit(0);
  }
  pthread_join(t, 0);
  if (strcmp(argv[3], "late") == 0) {
    struct termios was, raw;
    int n = 0;
    tcgetattr(tty, &was);
    raw = was;
    raw.c_lflag &= ~(ICANON | ECHO);
    tcsetattr(tty, TCSANOW, &raw);
    if (write(tty, queries, strlen(queries)) < 0) perror("write /dev/tty");
    while (ioctl(tty, FIONREAD, &n) == 0 && n == 0) usleep(10000);
    tcsetattr(tty, TCSANOW, &was);
    fprintf(stderr, "\r\nREPLIED\r\n");
  }
  return 0;
}
