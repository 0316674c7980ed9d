/*
 * probe-net.c: probe sockets and kernel timestamps.
 */
#include "probe-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "probe-util.h"

/* SCM_TS_OPT_ID (Linux 6.13) is newer than Debian 12's kernel headers.
 * Its value is the asm-generic one, which these architectures use. */
#if !defined(SCM_TS_OPT_ID) \
    && (defined(__x86_64__) || defined(__i386__) || defined(__aarch64__) \
        || defined(__arm__) || defined(__riscv))
#define SCM_TS_OPT_ID 81
#endif

/* ICMP_FILTER and ICMP_ECHOREPLY of <linux/icmp.h>. */
#define PROBE_ICMP_FILTER 1
#define PROBE_ICMP_ECHOREPLY 0

/* Socket buffers big enough for the replies to 50 ms of 10 kHz probes to
 * arrive in one burst (e.g. when a paused workload resumes). */
#define PROBE_SOCK_BUF (4 * 1024 * 1024)

/* Parses 's', an IPv4 address in dotted-quad form or an IPv6 address
 * (optionally with a "%zone", an interface name or index), into '*ss'
 * and '*lenp', with port 'port'.  Nothing else is taken: not host names,
 * and not the shorthand forms that inet_aton() and getaddrinfo() accept,
 * where "1.2.3" means 1.2.0.3, because a typo must not send probes to
 * somebody else's host.  Returns 0, or EINVAL leaving the outputs
 * alone. */
int
probe_net_parse_addr(const char *s, uint16_t port,
                     struct sockaddr_storage *ss, socklen_t *lenp)
{
    if (strchr(s, ':')) {
        struct sockaddr_in6 sin6;
        const char *zone = strchr(s, '%');
        char addr[INET6_ADDRSTRLEN];
        size_t len = zone ? (size_t) (zone - s) : strlen(s);

        memset(&sin6, 0, sizeof sin6);
        if (len >= sizeof addr) {
            return EINVAL;
        }
        memcpy(addr, s, len);
        addr[len] = '\0';
        if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) != 1) {
            return EINVAL;
        }
        if (zone) {
            char *end;
            unsigned long index = strtoul(zone + 1, &end, 10);

            if (!zone[1]) {
                return EINVAL;
            }
            if (*end) {
                index = if_nametoindex(zone + 1);
            }
            if (!index || index > UINT32_MAX) {
                return EINVAL;
            }
            sin6.sin6_scope_id = index;
        }
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons(port);
        memset(ss, 0, sizeof *ss);
        memcpy(ss, &sin6, sizeof sin6);
        *lenp = sizeof sin6;
    } else {
        struct sockaddr_in sin;

        memset(&sin, 0, sizeof sin);
        if (inet_pton(AF_INET, s, &sin.sin_addr) != 1) {
            return EINVAL;
        }
        sin.sin_family = AF_INET;
        sin.sin_port = htons(port);
        memset(ss, 0, sizeof *ss);
        memcpy(ss, &sin, sizeof sin);
        *lenp = sizeof sin;
    }
    return 0;
}

/* Formats the address (not the port) of 'ss' into 'buf'. */
void
probe_net_format_addr(const struct sockaddr_storage *ss, char *buf,
                      size_t size)
{
    const void *addr = (ss->ss_family == AF_INET
                        ? (const void *) &((const struct sockaddr_in *)
                                           ss)->sin_addr
                        : (const void *) &((const struct sockaddr_in6 *)
                                           ss)->sin6_addr);

    if (!inet_ntop(ss->ss_family, addr, buf, size)) {
        snprintf(buf, size, "?");
    }
}

/* Moves the calling thread into the network namespace 'netns': a path if
 * it has a '/', else a name under /run/netns as "ip netns" makes them.
 * Threads created afterwards inherit it.  Returns 0, or a positive errno
 * value and an error message in '*errorp' that the caller must free. */
int
probe_net_enter_netns(const char *netns, char **errorp)
{
    char *path = (strchr(netns, '/')
                  ? probe_xstrdup(netns)
                  : probe_xasprintf("/run/netns/%s", netns));
    int fd, error = 0;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        error = errno;
        *errorp = probe_xasprintf("--netns %s: %s", path, strerror(error));
    } else if (setns(fd, CLONE_NEWNET)) {
        error = errno;
        *errorp = probe_xasprintf("--netns %s: setns: %s", path,
                                  strerror(error));
    }
    if (fd >= 0) {
        close(fd);
    }
    free(path);
    return error;
}

