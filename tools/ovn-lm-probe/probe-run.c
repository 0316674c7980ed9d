/*
 * probe-run.c: one prober run, a sending and a receiving thread.
 */
#include "probe-run.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "probe-packet.h"
#include "probe-util.h"

/* The sending thread never sleeps longer than this at once, so that it
 * notices a stop request soon even at low rates. */
#define SLEEP_SLICE_NS (100 * PROBE_NS_PER_MS)

/* Most probes whose log is allocated before the run: 384 MB. */
#define PREALLOC_MAX ((size_t) 1 << 24)

/* A kernel send timestamp more than this after the user-space one is
 * taken for a mismatch rather than believed. */
#define MAX_TX_DELAY_NS PROBE_NS_PER_SEC

/* What the sending thread logs about each probe, by sequence number. */
struct send_rec {
    int64_t user_ns;            /* CLOCK_REALTIME just before sendmsg(). */
    int64_t late_ns;            /* Lateness against the schedule. */
    int error;                  /* 0, or sendmsg()'s errno. */
};

/* What the receiving thread logs about each reply. */
struct reply_rec {
    uint64_t seq;
    int64_t recv_ns;
};

/* A transmit timestamp from the error queue. */
struct tx_rec {
    uint32_t key;
    int64_t ts_ns;
};

struct probe_run {
    struct probe_run_config cfg;
    struct probe_sock sock;
    uint64_t session;
    int wake_fd;                /* eventfd: stops the receiving thread. */

    pthread_t sender;
    pthread_t receiver;
    bool sender_joined;
    bool receiver_joined;

    atomic_bool stop_sending;
    atomic_uint_fast64_t n_sent;
    atomic_uint_fast64_t n_replies;
    atomic_int fatal_error;
    int realtime_error;         /* Written by the sender before it sends. */

    int64_t start_mono;
    int64_t clock_offset_start; /* REALTIME - MONOTONIC at the start. */

    /* Owned by the sending thread until it is joined. */
    struct send_rec *sends;
    size_t n_sends, sends_cap;
    uint64_t n_slips;
    enum probe_tx_ts tx_ts_used;  /* 'sock.tx_ts' as the sender left it. */

    /* Owned by the receiving thread until it is joined. */
    struct reply_rec *replies;
    size_t n_replies_log, replies_cap;
    struct tx_rec *txs;
    size_t n_txs, txs_cap;
    uint64_t n_rx_user;
    uint64_t n_foreign;
};

static int64_t
clock_offset(void)
{
    /* The monotonic clock read on both sides of the real-time one, so
     * that the offset is right within the time of one clock read. */
    int64_t m0 = probe_clock_ns(CLOCK_MONOTONIC);
    int64_t r = probe_clock_ns(CLOCK_REALTIME);
    int64_t m1 = probe_clock_ns(CLOCK_MONOTONIC);

    return r - (m0 + (m1 - m0) / 2);
}

/* Whether send error 'error' means that no later send can succeed
 * either, as opposed to what an outage looks like locally (no route,
 * buffers full, a firewall). */
static bool
is_fatal_send_error(int error)
{
    switch (error) {
    case EMSGSIZE:
    case EINVAL:
    case EBADF:
    case EFAULT:
    case EAFNOSUPPORT:
    case ENOTSOCK:
    case EACCES:
    case EDESTADDRREQ:
        return true;
    default:
        return false;
    }
}

static void
sender_log(struct probe_run *run, const struct send_rec *rec)
{
    if (run->n_sends >= run->sends_cap) {
        size_t cap = run->sends_cap * 2;

        run->sends = probe_xreallocarray(run->sends, cap, sizeof *run->sends);
        run->sends_cap = cap;
    }
    run->sends[run->n_sends++] = *rec;
}

/* Sleeps until 'deadline' on CLOCK_MONOTONIC, spinning for the last
 * 'spin_ns'.  Returns false, early, if asked to stop. */
static bool
sender_wait(struct probe_run *run, int64_t deadline)
{
    for (;;) {
        int64_t now = probe_clock_ns(CLOCK_MONOTONIC);

        if (atomic_load_explicit(&run->stop_sending, memory_order_relaxed)) {
            return false;
        }
        if (deadline - run->cfg.spin_ns - now <= SLEEP_SLICE_NS) {
            break;
        }
        probe_sleep_until(now + SLEEP_SLICE_NS, 0);
    }
    probe_sleep_until(deadline, run->cfg.spin_ns);
    return true;
}

