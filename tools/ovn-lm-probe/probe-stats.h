/*
 * probe-stats.h: the accounting of a probe run, with no I/O.
 *
 * Feed it what happened: every probe sent, in sequence order, with the
 * time it left (probe_stats_sent()), then every reply, in the order the
 * replies arrived, with the time each arrived (probe_stats_reply()).
 * probe_stats_finish() then computes everything ovn-lm-probe reports:
 *
 *   - Reply gaps.  The first replies to each probe, ordered by arrival
 *     time, are the moments at which the path was seen to work.  A gap is
 *     the time between two consecutive ones: in steady state one probe
 *     interval, during an outage the outage plus up to one interval.  The
 *     longest gap is the downtime.  Duplicates do not count (the original
 *     already arrived), late replies do (they did get through).  A run
 *     whose last probe went unanswered ends with an open gap, from the
 *     last reply to the given end of the run: a lower bound, since the
 *     path never came back while we looked.  A run also starts with a
 *     leading gap, from the first probe sent to the first reply, which is
 *     one round trip when the path works from the start.
 *   - Lost probes (sent, never answered), duplicated probes (answered more
 *     than once) and reordered replies (a first reply whose sequence
 *     number is below that of a first reply that arrived before it).
 *   - The loss-based view: the longest run of consecutive lost sequence
 *     numbers, times the probe interval.
 *   - Round-trip time percentiles over first replies, by nearest rank
 *     (the smallest value with at least q of all values at or below it),
 *     so that every percentile is a measured value.
 *
 * All times are in nanoseconds on one clock (ovn-lm-probe uses the
 * kernel's CLOCK_REALTIME timestamps); only differences matter here.
 * Sequence numbers are dense from 0.  Memory: 24 bytes per probe.
 */
#ifndef PROBE_STATS_H
#define PROBE_STATS_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A time that is not known, e.g. the arrival of an unanswered probe. */
#define PROBE_STATS_NONE INT64_MIN

/* One probe. */
struct probe_sample {
    int64_t send_ns;            /* When it was sent. */
    int64_t recv_ns;            /* First reply, or PROBE_STATS_NONE. */
    uint32_t n_replies;         /* 0: lost, 1: answered, 2+: duplicated. */
};

/* A distribution, by nearest rank.  All zero if 'n' is 0. */
struct probe_dist {
    size_t n;
    int64_t min, p50, p90, p99, p999, max;
    double mean;
};

/* A stretch of time without replies. */
struct probe_gap {
    int64_t start_ns;           /* Last reply before, or first send. */
    int64_t end_ns;             /* First reply after, or end of run. */
    int64_t seq_before;         /* Sequence answered at 'start_ns', or -1
                                 * for the leading gap. */
    int64_t seq_after;          /* Sequence answered at 'end_ns', or -1
                                 * for an open gap. */
    bool leading;               /* Starts at the first send. */
    bool open;                  /* Ends at the end of the run. */
    uint64_t n_sent;            /* Probes sent within the gap... */
    uint64_t n_lost;            /* ...and how many of them were lost. */
    int64_t quiet_ns;           /* Longest time within the gap during which
                                 * no probe was sent at all: near the gap
                                 * itself, the prober stalled, not the
                                 * path. */
};

/* The longest run of consecutive lost sequence numbers. */
struct probe_loss_run {
    uint64_t first_seq;         /* Meaningless if 'count' is 0. */
    uint64_t count;
    int64_t duration_ns;        /* 'count' times the probe interval. */
    int64_t start_ns;           /* Send time of 'first_seq'. */
};

struct probe_stats_result {
    uint64_t n_sent;
    uint64_t n_answered;        /* Probes with at least one reply. */
    uint64_t n_lost;            /* n_sent - n_answered. */
    uint64_t n_dup_replies;     /* Replies beyond the first, over all. */
    uint64_t n_dup_seqs;        /* Probes answered more than once. */
    uint64_t n_reordered;       /* First replies that arrived late. */
    uint64_t n_stray;           /* Replies to a probe never sent. */
    int64_t interval_ns;
    int64_t first_send_ns;      /* PROBE_STATS_NONE if nothing was sent. */
    int64_t last_send_ns;
    int64_t end_ns;             /* As given to probe_stats_finish(). */
    struct probe_gap *gaps;     /* Longest first. */
    size_t n_gaps;
    struct probe_loss_run loss_run;
    struct probe_dist rtt;      /* Over first replies. */
};

struct probe_stats *probe_stats_create(int64_t interval_ns);
void probe_stats_destroy(struct probe_stats *);
void probe_stats_reserve(struct probe_stats *, size_t n_probes);

int probe_stats_sent(struct probe_stats *, uint64_t seq, int64_t send_ns);
int probe_stats_reply(struct probe_stats *, uint64_t seq, int64_t recv_ns);
void probe_stats_finish(const struct probe_stats *, int64_t end_ns,
                        size_t max_gaps, struct probe_stats_result *);
const struct probe_sample *probe_stats_samples(const struct probe_stats *,
                                               size_t *n);

void probe_stats_result_destroy(struct probe_stats_result *);

void probe_stats_dist(int64_t *values, size_t n, struct probe_dist *);
int64_t probe_stats_rank(const int64_t *sorted, size_t n, uint32_t ppm);

#endif /* probe-stats.h */
