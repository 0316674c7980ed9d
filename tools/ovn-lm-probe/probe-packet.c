/*
 * probe-packet.c: the probe payload and ICMP echo framing.
 */
#include "probe-packet.h"

#include <errno.h>
#include <string.h>

#define ICMP4_ECHO_REQUEST 8
#define ICMP4_ECHO_REPLY 0
#define ICMP6_ECHO_REQUEST 128
#define ICMP6_ECHO_REPLY 129
#define IPPROTO_ICMP4 1

static void
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static void
put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, v >> 16);
    put_be16(p + 2, v);
}

static void
put_be64(uint8_t *p, uint64_t v)
{
    put_be32(p, v >> 32);
    put_be32(p + 4, v);
}

static uint16_t
get_be16(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

static uint32_t
get_be32(const uint8_t *p)
{
    return (uint32_t) get_be16(p) << 16 | get_be16(p + 2);
}

static uint64_t
get_be64(const uint8_t *p)
{
    return (uint64_t) get_be32(p) << 32 | get_be32(p + 4);
}

/* Writes probe 'pkt' into the 'len' bytes at 'buf', which must be at least
 * PROBE_PACKET_LEN; bytes beyond the header become zero. */
void
probe_packet_encode(const struct probe_packet *pkt, uint8_t *buf, size_t len)
{
    memset(buf, 0, len);
    put_be32(buf, PROBE_PACKET_MAGIC);
    buf[4] = PROBE_PACKET_VERSION;
    buf[5] = pkt->flags;
    put_be64(buf + 8, pkt->session);
    put_be64(buf + 16, pkt->seq);
    put_be64(buf + 24, (uint64_t) pkt->send_ns);
}

/* Reads a probe payload from the 'len' bytes at 'buf' into '*pkt'.
 * Returns 0, or EINVAL if it is not one (too short, wrong magic or
 * version); '*pkt' is left alone then. */
int
probe_packet_decode(const uint8_t *buf, size_t len, struct probe_packet *pkt)
{
    if (len < PROBE_PACKET_LEN || get_be32(buf) != PROBE_PACKET_MAGIC
        || buf[4] != PROBE_PACKET_VERSION) {
        return EINVAL;
    }
    pkt->flags = buf[5];
    pkt->session = get_be64(buf + 8);
    pkt->seq = get_be64(buf + 16);
    pkt->send_ns = (int64_t) get_be64(buf + 24);
    return 0;
}

/* Returns the Internet checksum (RFC 1071) of the 'len' bytes at 'data'. */
uint16_t
probe_packet_csum(const uint8_t *data, size_t len)
{
    uint32_t sum = 0;
    size_t i;

    for (i = 0; i + 1 < len; i += 2) {
        sum += get_be16(data + i);
    }
    if (i < len) {
        sum += (uint32_t) data[i] << 8;
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t) ~sum;
}

/* Writes into the 'size' bytes at 'buf' an ICMP (or, if 'ipv6', ICMPv6)
 * echo request with identifier 'id', sequence 'seq' and the 'payload_len'
 * bytes of 'payload'.  The ICMP checksum is filled in (the kernel
 * overwrites it for ICMPv6 and for ping sockets).  Returns the length of
 * the message, or 0 if it does not fit. */
size_t
probe_packet_icmp_encode(bool ipv6, uint16_t id, uint16_t seq,
                         const uint8_t *payload, size_t payload_len,
                         uint8_t *buf, size_t size)
{
    size_t len = PROBE_PACKET_ICMP_HDR_LEN + payload_len;

    if (payload_len > size || size - payload_len < PROBE_PACKET_ICMP_HDR_LEN) {
        return 0;
    }
    buf[0] = ipv6 ? ICMP6_ECHO_REQUEST : ICMP4_ECHO_REQUEST;
    buf[1] = 0;
    put_be16(buf + 2, 0);
    put_be16(buf + 4, id);
    put_be16(buf + 6, seq);
    memcpy(buf + PROBE_PACKET_ICMP_HDR_LEN, payload, payload_len);
    put_be16(buf + 2, probe_packet_csum(buf, len));
    return len;
}

/* Parses the 'len' bytes at 'buf' as an ICMP (or, if 'ipv6', ICMPv6) echo
 * reply, preceded by an IPv4 header if 'ip_header' (as raw IPv4 sockets
 * receive them).  On success, returns 0 and stores the identifier in
 * '*idp' and where the payload is in '*payloadp' and '*payload_lenp'.
 * Returns EINVAL if it is anything else, leaving the outputs alone. */
int
probe_packet_icmp_decode(bool ipv6, bool ip_header, const uint8_t *buf,
                         size_t len, uint16_t *idp, const uint8_t **payloadp,
                         size_t *payload_lenp)
{
    if (ip_header && !ipv6) {
        size_t ihl, tot_len;

        if (len < 20 || buf[0] >> 4 != 4 || buf[9] != IPPROTO_ICMP4) {
            return EINVAL;
        }
        ihl = (size_t) (buf[0] & 0x0f) * 4;
        tot_len = get_be16(buf + 2);
        if (ihl < 20 || ihl > len) {
            return EINVAL;
        }
        /* Trust the IP length only to shorten what we read. */
        if (tot_len >= ihl && tot_len < len) {
            len = tot_len;
        }
        buf += ihl;
        len -= ihl;
    }
    if (len < PROBE_PACKET_ICMP_HDR_LEN
        || buf[0] != (ipv6 ? ICMP6_ECHO_REPLY : ICMP4_ECHO_REPLY)
        || buf[1] != 0) {
        return EINVAL;
    }
    *idp = get_be16(buf + 4);
    *payloadp = buf + PROBE_PACKET_ICMP_HDR_LEN;
    *payload_lenp = len - PROBE_PACKET_ICMP_HDR_LEN;
    return 0;
}
