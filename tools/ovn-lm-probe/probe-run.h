/*
 * probe-run.h: one prober run, a sending and a receiving thread.
 *
 * The sending thread sends a probe at each deadline of an absolute
 * schedule on CLOCK_MONOTONIC: it sleeps with clock_nanosleep(TIMER_ABSTIME)
 * until 'spin_ns' before the deadline and polls the clock for the rest,
 * so that it sends within a microsecond or so of the deadline instead of
 * a timer wake-up's tens of microseconds.  It never sends faster than the
 * rate: when it is late by more than an interval (the machine did not let
 * it run), it starts the schedule again from now instead of catching up
 * with a burst, and counts a slip.
 *
 * The receiving thread waits in poll() for replies and for transmit
 * timestamps on the socket's error queue.  The two threads share nothing
 * but a stop flag and progress counters: each keeps its own log, and
 * probe_run_collect() puts the logs together after both have stopped.
 */
#ifndef PROBE_RUN_H
#define PROBE_RUN_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "probe-net.h"
#include "probe-stats.h"

/* The most probes in one run: transmit timestamp keys have 32 bits. */
#define PROBE_RUN_MAX_PROBES UINT32_MAX

struct probe_run_config {
    enum probe_mode mode;
    struct sockaddr_storage dst;
    socklen_t dst_len;
    struct sockaddr_storage src;
    socklen_t src_len;          /* 0: let the kernel choose. */
    double rate_hz;
    uint64_t count;             /* 0: until probe_run_stop_sending(). */
    size_t payload_len;         /* PROBE_PACKET_LEN..PROBE_PACKET_MAX_LEN. */
    int64_t spin_ns;
    int realtime;               /* SCHED_FIFO priority of the sending
                                 * thread, or 0 to leave it alone. */
    enum probe_rx_ts rx_ts;     /* Best timestamps to try. */
    enum probe_tx_ts tx_ts;

    /* Called from the sending thread when it stops on its own, after
     * 'count' probes or after a fatal send error. */
    void (*sender_done)(void *aux);
    void *aux;
};

/* What a run found out about itself, besides the probes' fates. */
struct probe_run_info {
    enum probe_rx_ts rx_ts;     /* Timestamps the socket got. */
    enum probe_tx_ts tx_ts;
    bool icmp_raw;
    int64_t start_ns;           /* CLOCK_REALTIME at the first deadline. */
    int64_t end_ns;             /* Send time of the last probe. */
    int64_t clock_step_ns;      /* Change of CLOCK_REALTIME against
                                 * CLOCK_MONOTONIC during the run. */

    uint64_t n_sent;
    uint64_t n_send_errors;
    int first_send_error;       /* errno of the first, or 0. */
    uint64_t n_tx_kernel;       /* Probes with a kernel send timestamp. */
    uint64_t n_tx_rejected;     /* Kernel send timestamps not used. */
    uint64_t n_replies;         /* Our replies, including duplicates. */
    uint64_t n_rx_user;         /* Of those, without a kernel timestamp. */
    uint64_t n_foreign;         /* Datagrams that were not our replies. */

    /* The sender's precision. */
    struct probe_dist late;     /* Lateness against the schedule. */
    struct probe_dist interval; /* Between consecutive sends, by the send
                                 * times used (kernel ones when there). */
    uint64_t n_slips;           /* Times the schedule started again. */
    int realtime_error;         /* Why SCHED_FIFO failed, or 0. */
};

struct probe_run;

int probe_run_start(const struct probe_run_config *, struct probe_run **,
                    char **errorp);
uint64_t probe_run_n_sent(const struct probe_run *);
uint64_t probe_run_n_replies(const struct probe_run *);
bool probe_run_fatal_error(const struct probe_run *, int *errorp);
void probe_run_stop_sending(struct probe_run *);
void probe_run_stop(struct probe_run *);
void probe_run_collect(struct probe_run *, struct probe_stats *,
                       struct probe_run_info *);
void probe_run_destroy(struct probe_run *);

#endif /* probe-run.h */