static void *
sender_main(void *run_)
{
    struct probe_run *run = run_;
    double period = 1e9 / run->cfg.rate_hz;
    uint64_t limit = run->cfg.count ? run->cfg.count : PROBE_RUN_MAX_PROBES;
    int64_t anchor = run->start_mono;
    uint64_t anchor_seq = 0;
    uint8_t payload[PROBE_PACKET_MAX_LEN];

    /* The default timer slack of 50 us would make every wake-up late. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    run->realtime_error = probe_set_realtime(run->cfg.realtime);

    for (uint64_t seq = 0; seq < limit; seq++) {
        int64_t deadline = anchor + llround((seq - anchor_seq) * period);
        struct probe_packet pkt;
        struct send_rec rec;
        int64_t now;

        if (!sender_wait(run, deadline)) {
            break;
        }
        now = probe_clock_ns(CLOCK_MONOTONIC);
        rec.late_ns = now - deadline;
        if (rec.late_ns > period && seq) {
            /* Start the schedule again rather than send a burst. */
            anchor = now;
            anchor_seq = seq;
            run->n_slips++;
        }

        rec.user_ns = probe_clock_ns(CLOCK_REALTIME);
        pkt.flags = 0;
        pkt.session = run->session;
        pkt.seq = seq;
        pkt.send_ns = rec.user_ns;
        probe_packet_encode(&pkt, payload, run->cfg.payload_len);
        rec.error = probe_net_send(&run->sock, (uint32_t) seq,
                                   (uint16_t) seq, payload,
                                   run->cfg.payload_len);
        sender_log(run, &rec);
        atomic_store_explicit(&run->n_sent, seq + 1, memory_order_release);
        if (rec.error && is_fatal_send_error(rec.error)) {
            atomic_store(&run->fatal_error, rec.error);
            break;
        }
    }
    run->tx_ts_used = run->sock.tx_ts;
    if (!atomic_load(&run->stop_sending) && run->cfg.sender_done) {
        run->cfg.sender_done(run->cfg.aux);
    }
    return NULL;
}

static void
receiver_drain_replies(struct probe_run *run, struct probe_rx *rx)
{
    for (;;) {
        struct probe_packet pkt;
        int retval = probe_net_recv(&run->sock, rx);

        if (retval == EAGAIN) {
            return;
        } else if (retval == EINVAL) {
            run->n_foreign++;
            continue;
        } else if (retval) {
            /* E.g. ENOMEM: nothing to do but try again on the next
             * wake-up; the reply is lost and will count as such. */
            return;
        }
        if (probe_packet_decode(rx->payload, rx->payload_len, &pkt)
            || pkt.session != run->session
            || (run->cfg.mode == PROBE_MODE_UDP
                && !(pkt.flags & PROBE_PACKET_F_REPLY))) {
            run->n_foreign++;
            continue;
        }
        if (run->n_replies_log >= run->replies_cap) {
            run->replies_cap = run->replies_cap ? run->replies_cap * 2 : 4096;
            run->replies = probe_xreallocarray(run->replies, run->replies_cap,
                                               sizeof *run->replies);
        }
        run->replies[run->n_replies_log].seq = pkt.seq;
        run->replies[run->n_replies_log].recv_ns = rx->ts_ns;
        run->n_replies_log++;
        run->n_rx_user += !rx->kernel_ts;
        atomic_fetch_add_explicit(&run->n_replies, 1, memory_order_relaxed);
    }
}

static void
receiver_drain_tx(struct probe_run *run)
{
    for (;;) {
        uint32_t key;
        int64_t ts;
        int retval = probe_net_recv_tx_ts(&run->sock, &key, &ts);

        if (retval == EINVAL) {
            continue;
        } else if (retval) {
            return;
        }
        if (run->n_txs >= run->txs_cap) {
            run->txs_cap = run->txs_cap ? run->txs_cap * 2 : 4096;
            run->txs = probe_xreallocarray(run->txs, run->txs_cap,
                                           sizeof *run->txs);
        }
        run->txs[run->n_txs].key = key;
        run->txs[run->n_txs].ts_ns = ts;
        run->n_txs++;
    }
}