static void
set_buffers(int fd)
{
    int size = PROBE_SOCK_BUF;

    /* FORCE goes past net.core.rmem_max with CAP_NET_ADMIN. */
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size)) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size)) {
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
    }
}

/* Turns on the best timestamps, no better than 'sock->rx_ts' and
 * 'sock->tx_ts', that the socket takes, and updates those to what it
 * got. */
static void
setup_timestamps(struct probe_sock *sock)
{
    unsigned int rx = SOF_TIMESTAMPING_RX_SOFTWARE;
    unsigned int tx = SOF_TIMESTAMPING_TX_SOFTWARE
                      | SOF_TIMESTAMPING_OPT_ID
                      | SOF_TIMESTAMPING_OPT_TSONLY;
    unsigned int flags;
    int on = 1;

#ifndef SCM_TS_OPT_ID
    if (sock->tx_ts == PROBE_TX_TS_CMSG_ID) {
        sock->tx_ts = PROBE_TX_TS_COUNTER_ID;
    }
#endif
    /* SOF_TIMESTAMPING_SOFTWARE reports software timestamps, in both
     * directions; the other flags say which to take. */
    for (;;) {
        flags = SOF_TIMESTAMPING_SOFTWARE;
        flags |= sock->rx_ts == PROBE_RX_TS_TIMESTAMPING ? rx : 0;
        flags |= sock->tx_ts != PROBE_TX_TS_USER ? tx : 0;
        if (flags == SOF_TIMESTAMPING_SOFTWARE
            || !setsockopt(sock->fd, SOL_SOCKET, SO_TIMESTAMPING, &flags,
                           sizeof flags)) {
            break;
        }
        if (sock->tx_ts != PROBE_TX_TS_USER) {
            sock->tx_ts = PROBE_TX_TS_USER;
        } else {
            sock->rx_ts = PROBE_RX_TS_TIMESTAMPNS;
        }
    }
    if (sock->rx_ts == PROBE_RX_TS_TIMESTAMPNS
        && setsockopt(sock->fd, SOL_SOCKET, SO_TIMESTAMPNS, &on,
                      sizeof on)) {
        sock->rx_ts = PROBE_RX_TS_USER;
    }
}

static int
open_icmp(struct probe_sock *sock, char **errorp)
{
    int family = sock->ipv6 ? AF_INET6 : AF_INET;
    int proto = sock->ipv6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    int dgram_error;

    /* A ping socket needs no privilege, if net.ipv4.ping_group_range lets
     * our group in; the kernel then picks the identifier and hands us
     * only the replies to our own requests. */
    sock->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, proto);
    if (sock->fd >= 0) {
        sock->icmp_raw = false;
        return 0;
    }
    dgram_error = errno;

    sock->fd = socket(family, SOCK_RAW | SOCK_CLOEXEC, proto);
    if (sock->fd < 0) {
        int error = errno;

        *errorp = probe_xasprintf("ICMP socket: %s (ping socket: %s; "
                                  "raw sockets need CAP_NET_RAW, ping "
                                  "sockets a group in "
                                  "net.ipv4.ping_group_range)",
                                  strerror(error), strerror(dgram_error));
        return error;
    }
    sock->icmp_raw = true;
    if (getrandom(&sock->echo_id, sizeof sock->echo_id, 0)
        != sizeof sock->echo_id) {
        sock->echo_id = (uint16_t) getpid();
    }

    /* A raw socket sees every ICMP message: let the kernel drop all but
     * echo replies before they wake us up. */
    if (sock->ipv6) {
        struct icmp6_filter filter;

        ICMP6_FILTER_SETBLOCKALL(&filter);
        ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &filter);
        setsockopt(sock->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter,
                   sizeof filter);
    } else {
        /* struct icmp_filter of <linux/icmp.h>, which clashes with
         * <netinet/ip_icmp.h>: a mask of the types to drop. */
        uint32_t filter = ~(UINT32_C(1) << PROBE_ICMP_ECHOREPLY);

        setsockopt(sock->fd, SOL_RAW, PROBE_ICMP_FILTER, &filter,
                   sizeof filter);
    }
    return 0;
}

