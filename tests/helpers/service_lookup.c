/* Looks up the `ssh` service the two ways a program reaches the broker's services lookup:
 * getservbyname() and getaddrinfo() with a service name. Prints `servbyname => PORT` and
 * `getaddrinfo => PORT` (or `none`). */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    struct servent *s = getservbyname("ssh", "tcp");
    if (s)
        printf("servbyname => %d\n", ntohs(s->s_port));
    else
        printf("servbyname => none\n");
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    if (getaddrinfo(NULL, "ssh", &hints, &res) == 0 && res) {
        printf("getaddrinfo => %d\n", ntohs(((struct sockaddr_in *)res->ai_addr)->sin_port));
        freeaddrinfo(res);
    } else {
        printf("getaddrinfo => none\n");
    }
    return 0;
}