static void *
receiver_main(void *run_)
{
    struct probe_run *run = run_;
    struct probe_rx *rx = probe_xmalloc(sizeof *rx);
    struct pollfd pfds[2];

    pfds[0].fd = run->sock.fd;
    pfds[0].events = POLLIN;
    pfds[1].fd = run->wake_fd;
    pfds[1].events = POLLIN;
    for (;;) {
        if (poll(pfds, 2, -1) < 0) {
            continue;           /* EINTR; nothing else can happen. */
        }
        if (pfds[0].revents & POLLERR) {
            receiver_drain_tx(run);
        }
        if (pfds[0].revents & POLLIN) {
            receiver_drain_replies(run, rx);
        }
        if (pfds[1].revents & POLLIN) {
            receiver_drain_tx(run);
            receiver_drain_replies(run, rx);
            break;
        }
    }
    free(rx);
    return NULL;
}

/* Opens the socket for the run that 'cfg' describes and starts sending
 * and receiving.  On success, returns 0 and the run in '*runp'; otherwise
 * a positive errno value and an error message in '*errorp' that the
 * caller must free. */
int
probe_run_start(const struct probe_run_config *cfg, struct probe_run **runp,
                char **errorp)
{
    struct probe_run *run = probe_xzalloc(sizeof *run);
    size_t cap;
    int error;

    run->cfg = *cfg;
    run->sender_joined = run->receiver_joined = true;
    run->wake_fd = -1;
    run->sock.fd = -1;
    run->sock.rx_ts = cfg->rx_ts;
    run->sock.tx_ts = cfg->tx_ts;
    run->tx_ts_used = cfg->tx_ts;
    error = probe_net_open(&run->sock, cfg->mode, &cfg->dst, cfg->dst_len,
                           &cfg->src, cfg->src_len, errorp);
    if (error) {
        probe_run_destroy(run);
        return error;
    }
    run->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (run->wake_fd < 0) {
        error = errno;
        *errorp = probe_xasprintf("eventfd: %s", strerror(error));
        probe_run_destroy(run);
        return error;
    }
    if (getrandom(&run->session, sizeof run->session, 0)
        != sizeof run->session) {
        run->session = ((uint64_t) getpid() << 32
                        ^ (uint64_t) probe_clock_ns(CLOCK_REALTIME));
    }

    /* Room for the whole run if we know its length, else for a minute,
     * up to a limit; written now, so that the sender does not take page
     * faults.  Beyond that the log grows, which glibc does by remapping,
     * without copying. */
    cap = cfg->count ? cfg->count : (size_t) (cfg->rate_hz * 60) + 1;
    if (cap > PREALLOC_MAX) {
        cap = PREALLOC_MAX;
    }
    run->sends_cap = cap;
    run->sends = probe_xcalloc(cap, sizeof *run->sends);
    memset(run->sends, 0, cap * sizeof *run->sends);

    error = pthread_create(&run->receiver, NULL, receiver_main, run);
    if (error) {
        *errorp = probe_xasprintf("pthread_create: %s", strerror(error));
        probe_run_destroy(run);
        return error;
    }
    run->receiver_joined = false;

    run->clock_offset_start = clock_offset();
    run->start_mono = probe_clock_ns(CLOCK_MONOTONIC) + PROBE_NS_PER_MS;
    error = pthread_create(&run->sender, NULL, sender_main, run);
    if (error) {
        *errorp = probe_xasprintf("pthread_create: %s", strerror(error));
        probe_run_destroy(run);
        return error;
    }
    run->sender_joined = false;
    *runp = run;
    return 0;
}

/* Returns how many probes 'run' has sent so far. */
uint64_t
probe_run_n_sent(const struct probe_run *run)
{
    return atomic_load_explicit(&((struct probe_run *) run)->n_sent,
                                memory_order_acquire);
}

/* Returns how many replies 'run' has received so far, duplicates too. */
uint64_t
probe_run_n_replies(const struct probe_run *run)
{
    return atomic_load_explicit(&((struct probe_run *) run)->n_replies,
                                memory_order_relaxed);
}

/* Returns true, with the errno value in '*errorp', if 'run' stopped
 * sending because of an error that no retry would fix. */
bool
probe_run_fatal_error(const struct probe_run *run, int *errorp)
{
    int error = atomic_load(&((struct probe_run *) run)->fatal_error);

    *errorp = error;
    return error != 0;
}

/* Stops the sending thread of 'run' and waits for it; the receiving
 * thread goes on, for replies still under way. */
