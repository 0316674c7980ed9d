/*
 * probe-net.h: probe sockets and kernel timestamps.
 *
 * A prober socket sends probes to one address, UDP or ICMP echo, and
 * receives the replies with the time the kernel saw each arrive.  It asks
 * for the best timestamps the kernel gives and falls back step by step,
 * recording what it got in 'rx_ts' and 'tx_ts' so that the report can say
 * so:
 *
 *   receive:  SO_TIMESTAMPING software timestamps, else SO_TIMESTAMPNS,
 *             else the clock read just after recvmsg().
 *   send:     SO_TIMESTAMPING software transmit timestamps, read back from
 *             the socket's error queue, each with the probe's sequence
 *             number as its key (SCM_TS_OPT_ID, Linux 6.13 and later) or
 *             else with the kernel's count of sends as its key (right
 *             only as long as no send fails); else the clock read just
 *             before sendmsg().
 *
 * All timestamps are CLOCK_REALTIME nanoseconds, the kernel's clock for
 * them.  For ICMP, an unprivileged ping socket (SOCK_DGRAM) is tried
 * first, then a raw socket (needs CAP_NET_RAW).
 */
#ifndef PROBE_NET_H
#define PROBE_NET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe-packet.h"

enum probe_mode {
    PROBE_MODE_UDP,
    PROBE_MODE_ICMP,
};

enum probe_rx_ts {
    PROBE_RX_TS_TIMESTAMPING,   /* SO_TIMESTAMPING, software. */
    PROBE_RX_TS_TIMESTAMPNS,    /* SO_TIMESTAMPNS. */
    PROBE_RX_TS_USER,           /* clock_gettime() after recvmsg(). */
};

enum probe_tx_ts {
    PROBE_TX_TS_CMSG_ID,        /* Software, keyed by SCM_TS_OPT_ID. */
    PROBE_TX_TS_COUNTER_ID,     /* Software, keyed by the send count. */
    PROBE_TX_TS_USER,           /* clock_gettime() before sendmsg(). */
};

struct probe_sock {
    int fd;
    enum probe_mode mode;
    bool ipv6;
    bool icmp_raw;              /* ICMP over SOCK_RAW, not a ping socket. */
    uint16_t echo_id;           /* Raw ICMP only: our echo identifier. */
    struct sockaddr_storage dst;
    socklen_t dst_len;
    enum probe_rx_ts rx_ts;
    enum probe_tx_ts tx_ts;
    bool tx_id_tried;           /* Whether a send with SCM_TS_OPT_ID was
                                 * tried (and kept, if still CMSG_ID). */
};

/* A received datagram. */
struct probe_rx {
    uint8_t buf[PROBE_PACKET_MAX_LEN + 128];
    const uint8_t *payload;     /* Within 'buf'. */
    size_t payload_len;
    int64_t ts_ns;              /* Arrival, CLOCK_REALTIME. */
    bool kernel_ts;             /* Whether 'ts_ns' came from the kernel. */
};

int probe_net_parse_addr(const char *s, uint16_t port,
                         struct sockaddr_storage *, socklen_t *);
void probe_net_format_addr(const struct sockaddr_storage *, char *buf,
                           size_t size);
int probe_net_enter_netns(const char *netns, char **errorp);

int probe_net_open(struct probe_sock *, enum probe_mode,
                   const struct sockaddr_storage *dst, socklen_t dst_len,
                   const struct sockaddr_storage *src, socklen_t src_len,
                   char **errorp);
int probe_net_send(struct probe_sock *, uint32_t key, uint16_t echo_seq,
                   const uint8_t *payload, size_t len);
int probe_net_recv(struct probe_sock *, struct probe_rx *);
int probe_net_recv_tx_ts(struct probe_sock *, uint32_t *keyp,
                         int64_t *ts_nsp);
void probe_net_close(struct probe_sock *);

int probe_net_open_responder(const struct sockaddr_storage *bind_addr,
                             socklen_t bind_len, int *fdp, char **errorp);

const char *probe_net_rx_ts_name(enum probe_rx_ts);
const char *probe_net_tx_ts_name(enum probe_tx_ts);

#endif /* probe-net.h */
