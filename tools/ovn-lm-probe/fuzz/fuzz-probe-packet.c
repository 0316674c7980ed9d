/*
 * fuzz-probe-packet.c: what ovn-lm-probe parses out of the network: probe
 * payloads, and ICMP echo replies with and without an IPv4 header, over
 * IPv4 and IPv6.
 *
 * Input: one datagram, as each kind of socket would receive it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "probe-packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
decode_payload(const uint8_t *p, size_t len)
{
    struct probe_packet pkt;

    if (!probe_packet_decode(p, len, &pkt)) {
        uint8_t again[PROBE_PACKET_LEN];

        /* What decodes encodes back to the same header. */
        probe_packet_encode(&pkt, again, sizeof again);
        if (memcmp(again, p, 6) || memcmp(again + 8, p + 8, 24)) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exactly sized copy, so that ASan sees any overread. */
    uint8_t *copy = malloc(size ? size : 1);

    memcpy(copy, data, size);
    decode_payload(copy, size);
    for (int ipv6 = 0; ipv6 < 2; ipv6++) {
        for (int ip_header = 0; ip_header < 2; ip_header++) {
            const uint8_t *payload;
            size_t len;
            uint16_t id;

            if (!probe_packet_icmp_decode(ipv6, ip_header, copy, size, &id,
                                          &payload, &len)) {
                if (payload < copy || payload + len > copy + size) {
                    abort();
                }
                decode_payload(payload, len);
            }
        }
    }
    probe_packet_csum(copy, size);
    free(copy);
    return 0;
}
