/*
 * cni-addr.c: address parsing.
 *
 * inet_pton() accepts the same literals as Go's net.ParseIP (no leading
 * zeros in IPv4 octets, no IPv6 zones), so the CNI binary and a Go plugin
 * agree on what is an address.
 */
#include "cni-addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>


/* Returns true if 's' is an IPv4 or IPv6 address literal.  If so and
 * 'is_ipv4' is nonnull, stores whether it is IPv4 in '*is_ipv4'; an
 * IPv4-mapped IPv6 address counts as IPv4, as Go's IP.To4() has it. */
bool
cni_addr_parse_ip(const char *s, bool *is_ipv4)
{
    struct in6_addr in6;
    struct in_addr in4;
    bool v4;

    if (inet_pton(AF_INET, s, &in4) == 1) {
        v4 = true;
    } else if (inet_pton(AF_INET6, s, &in6) == 1) {
        v4 = IN6_IS_ADDR_V4MAPPED(&in6);
    } else {
        return false;
    }
    if (is_ipv4) {
        *is_ipv4 = v4;
    }
    return true;
}

/* Returns true if 's' is a dotted-quad IPv4 address. */
bool
cni_addr_parse_ipv4(const char *s)
{
    struct in_addr in4;

    return inet_pton(AF_INET, s, &in4) == 1;
}

/* Returns true if 's' is "ADDRESS/LENGTH" with an IP address and a prefix
 * length in range for its family (decimal, no sign, no leading zero).  The
 * family is stored in '*is_ipv4' as for cni_addr_parse_ip(). */
bool
cni_addr_parse_cidr(const char *s, bool *is_ipv4)
{
    const char *slash = strchr(s, '/');
    char addr[INET6_ADDRSTRLEN];
    size_t addr_len;
    const char *p;
    int plen = 0;
    int max;
    bool v4;

    if (!slash) {
        return false;
    }
    addr_len = slash - s;
    if (addr_len >= sizeof addr) {
        return false;
    }
    memcpy(addr, s, addr_len);
    addr[addr_len] = '\0';
    if (!cni_addr_parse_ip(addr, &v4)) {
        return false;
    }
    max = strchr(addr, ':') ? 128 : 32;

    p = slash + 1;
    if (!*p || (p[0] == '0' && p[1])) {
        return false;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        plen = plen * 10 + (*p - '0');
        if (plen > max) {
            return false;
        }
    }
    if (is_ipv4) {
        *is_ipv4 = v4;
    }
    return true;
}

static int
hex_value(char c)
{
    return (c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
            : -1);
}

/* Returns true if 's' is a 48-bit MAC address written as six hex pairs
 * separated by ':' or '-', or as three groups of four hex digits separated
 * by '.' (the forms of Go's net.ParseMAC that fit an Ethernet port).  The
 * address is stored in 'canonical' as lower-case "xx:xx:xx:xx:xx:xx". */
bool
cni_addr_parse_mac(const char *s, char canonical[CNI_ADDR_MAC_LEN])
{
    unsigned char mac[6];
    size_t len = strlen(s);
    int group, sep_every;
    char sep;

    if (len == 17 && (s[2] == ':' || s[2] == '-')) {
        sep = s[2];
        group = 2;
    } else if (len == 14 && s[4] == '.') {
        sep = '.';
        group = 4;
    } else {
        return false;
    }

    /* Digits come in runs of 'group', each run followed by 'sep'. */
    sep_every = group + 1;
    for (size_t i = 0, nibble = 0; i < len; i++) {
        int v;

        if ((i + 1) % sep_every == 0) {
            if (s[i] != sep) {
                return false;
            }
            continue;
        }
        v = hex_value(s[i]);
        if (v < 0) {
            return false;
        }
        if (nibble % 2 == 0) {
            mac[nibble / 2] = v << 4;
        } else {
            mac[nibble / 2] |= v;
        }
        nibble++;
    }
    snprintf(canonical, CNI_ADDR_MAC_LEN, "%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return true;
}
