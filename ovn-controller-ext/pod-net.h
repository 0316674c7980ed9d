/*
 * pod-net.h: a pod's network plumbing, over rtnetlink.
 *
 * A pod gets one veth pair.  The host end lives in the daemon's network
 * namespace (later added to the integration bridge by ovs-port.c); the peer
 * is created directly inside the pod's namespace, under its final name, with
 * the pod's MAC and MTU, its addresses and its default routes.
 *
 * Every call is synchronous: a handful of netlink round trips, no state kept
 * between calls except one file descriptor to the daemon's namespace.
 *
 * Namespaces.  The network namespace is a property of a thread.  The first
 * call into this module records the calling thread's namespace as "the
 * daemon's namespace" and keeps a descriptor to it; every later call must be
 * made from a thread in that same namespace.  To act inside a pod, a call
 * setns()es into the pod's namespace, opens its sockets there (a socket stays
 * bound to the namespace it was created in) and setns()es straight back, so
 * no code ever runs with the thread inside a pod and no error path can
 * strand it there.  If returning fails, the process aborts rather than keep
 * running in the wrong namespace.
 *
 * Errors.  Functions return 0 or a positive errno value.  Those that take
 * 'errp' store in '*errp' a malloc()'d message naming what failed (the
 * caller frees it) on failure, and NULL on success; 'errp' may be NULL.
 * Other outputs are written only on success.
 */
#ifndef POD_NET_H
#define POD_NET_H 1

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/types.h"

/* Size of a buffer that holds an interface name and its null terminator. */
#define POD_NET_IFNAMSIZ 16

/* Most addresses in a pod_net_spec. */
#define POD_NET_MAX_ADDRS 4

/* Largest string pod_net_addr_format() writes, with its terminator. */
#define POD_NET_ADDRSTRLEN (46 + 4)

/* An interface address with its prefix length, e.g. 10.0.0.5/24. */
struct pod_net_addr {
    int family;                 /* AF_INET or AF_INET6. */
    union {
        struct in_addr in4;
        struct in6_addr in6;
    };
    unsigned int plen;          /* Prefix length: 0...32 or 0...128. */
};

/* What a pod's interface should look like. */
struct pod_net_spec {
    const char *netns_path;     /* E.g. /run/netns/x or /proc/PID/ns/net. */
    const char *ifname;         /* Name inside the pod, e.g. "eth0". */
    const char *host_ifname;    /* Veth end in the daemon's namespace, at
                                 * most 15 bytes (pod_net_host_ifname()). */
    struct eth_addr mac;        /* Pod side MAC; all-zeros: kernel picks. */
    int mtu;                    /* Both ends; 0: kernel default. */
    struct pod_net_addr addrs[POD_NET_MAX_ADDRS];
    size_t n_addrs;
    bool has_gateway4;          /* Default route via 'gateway4'? */
    struct in_addr gateway4;
    bool has_gateway6;          /* Default route via 'gateway6'? */
    struct in6_addr gateway6;
};

/* What pod_net_add() built. */
struct pod_net_state {
    int host_ifindex;           /* Host end, in the daemon's namespace. */
    int pod_ifindex;            /* Pod end, in the pod's namespace. */
    struct eth_addr host_mac;
    struct eth_addr pod_mac;    /* Equals spec->mac unless that was zero. */
    int mtu;                    /* Actual MTU of both ends. */
};

/* Plumbs a pod as 'spec' says (see pod_net_add() in pod-net.c for the
 * details).  On failure, leaves no link behind.  ENOENT: the namespace does
 * not exist.  EEXIST: 'spec->ifname' exists in the pod or
 * 'spec->host_ifname' in the daemon's namespace (the existing link is left
 * alone).  EINVAL: 'spec' is malformed. */
int pod_net_add(const struct pod_net_spec *spec, struct pod_net_state *state,
                char **errp);

/* Removes a pod's veth pair.  Idempotent: a missing link, a missing or
 * stale namespace, or a null or empty 'netns_path' is success.  Only veth
 * links are deleted. */
int pod_net_del(const char *host_ifname, const char *netns_path,
                const char *ifname, char **errp);

/* Compares the live state with 'spec': the pod link (a veth, up, with the
 * MAC, MTU and addresses in 'spec', tx checksum offload off), its default
 * routes, and the host end (present and up).  Reports the first mismatch.
 * ENOENT: no namespace.  ENODEV: a link is missing.  EINVAL: something
 * differs. */
int pod_net_check(const struct pod_net_spec *spec, char **errp);
int pod_net_check_state(const struct pod_net_spec *spec,
                        struct pod_net_state *state, char **errp);

/* Stores in 'name' the host-side interface name for ('container_id',
 * 'ifname'): "lm" and 12 hex digits of a SHA-1, so stable and 14 bytes. */
void pod_net_host_ifname(const char *container_id, const char *ifname,
                         char name[POD_NET_IFNAMSIZ]);

/* Stores in '*mtu' the MTU of interface 'ifname' in the caller's
 * namespace.  ENODEV if there is no such interface. */
int pod_net_get_mtu(const char *ifname, int *mtu);

/* Stores in '*mtu' the MTU of the path of the main table's default route
 * (IPv4, or IPv6 if there is no IPv4 one): its device's MTU, or the route's
 * own "mtu" metric if smaller.  ENOENT if there is no default route. */
int pod_net_default_route_mtu(int *mtu);

/* Stores in '*mtu' the MTU of the interface that holds local address
 * 'addr' ('addr->plen' is ignored), e.g. the tunnel endpoint IP, to derive
 * the underlay MTU.  EADDRNOTAVAIL if no interface has it. */
int pod_net_addr_mtu(const struct pod_net_addr *addr, int *mtu);

/* Sends one RARP request (ethertype 0x8035) from 'ifname' in the namespace
 * at 'netns_path', with that interface's MAC as source and as target
 * hardware address, as QEMU announces a migrated guest: switches relearn
 * where the MAC lives. */
int pod_net_send_rarp(const char *netns_path, const char *ifname,
                      char **errp);

/* Parses 's', e.g. "10.0.0.5/24" or "fd00::5/64", into '*addr'.  The
 * prefix length is required.  EINVAL if 's' is malformed. */
int pod_net_addr_parse(const char *s, struct pod_net_addr *addr);

/* Formats 'addr' as "ADDRESS/PLEN" into 'buf' and returns 'buf'. */
char *pod_net_addr_format(const struct pod_net_addr *addr,
                          char buf[POD_NET_ADDRSTRLEN]);

#endif /* pod-net.h */