/* Opens into '*sock' a socket that sends 'mode' probes to 'dst' (its port
 * matters for UDP only), from 'src' if 'src_len' is not 0, with the best
 * timestamps the kernel gives that are no better than 'sock->rx_ts' and
 * 'sock->tx_ts' as the caller set them (see probe-net.h); on return they
 * say what the socket got.  Returns 0, or a positive errno value and an
 * error message in '*errorp' that the caller must free. */
int
probe_net_open(struct probe_sock *sock, enum probe_mode mode,
               const struct sockaddr_storage *dst, socklen_t dst_len,
               const struct sockaddr_storage *src, socklen_t src_len,
               char **errorp)
{
    int error;

    sock->mode = mode;
    sock->ipv6 = dst->ss_family == AF_INET6;
    sock->icmp_raw = false;
    sock->echo_id = 0;
    sock->tx_id_tried = false;
    memcpy(&sock->dst, dst, dst_len);
    sock->dst_len = dst_len;
    if (mode == PROBE_MODE_ICMP) {
        /* A raw IPv6 socket takes the port for a protocol number. */
        if (sock->ipv6) {
            ((struct sockaddr_in6 *) &sock->dst)->sin6_port = 0;
        } else {
            ((struct sockaddr_in *) &sock->dst)->sin_port = 0;
        }
    }
    if (src_len && src->ss_family != dst->ss_family) {
        *errorp = probe_xstrdup("--bind and the target must be of the "
                                "same address family");
        return EINVAL;
    }

    if (mode == PROBE_MODE_UDP) {
        sock->fd = socket(dst->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (sock->fd < 0) {
            error = errno;
            *errorp = probe_xasprintf("UDP socket: %s", strerror(error));
            return error;
        }
    } else {
        error = open_icmp(sock, errorp);
        if (error) {
            return error;
        }
    }

    if (src_len) {
        struct sockaddr_storage local;

        /* Any port for UDP; the identifier for ping sockets. */
        memcpy(&local, src, src_len);
        if (local.ss_family == AF_INET) {
            ((struct sockaddr_in *) &local)->sin_port = 0;
        } else {
            ((struct sockaddr_in6 *) &local)->sin6_port = 0;
        }
        if (bind(sock->fd, (struct sockaddr *) &local, src_len)) {
            char addr[INET6_ADDRSTRLEN];

            error = errno;
            probe_net_format_addr(src, addr, sizeof addr);
            *errorp = probe_xasprintf("bind to %s: %s", addr,
                                      strerror(error));
            close(sock->fd);
            sock->fd = -1;
            return error;
        }
    }
    set_buffers(sock->fd);
    setup_timestamps(sock);
    return 0;
}

/* Sends a probe with the 'len' bytes of 'payload' on 'sock': as the UDP
 * payload, or after an ICMP echo header with sequence 'echo_seq'.  With
 * PROBE_TX_TS_CMSG_ID, 'key' becomes the key of its transmit timestamp;
 * if the kernel turns that down on the first send, 'sock->tx_ts' falls
 * back to PROBE_TX_TS_COUNTER_ID.  Returns 0 or a positive errno value. */
int
probe_net_send(struct probe_sock *sock, uint32_t key, uint16_t echo_seq,
               const uint8_t *payload, size_t len)
{
    uint8_t frame[PROBE_PACKET_ICMP_HDR_LEN + PROBE_PACKET_MAX_LEN];
    union {
        char buf[CMSG_SPACE(sizeof(uint32_t))];
        struct cmsghdr align;
    } control;
    struct msghdr msg;
    struct iovec iov;

    if (sock->mode == PROBE_MODE_ICMP) {
        iov.iov_base = frame;
        iov.iov_len = probe_packet_icmp_encode(sock->ipv6, sock->echo_id,
                                               echo_seq, payload, len, frame,
                                               sizeof frame);
        if (!iov.iov_len) {
            return EMSGSIZE;
        }
    } else {
        iov.iov_base = (void *) payload;
        iov.iov_len = len;
    }

    memset(&msg, 0, sizeof msg);
    msg.msg_name = &sock->dst;
    msg.msg_namelen = sock->dst_len;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    for (;;) {
        int error;

#ifdef SCM_TS_OPT_ID
        if (sock->tx_ts == PROBE_TX_TS_CMSG_ID) {
            struct cmsghdr *cmsg;

            memset(&control, 0, sizeof control);
            msg.msg_control = control.buf;
            msg.msg_controllen = sizeof control.buf;
            cmsg = CMSG_FIRSTHDR(&msg);
            cmsg->cmsg_level = SOL_SOCKET;
            cmsg->cmsg_type = SCM_TS_OPT_ID;
            cmsg->cmsg_len = CMSG_LEN(sizeof key);
            memcpy(CMSG_DATA(cmsg), &key, sizeof key);
        }
#else
        (void) control;
        (void) key;
#endif
        if (sendmsg(sock->fd, &msg, 0) >= 0) {
            sock->tx_id_tried = true;
            return 0;
        }
        error = errno;
        if (error == EINTR) {
            continue;
        }
        if (error == EINVAL && sock->tx_ts == PROBE_TX_TS_CMSG_ID
            && !sock->tx_id_tried) {
            /* A kernel before 6.13: no per-send keys.  The failed send
             * did not count, so the kernel's count still matches ours. */
            sock->tx_ts = PROBE_TX_TS_COUNTER_ID;
            sock->tx_id_tried = true;
            msg.msg_control = NULL;
            msg.msg_controllen = 0;
            continue;
        }
        return error;
    }
}

/* Returns the software timestamp in SCM_TIMESTAMPING control message
 * 'cmsg', or 0 if it has none. */
static int64_t
timestamping_ns(const struct cmsghdr *cmsg)
{
    struct scm_timestamping tss;

    if (cmsg->cmsg_len < CMSG_LEN(sizeof tss)) {
        return 0;
    }
    memcpy(&tss, CMSG_DATA(cmsg), sizeof tss);
    return probe_timespec_ns(&tss.ts[0]);
}

/* Receives one datagram from 'sock' into '*rx', without waiting.  Returns
 * 0 for a UDP datagram or an ICMP echo reply to us, EAGAIN if there is
 * none, EINVAL for anything else received (which is dropped), or another
 * positive errno value. */
int
probe_net_recv(struct probe_sock *sock, struct probe_rx *rx)
{
    union {
        char buf[512];
        struct cmsghdr align;
    } control;
    struct iovec iov = { rx->buf, sizeof rx->buf };
    struct msghdr msg;
    struct cmsghdr *cmsg;
    ssize_t n;

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    do {
        n = recvmsg(sock->fd, &msg, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    }

    rx->ts_ns = 0;
    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET) {
            continue;
        }
        if (cmsg->cmsg_type == SCM_TIMESTAMPING
            && sock->rx_ts == PROBE_RX_TS_TIMESTAMPING) {
            rx->ts_ns = timestamping_ns(cmsg);
        } else if (cmsg->cmsg_type == SCM_TIMESTAMPNS
                   && sock->rx_ts == PROBE_RX_TS_TIMESTAMPNS
                   && cmsg->cmsg_len >= CMSG_LEN(sizeof(struct timespec))) {
            struct timespec ts;

            memcpy(&ts, CMSG_DATA(cmsg), sizeof ts);
            rx->ts_ns = probe_timespec_ns(&ts);
        }
    }
    rx->kernel_ts = rx->ts_ns != 0;
    if (!rx->kernel_ts) {
        rx->ts_ns = probe_clock_ns(CLOCK_REALTIME);
    }
    if (msg.msg_flags & MSG_TRUNC) {
        return EINVAL;
    }

    if (sock->mode == PROBE_MODE_ICMP) {
        uint16_t id;

        if (probe_packet_icmp_decode(sock->ipv6, sock->icmp_raw && !sock->ipv6,
                                     rx->buf, n, &id, &rx->payload,
                                     &rx->payload_len)
            || (sock->icmp_raw && id != sock->echo_id)) {
            return EINVAL;
        }
    } else {
        rx->payload = rx->buf;
        rx->payload_len = n;
    }
    return 0;
}

