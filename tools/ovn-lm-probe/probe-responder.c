/*
 * probe-responder.c: the UDP echo side of ovn-lm-probe.
 */
#include "probe-responder.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "probe-net.h"
#include "probe-packet.h"
#include "probe-util.h"

/* How long the end of a pause spins rather than sleeps. */
#define PAUSE_SPIN_NS (50 * PROBE_NS_PER_US)

enum pause_state {
    PAUSE_NONE,                 /* Not asked for, or over. */
    PAUSE_WAIT_FIRST,           /* Waiting for the first probe. */
    PAUSE_ARMED,                /* Pausing at 'pause_at'. */
    PAUSE_AFTER,                /* Paused; the next reply ends the gap. */
};

struct responder {
    const struct probe_responder_config *cfg;
    struct probe_responder_stats *stats;
    int fd;
    enum pause_state pause;
    int64_t pause_at;           /* CLOCK_MONOTONIC. */
};

static void
log_pause(const struct responder *r)
{
    const struct probe_responder_stats *st = r->stats;
    char before[64], after[64];

    if (!r->cfg->log) {
        return;
    }
    probe_format_utc(st->last_before_ns, before, sizeof before);
    probe_format_utc(st->first_after_ns, after, sizeof after);
    fprintf(r->cfg->log, "ovn-lm-probe: responder: paused %.3f ms; no "
            "reply for %.3f ms, from %s to %s\n",
            st->pause_ns / 1e6,
            (st->first_after_ns - st->last_before_ns) / 1e6, before, after);
    fflush(r->cfg->log);
}

/* Answers one probe in the 'len' bytes of 'buf' from 'from'. */
static void
answer(struct responder *r, uint8_t *buf, size_t len,
       const struct sockaddr_storage *from, socklen_t from_len)
{
    int64_t send_ns = probe_clock_ns(CLOCK_REALTIME);

    buf[5] |= PROBE_PACKET_F_REPLY;
    for (unsigned int i = 0; i < r->cfg->copies; i++) {
        if (sendto(r->fd, buf, len, 0, (const struct sockaddr *) from,
                   from_len) < 0) {
            r->stats->n_send_errors++;
        } else {
            r->stats->n_replies++;
        }
    }
    r->stats->n_probes++;

    switch (r->pause) {
    case PAUSE_WAIT_FIRST:
        r->pause_at = probe_clock_ns(CLOCK_MONOTONIC) + r->cfg->pause_after_ns;
        r->pause = PAUSE_ARMED;
        break;
    case PAUSE_ARMED: {
        int64_t start = probe_clock_ns(CLOCK_MONOTONIC);

        if (start < r->pause_at) {
            break;
        }
        r->stats->last_before_ns = send_ns;
        probe_sleep_until(start + r->cfg->pause_ns, PAUSE_SPIN_NS);
        r->stats->pause_ns = probe_clock_ns(CLOCK_MONOTONIC) - start;
        r->pause = PAUSE_AFTER;
        break;
    }
    case PAUSE_AFTER:
        r->stats->first_after_ns = send_ns;
        r->stats->paused = 1;
        r->pause = PAUSE_NONE;
        log_pause(r);
        break;
    case PAUSE_NONE:
    default:
        break;
    }
}

static void
drain(struct responder *r)
{
    uint8_t buf[PROBE_PACKET_MAX_LEN + 1];

    for (;;) {
        struct sockaddr_storage from;
        socklen_t from_len = sizeof from;
        struct probe_packet pkt;
        ssize_t n;

        n = recvfrom(r->fd, buf, sizeof buf, MSG_DONTWAIT,
                     (struct sockaddr *) &from, &from_len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;
        }
        if (n > PROBE_PACKET_MAX_LEN || probe_packet_decode(buf, n, &pkt)
            || pkt.flags & PROBE_PACKET_F_REPLY) {
            /* Never answer a reply: two responders must not ping-pong. */
            r->stats->n_ignored++;
            continue;
        }
        answer(r, buf, n, &from, from_len);
    }
}

/* Runs the responder that 'cfg' describes until its duration is over or
 * 'cfg->stop_fd' becomes readable, and stores what it did in '*stats'.
 * Returns 0, or a positive errno value and an error message in '*errorp'
 * that the caller must free. */
int
probe_responder_run(const struct probe_responder_config *cfg,
                    struct probe_responder_stats *stats, char **errorp)
{
    struct responder r;
    struct pollfd pfds[2];
    int64_t end = 0;
    int error;

    memset(stats, 0, sizeof *stats);
    memset(&r, 0, sizeof r);
    r.cfg = cfg;
    r.stats = stats;
    r.pause = cfg->pause_after_ns >= 0 ? PAUSE_WAIT_FIRST : PAUSE_NONE;
    error = probe_net_open_responder(&cfg->bind_addr, cfg->bind_len, &r.fd,
                                     errorp);
    if (error) {
        return error;
    }
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    if (cfg->duration_ns) {
        end = probe_clock_ns(CLOCK_MONOTONIC) + cfg->duration_ns;
    }

    pfds[0].fd = r.fd;
    pfds[0].events = POLLIN;
    pfds[1].fd = cfg->stop_fd;
    pfds[1].events = POLLIN;
    for (;;) {
        int timeout = -1;

        if (end) {
            int64_t left = end - probe_clock_ns(CLOCK_MONOTONIC);

            if (left <= 0) {
                break;
            }
            timeout = (int) ((left + PROBE_NS_PER_MS - 1) / PROBE_NS_PER_MS);
        }
        if (poll(pfds, 2, timeout) < 0) {
            if (errno == EINTR) {
                continue;
            }
            error = errno;
            *errorp = probe_xasprintf("poll: %s", strerror(error));
            break;
        }
        if (pfds[1].revents) {
            break;
        }
        if (pfds[0].revents) {
            drain(&r);
        }
    }
    close(r.fd);
    return error;
}
