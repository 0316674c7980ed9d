/*
 * test-probe-packet.c: the probe payload and ICMP echo framing of
 * ovn-lm-probe (probe-packet).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "probe-packet.h"
#include "test.h"

static void
test_payload(void)
{
    struct probe_packet in = { PROBE_PACKET_F_REPLY, 0x0123456789abcdefULL,
                               0xfedcba9876543210ULL,
                               INT64_C(1732228201123456789) };
    struct probe_packet out;
    uint8_t buf[64];

    test_case("payload round trip");
    memset(buf, 0xaa, sizeof buf);
    probe_packet_encode(&in, buf, sizeof buf);
    TEST_EQ_INT(probe_packet_decode(buf, sizeof buf, &out), 0);
    TEST_EQ_INT(out.flags, PROBE_PACKET_F_REPLY);
    TEST_CHECK(out.session == in.session);
    TEST_CHECK(out.seq == in.seq);
    TEST_EQ_INT(out.send_ns, in.send_ns);
    /* Padding is zeros; the layout is network byte order. */
    TEST_EQ_INT(buf[63], 0);
    TEST_EQ_INT(buf[0], 'O');
    TEST_EQ_INT(buf[3], 'P');
    TEST_EQ_INT(buf[4], PROBE_PACKET_VERSION);
    TEST_EQ_INT(buf[16], 0xfe);
    TEST_EQ_INT(buf[23], 0x10);

    test_case("payload too short");
    memset(&out, 0, sizeof out);
    TEST_EQ_INT(probe_packet_decode(buf, PROBE_PACKET_LEN - 1, &out),
                EINVAL);
    TEST_CHECK(out.seq == 0);
    TEST_EQ_INT(probe_packet_decode(buf, PROBE_PACKET_LEN, &out), 0);

    test_case("wrong magic or version");
    buf[1] ^= 1;
    TEST_EQ_INT(probe_packet_decode(buf, sizeof buf, &out), EINVAL);
    buf[1] ^= 1;
    buf[4] = PROBE_PACKET_VERSION + 1;
    TEST_EQ_INT(probe_packet_decode(buf, sizeof buf, &out), EINVAL);
    test_case(NULL);
}

static void
test_csum(void)
{
    /* RFC 1071, section 3: the sum is ddf2, the checksum its complement. */
    static const uint8_t rfc[] = { 0x00, 0x01, 0xf2, 0x03,
                                   0xf4, 0xf5, 0xf6, 0xf7 };
    static const uint8_t odd[] = { 0x01, 0x02, 0x03 };

    test_case("RFC 1071 example");
    TEST_EQ_INT(probe_packet_csum(rfc, sizeof rfc), 0x220d);
    test_case("odd length pads with a zero byte");
    TEST_EQ_INT(probe_packet_csum(odd, sizeof odd), (uint16_t) ~0x0402);
    test_case(NULL);
}

static void
test_icmp(void)
{
    uint8_t payload[PROBE_PACKET_LEN], msg[128], pkt[160];
    struct probe_packet in = { 0, 1, 2, 3 };
    const uint8_t *p;
    size_t len, plen;
    uint16_t id;

    probe_packet_encode(&in, payload, sizeof payload);

    test_case("ICMPv4 echo request");
    len = probe_packet_icmp_encode(false, 0x1234, 0xbeef, payload,
                                   sizeof payload, msg, sizeof msg);
    TEST_EQ_INT(len, PROBE_PACKET_ICMP_HDR_LEN + sizeof payload);
    TEST_EQ_INT(msg[0], 8);
    TEST_EQ_INT(msg[4] << 8 | msg[5], 0x1234);
    TEST_EQ_INT(msg[6] << 8 | msg[7], 0xbeef);
    TEST_EQ_INT(probe_packet_csum(msg, len), 0);      /* Valid checksum. */
    TEST_EQ_INT(probe_packet_icmp_encode(false, 1, 1, payload, sizeof payload,
                                         msg, len - 1), 0);

    test_case("ICMPv4 echo reply behind an IPv4 header with options");
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 0x46;                          /* Version 4, 24 bytes. */
    pkt[2] = 0;
    pkt[3] = 24 + len;
    pkt[9] = 1;                             /* ICMP. */
    memcpy(pkt + 24, msg, len);
    pkt[24] = 0;                            /* Echo reply. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len, &id, &p,
                                         &plen), 0);
    TEST_EQ_INT(id, 0x1234);
    TEST_EQ_INT(plen, sizeof payload);
    TEST_CHECK(p == pkt + 24 + PROBE_PACKET_ICMP_HDR_LEN);
    /* Trailing bytes beyond the IP length are not payload. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len + 10,
                                         &id, &p, &plen), 0);
    TEST_EQ_INT(plen, sizeof payload);

    test_case("not an ICMPv4 echo reply");
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 19, &id, &p,
                                         &plen), EINVAL);
    pkt[9] = 17;
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len, &id, &p,
                                         &plen), EINVAL);
    pkt[9] = 1;
    pkt[24] = 8;                            /* A request. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len, &id, &p,
                                         &plen), EINVAL);
    pkt[24] = 0;
    pkt[0] = 0x4f;                          /* Header longer than packet. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 40, &id, &p,
                                         &plen), EINVAL);
    pkt[0] = 0x44;                          /* Header shorter than 20. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len, &id, &p,
                                         &plen), EINVAL);
    pkt[0] = 0x65;                          /* IPv6 version. */
    TEST_EQ_INT(probe_packet_icmp_decode(false, true, pkt, 24 + len, &id, &p,
                                         &plen), EINVAL);

    test_case("ICMPv4 from a ping socket: no IP header");
    msg[0] = 0;
    TEST_EQ_INT(probe_packet_icmp_decode(false, false, msg, len, &id, &p,
                                         &plen), 0);
    TEST_EQ_INT(probe_packet_icmp_decode(false, false, msg, 7, &id, &p,
                                         &plen), EINVAL);

    test_case("ICMPv6");
    len = probe_packet_icmp_encode(true, 7, 9, payload, sizeof payload, msg,
                                   sizeof msg);
    TEST_EQ_INT(msg[0], 128);
    TEST_EQ_INT(probe_packet_icmp_decode(true, false, msg, len, &id, &p,
                                         &plen), EINVAL);
    msg[0] = 129;
    TEST_EQ_INT(probe_packet_icmp_decode(true, false, msg, len, &id, &p,
                                         &plen), 0);
    TEST_EQ_INT(id, 7);
    msg[1] = 1;                             /* Nonzero code. */
    TEST_EQ_INT(probe_packet_icmp_decode(true, false, msg, len, &id, &p,
                                         &plen), EINVAL);
    test_case(NULL);
}

int
main(void)
{
    test_payload();
    test_csum();
    test_icmp();
    return test_summary();
}
