/*
 * probe-packet.h: the probe payload and ICMP echo framing.
 *
 * Every probe, UDP or ICMP echo, carries the same payload, in network byte
 * order, padded with zeros to the requested size:
 *
 *     offset  size  field
 *          0     4  magic, "OLMP" (0x4f4c4d50)
 *          4     1  version, 1
 *          5     1  flags: 0x01 on a reply from an ovn-lm-probe responder
 *          6     2  reserved, 0
 *          8     8  session: random per prober run
 *         16     8  sequence number, from 0
 *         24     8  send time, Unix nanoseconds (for packet captures only:
 *                   the prober keeps its own, better, send times)
 *
 * A responder sends the payload back as it came, with the reply flag set.
 * An ICMP echo reply carries it back as the kernel found it.  Nothing in
 * here does I/O, so that all of it can be fuzzed.
 */
#ifndef PROBE_PACKET_H
#define PROBE_PACKET_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROBE_PACKET_MAGIC 0x4f4c4d50
#define PROBE_PACKET_VERSION 1
#define PROBE_PACKET_LEN 32     /* Smallest payload. */
#define PROBE_PACKET_MAX_LEN 8192

#define PROBE_PACKET_F_REPLY 0x01

#define PROBE_PACKET_ICMP_HDR_LEN 8

struct probe_packet {
    uint8_t flags;
    uint64_t session;
    uint64_t seq;
    int64_t send_ns;
};

void probe_packet_encode(const struct probe_packet *, uint8_t *buf,
                         size_t len);
int probe_packet_decode(const uint8_t *buf, size_t len,
                        struct probe_packet *);

size_t probe_packet_icmp_encode(bool ipv6, uint16_t id, uint16_t seq,
                                const uint8_t *payload, size_t payload_len,
                                uint8_t *buf, size_t size);
int probe_packet_icmp_decode(bool ipv6, bool ip_header, const uint8_t *buf,
                             size_t len, uint16_t *idp,
                             const uint8_t **payloadp, size_t *payload_lenp);
uint16_t probe_packet_csum(const uint8_t *data, size_t len);

#endif /* probe-packet.h */