/* Reads one transmit timestamp from the error queue of 'sock', without
 * waiting, into '*keyp' and '*ts_nsp'.  Returns 0, EAGAIN if the queue is
 * empty, EINVAL for a message that is not a transmit timestamp (which is
 * dropped), or another positive errno value. */
int
probe_net_recv_tx_ts(struct probe_sock *sock, uint32_t *keyp,
                     int64_t *ts_nsp)
{
    union {
        char buf[512];
        struct cmsghdr align;
    } control;
    char data[64];
    struct iovec iov = { data, sizeof data };
    struct msghdr msg;
    struct cmsghdr *cmsg;
    bool have_key = false;
    int64_t ts = 0;
    uint32_t key = 0;
    ssize_t n;

    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    do {
        n = recvmsg(sock->fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return errno == EWOULDBLOCK ? EAGAIN : errno;
    }

    for (cmsg = CMSG_FIRSTHDR(&msg); cmsg; cmsg = CMSG_NXTHDR(&msg, cmsg)) {
        if (cmsg->cmsg_level == SOL_SOCKET
            && cmsg->cmsg_type == SCM_TIMESTAMPING) {
            ts = timestamping_ns(cmsg);
        } else if (((cmsg->cmsg_level == SOL_IP
                     && cmsg->cmsg_type == IP_RECVERR)
                    || (cmsg->cmsg_level == SOL_IPV6
                        && cmsg->cmsg_type == IPV6_RECVERR))
                   && cmsg->cmsg_len
                      >= CMSG_LEN(sizeof(struct sock_extended_err))) {
            struct sock_extended_err ee;

            memcpy(&ee, CMSG_DATA(cmsg), sizeof ee);
            if (ee.ee_errno == ENOMSG
                && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING
                && ee.ee_info == SCM_TSTAMP_SND) {
                key = ee.ee_data;
                have_key = true;
            }
        }
    }
    if (!have_key || !ts) {
        return EINVAL;
    }
    *keyp = key;
    *ts_nsp = ts;
    return 0;
}

/* Closes 'sock' (NULL, or one never opened with fd -1, is fine). */
void
probe_net_close(struct probe_sock *sock)
{
    if (sock && sock->fd >= 0) {
        close(sock->fd);
        sock->fd = -1;
    }
}

/* Opens a UDP socket bound to 'bind_addr' for the responder, into '*fdp':
 * both IPv4 and IPv6 if that is the IPv6 wildcard address.  Returns 0, or
 * a positive errno value and an error message in '*errorp' that the
 * caller must free. */
int
probe_net_open_responder(const struct sockaddr_storage *bind_addr,
                         socklen_t bind_len, int *fdp, char **errorp)
{
    int fd, error, off = 0;

    fd = socket(bind_addr->ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        error = errno;
        *errorp = probe_xasprintf("UDP socket: %s", strerror(error));
        return error;
    }
    if (bind_addr->ss_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    set_buffers(fd);
    if (bind(fd, (const struct sockaddr *) bind_addr, bind_len)) {
        char addr[INET6_ADDRSTRLEN];

        error = errno;
        probe_net_format_addr(bind_addr, addr, sizeof addr);
        *errorp = probe_xasprintf("bind to %s port %d: %s", addr,
                                  ntohs(bind_addr->ss_family == AF_INET
                                        ? ((const struct sockaddr_in *)
                                           bind_addr)->sin_port
                                        : ((const struct sockaddr_in6 *)
                                           bind_addr)->sin6_port),
                                  strerror(error));
        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

/* Returns how receive timestamps of kind 'ts' are taken, for reports. */
const char *
probe_net_rx_ts_name(enum probe_rx_ts ts)
{
    switch (ts) {
    case PROBE_RX_TS_TIMESTAMPING:
        return "kernel software (SO_TIMESTAMPING)";
    case PROBE_RX_TS_TIMESTAMPNS:
        return "kernel software (SO_TIMESTAMPNS)";
    case PROBE_RX_TS_USER:
    default:
        return "user space (clock_gettime after recvmsg)";
    }
}

/* Returns how send timestamps of kind 'ts' are taken, for reports. */
const char *
probe_net_tx_ts_name(enum probe_tx_ts ts)
{
    switch (ts) {
    case PROBE_TX_TS_CMSG_ID:
        return "kernel software (SO_TIMESTAMPING, keyed by SCM_TS_OPT_ID)";
    case PROBE_TX_TS_COUNTER_ID:
        return "kernel software (SO_TIMESTAMPING, keyed by send count)";
    case PROBE_TX_TS_USER:
    default:
        return "user space (clock_gettime before sendmsg)";
    }
}