void
probe_run_stop_sending(struct probe_run *run)
{
    if (!run->sender_joined) {
        atomic_store(&run->stop_sending, true);
        pthread_join(run->sender, NULL);
        run->sender_joined = true;
    }
}

/* Stops both threads of 'run' and waits for them. */
void
probe_run_stop(struct probe_run *run)
{
    probe_run_stop_sending(run);
    if (!run->receiver_joined) {
        uint64_t one = 1;

        if (write(run->wake_fd, &one, sizeof one) != sizeof one) {
            abort();            /* An eventfd cannot refuse this. */
        }
        pthread_join(run->receiver, NULL);
        run->receiver_joined = true;
    }
}

/* Feeds everything that stopped run 'run' logged into 'stats', which
 * must be fresh, and fills in '*info'. */
void
probe_run_collect(struct probe_run *run, struct probe_stats *stats,
                  struct probe_run_info *info)
{
    size_t n = run->n_sends;
    int64_t *send_ns = probe_xcalloc(n, sizeof *send_ns);
    int64_t *values = probe_xcalloc(n, sizeof *values);
    uint64_t limit = n;

    probe_run_stop(run);
    probe_stats_reserve(stats, n);
    memset(info, 0, sizeof *info);
    info->rx_ts = run->sock.rx_ts;
    info->tx_ts = run->tx_ts_used;
    info->icmp_raw = run->sock.icmp_raw;
    info->start_ns = run->start_mono + run->clock_offset_start;
    info->clock_step_ns = clock_offset() - run->clock_offset_start;
    info->n_sent = n;
    info->n_slips = run->n_slips;
    info->realtime_error = run->realtime_error;
    info->n_replies = run->n_replies_log;
    info->n_rx_user = run->n_rx_user;
    info->n_foreign = run->n_foreign;

    for (size_t i = 0; i < n; i++) {
        send_ns[i] = PROBE_STATS_NONE;
        if (run->sends[i].error) {
            if (!info->n_send_errors++) {
                info->first_send_error = run->sends[i].error;
                if (info->tx_ts == PROBE_TX_TS_COUNTER_ID) {
                    /* The kernel may or may not have counted the failed
                     * send: keys from here on are ambiguous. */
                    limit = i;
                }
            }
        }
    }

    /* Kernel send timestamps, where they are believable: for a probe that
     * was sent, not before we asked to send it, nor long after. */
    for (size_t i = 0; i < run->n_txs; i++) {
        const struct tx_rec *tx = &run->txs[i];
        const struct send_rec *s = tx->key < n ? &run->sends[tx->key] : NULL;

        if (info->tx_ts == PROBE_TX_TS_USER || tx->key >= limit
            || s->error || tx->ts_ns < s->user_ns
            || tx->ts_ns - s->user_ns > MAX_TX_DELAY_NS
            || send_ns[tx->key] != PROBE_STATS_NONE) {
            info->n_tx_rejected++;
            continue;
        }
        send_ns[tx->key] = tx->ts_ns;
        info->n_tx_kernel++;
    }

    for (size_t i = 0; i < n; i++) {
        if (send_ns[i] == PROBE_STATS_NONE) {
            send_ns[i] = run->sends[i].user_ns;
        }
        probe_stats_sent(stats, i, send_ns[i]);
    }
    for (size_t i = 0; i < run->n_replies_log; i++) {
        probe_stats_reply(stats, run->replies[i].seq,
                          run->replies[i].recv_ns);
    }
    info->end_ns = n ? send_ns[n - 1] : info->start_ns;

    for (size_t i = 0; i < n; i++) {
        values[i] = run->sends[i].late_ns;
    }
    probe_stats_dist(values, n, &info->late);
    for (size_t i = 1; i < n; i++) {
        values[i - 1] = send_ns[i] - send_ns[i - 1];
    }
    probe_stats_dist(values, n ? n - 1 : 0, &info->interval);

    free(values);
    free(send_ns);
}

/* Stops 'run', if it is still going, and frees it (NULL is fine). */
void
probe_run_destroy(struct probe_run *run)
{
    if (run) {
        probe_run_stop(run);
        probe_net_close(&run->sock);
        if (run->wake_fd >= 0) {
            close(run->wake_fd);
        }
        free(run->sends);
        free(run->replies);
        free(run->txs);
        free(run);
    }
}
