/*
 * test-probe-net.c: the address parser of ovn-lm-probe (probe-net), which
 * must take exactly one spelling of each address: a typo must not aim the
 * probes at somebody else's host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include "probe-net.h"
#include "test.h"

struct addr_case {
    const char *s;
    int family;                 /* 0: must be refused. */
    const char *canonical;      /* As probe_net_format_addr() prints it. */
};

static const struct addr_case cases[] = {
    { "192.0.2.1", AF_INET, "192.0.2.1" },
    { "127.0.0.1", AF_INET, "127.0.0.1" },
    { "0.0.0.0", AF_INET, "0.0.0.0" },
    { "::1", AF_INET6, "::1" },
    { "2001:db8::2", AF_INET6, "2001:db8::2" },
    { "2001:DB8:0:0:0:0:0:2", AF_INET6, "2001:db8::2" },
    { "::ffff:192.0.2.1", AF_INET6, "::ffff:192.0.2.1" },
    { "fe80::1%1", AF_INET6, "fe80::1" },

    /* inet_aton()'s shorthands, which getaddrinfo() also takes. */
    { "1.2.3", 0, NULL },
    { "127.1", 0, NULL },
    { "10", 0, NULL },
    { "0x7f000001", 0, NULL },
    { "0x7f.0.0.1", 0, NULL },
    { "017.0.0.1", 0, NULL },
    { "01.2.3.4", 0, NULL },
    /* Plain mistakes. */
    { "1.2.3.4.5", 0, NULL },
    { "256.1.1.1", 0, NULL },
    { "1.2.3.4 ", 0, NULL },
    { " 1.2.3.4", 0, NULL },
    { "", 0, NULL },
    { "localhost", 0, NULL },
    { "[::1]", 0, NULL },
    { "1:2", 0, NULL },
    { "fe80::1%", 0, NULL },
    { "fe80::1%0", 0, NULL },
    { "fe80::1%no-such-if0", 0, NULL },
    { "2001:db8::1:2:3:4:5:6:7", 0, NULL },
};

static void
test_parse(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct addr_case *c = &cases[i];
        struct sockaddr_storage ss;
        socklen_t len = 12345;
        char buf[INET6_ADDRSTRLEN];
        int retval;

        test_case(c->s);
        memset(&ss, 0xa5, sizeof ss);
        retval = probe_net_parse_addr(c->s, 7471, &ss, &len);
        if (!c->family) {
            TEST_EQ_INT(retval, EINVAL);
            TEST_EQ_INT(len, 12345);                /* Left alone. */
            TEST_EQ_INT(((unsigned char *) &ss)[0], 0xa5);
            continue;
        }
        if (!TEST_EQ_INT(retval, 0)) {
            continue;
        }
        TEST_EQ_INT(ss.ss_family, c->family);
        probe_net_format_addr(&ss, buf, sizeof buf);
        TEST_EQ_STR(buf, c->canonical);
        if (c->family == AF_INET) {
            TEST_EQ_INT(len, sizeof(struct sockaddr_in));
            TEST_EQ_INT(ntohs(((struct sockaddr_in *) &ss)->sin_port),
                        7471);
        } else {
            TEST_EQ_INT(len, sizeof(struct sockaddr_in6));
            TEST_EQ_INT(ntohs(((struct sockaddr_in6 *) &ss)->sin6_port),
                        7471);
        }
    }
    test_case(NULL);
}

static void
test_zone(void)
{
    unsigned int lo = if_nametoindex("lo");
    struct sockaddr_storage ss;
    socklen_t len;

    test_case("zone by number and by name");
    TEST_EQ_INT(probe_net_parse_addr("fe80::1%7", 0, &ss, &len), 0);
    TEST_EQ_INT(((struct sockaddr_in6 *) &ss)->sin6_scope_id, 7);
    if (lo) {
        TEST_EQ_INT(probe_net_parse_addr("fe80::1%lo", 0, &ss, &len), 0);
        TEST_EQ_INT(((struct sockaddr_in6 *) &ss)->sin6_scope_id, lo);
    }
    TEST_EQ_INT(probe_net_parse_addr("2001:db8::1", 0, &ss, &len), 0);
    TEST_EQ_INT(((struct sockaddr_in6 *) &ss)->sin6_scope_id, 0);
    test_case(NULL);
}

int
main(void)
{
    test_parse();
    test_zone();
    return test_summary();
}
