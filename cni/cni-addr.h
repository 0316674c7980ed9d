/*
 * cni-addr.h: parsing of the addresses that appear in CNI input and
 * results (IP addresses, CIDR prefixes, Ethernet MAC addresses).
 */
#ifndef CNI_ADDR_H
#define CNI_ADDR_H 1

#include <stdbool.h>
#include <stdint.h>

#define CNI_ADDR_MAC_LEN 18         /* "xx:xx:xx:xx:xx:xx" plus NUL. */

bool cni_addr_parse_ip(const char *, bool *is_ipv4);
bool cni_addr_parse_ipv4(const char *);
bool cni_addr_parse_cidr(const char *, bool *is_ipv4);
bool cni_addr_parse_mac(const char *, char canonical[CNI_ADDR_MAC_LEN]);

#endif /* cni-addr.h */
