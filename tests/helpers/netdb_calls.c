/* The services and protocols lookups, every form: prints one line per lookup with the
 * return value, errno and the entry (name, number, protocol, aliases), so a native run
 * and a run under arbiter can be compared line by line. errno is set to 42 before each
 * call, so a line shows whether the call set it. Built dynamically (through the shim) and
 * statically (glibc's own lookup, whose reads of the database only the seccomp transport
 * sees). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>

static void aliases(char **a) {
    printf(" aliases=");
    for (; a && *a; a++)
        printf("%s,", *a);
}

static void serv(const char *what, int rc, struct servent *s) {
    printf("%s rc=%d errno=%d", what, rc, errno);
    if (s) {
        printf(" name=%s port=%d proto=%s", s->s_name, ntohs(s->s_port), s->s_proto);
        aliases(s->s_aliases);
    } else {
        printf(" null");
    }
    printf("\n");
}

static void proto(const char *what, int rc, struct protoent *p) {
    printf("%s rc=%d errno=%d", what, rc, errno);
    if (p) {
        printf(" name=%s number=%d", p->p_name, p->p_proto);
        aliases(p->p_aliases);
    } else {
        printf(" null");
    }
    printf("\n");
}

int main(void) {
    char buf[1024];
    struct servent se, *sr;
    struct protoent pe, *pr;
    int rc;

#define SERV_R(what, call)                                                                 \
    do {                                                                                   \
        errno = 42;                                                                        \
        rc = call;                                                                         \
        serv(what, rc, sr);                                                                \
    } while (0)
#define PROTO_R(what, call)                                                                \
    do {                                                                                   \
        errno = 42;                                                                        \
        rc = call;                                                                         \
        proto(what, rc, pr);                                                               \
    } while (0)

    SERV_R("servbyname_r http/tcp", getservbyname_r("http", "tcp", &se, buf, sizeof buf, &sr));
    SERV_R("servbyname_r www/any", getservbyname_r("www", NULL, &se, buf, sizeof buf, &sr));
    SERV_R("servbyname_r domain/udp", getservbyname_r("domain", "udp", &se, buf, sizeof buf, &sr));
    SERV_R("servbyname_r http/udp", getservbyname_r("http", "udp", &se, buf, sizeof buf, &sr));
    SERV_R("servbyname_r missing", getservbyname_r("no-such-service", NULL, &se, buf, sizeof buf, &sr));
    SERV_R("servbyname_r small", getservbyname_r("http", "tcp", &se, buf, 8, &sr));
    SERV_R("servbyport_r 22/tcp", getservbyport_r(htons(22), "tcp", &se, buf, sizeof buf, &sr));
    SERV_R("servbyport_r 53/any", getservbyport_r(htons(53), NULL, &se, buf, sizeof buf, &sr));
    SERV_R("servbyport_r missing", getservbyport_r(htons(1), "udp", &se, buf, sizeof buf, &sr));
    SERV_R("servbyport_r not-a-port", getservbyport_r(0x10050, NULL, &se, buf, sizeof buf, &sr));
    SERV_R("servbyport_r small", getservbyport_r(htons(80), "tcp", &se, buf, 12, &sr));
    PROTO_R("protobyname_r tcp", getprotobyname_r("tcp", &pe, buf, sizeof buf, &pr));
    PROTO_R("protobyname_r UDP", getprotobyname_r("UDP", &pe, buf, sizeof buf, &pr));
    PROTO_R("protobyname_r missing", getprotobyname_r("no-such-protocol", &pe, buf, sizeof buf, &pr));
    PROTO_R("protobyname_r small", getprotobyname_r("tcp", &pe, buf, 4, &pr));
    PROTO_R("protobynumber_r 17", getprotobynumber_r(17, &pe, buf, sizeof buf, &pr));
    PROTO_R("protobynumber_r missing", getprotobynumber_r(250, &pe, buf, sizeof buf, &pr));
    PROTO_R("protobynumber_r -1", getprotobynumber_r(-1, &pe, buf, sizeof buf, &pr));

    errno = 42;
    serv("servbyname http/tcp", 0, getservbyname("http", "tcp"));
    errno = 42;
    serv("servbyname missing", 0, getservbyname("no-such-service", "tcp"));
    errno = 42;
    serv("servbyport 53/udp", 0, getservbyport(htons(53), "udp"));
    errno = 42;
    proto("protobyname icmp", 0, getprotobyname("icmp"));
    errno = 42;
    proto("protobynumber 6", 0, getprotobynumber(6));
    errno = 42;
    proto("protobynumber missing", 0, getprotobynumber(250));
    return 0;
}
