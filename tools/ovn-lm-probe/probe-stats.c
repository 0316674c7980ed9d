/*
 * probe-stats.c: the accounting of a probe run, with no I/O.
 */
#include "probe-stats.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe-util.h"

struct probe_stats {
    int64_t interval_ns;
    struct probe_sample *samples;
    size_t n;                   /* Probes sent. */
    size_t cap;

    /* Replies, as they were fed. */
    uint64_t n_answered;
    uint64_t n_dup_replies;
    uint64_t n_dup_seqs;
    uint64_t n_reordered;
    uint64_t n_stray;
    uint64_t max_seq;           /* Highest first-answered sequence... */
    bool any_answered;          /* ...if there is one. */
};

/* Returns a new, empty accounting for probes sent every 'interval_ns'
 * nanoseconds (the interval only scales the loss-based view). */
struct probe_stats *
probe_stats_create(int64_t interval_ns)
{
    struct probe_stats *stats = probe_xzalloc(sizeof *stats);

    stats->interval_ns = interval_ns;
    return stats;
}

/* Frees 'stats' (NULL is fine). */
void
probe_stats_destroy(struct probe_stats *stats)
{
    if (stats) {
        free(stats->samples);
        free(stats);
    }
}

/* Makes room for 'n_probes' probes in 'stats' at once, which saves
 * reallocations when the caller knows how many there are. */
void
probe_stats_reserve(struct probe_stats *stats, size_t n_probes)
{
    if (n_probes > stats->cap) {
        stats->samples = probe_xreallocarray(stats->samples, n_probes,
                                             sizeof *stats->samples);
        stats->cap = n_probes;
    }
}

/* Records in 'stats' that probe 'seq' was sent at 'send_ns'.  Probes must
 * be recorded in sequence order from 0, before any reply to them.
 * Returns 0, or EINVAL if 'seq' is not the next sequence number. */
int
probe_stats_sent(struct probe_stats *stats, uint64_t seq, int64_t send_ns)
{
    struct probe_sample *s;

    if (seq != stats->n || send_ns == PROBE_STATS_NONE) {
        return EINVAL;
    }
    if (stats->n >= stats->cap) {
        probe_stats_reserve(stats, stats->cap ? stats->cap * 2 : 1024);
    }
    s = &stats->samples[stats->n++];
    s->send_ns = send_ns;
    s->recv_ns = PROBE_STATS_NONE;
    s->n_replies = 0;
    return 0;
}

/* Records in 'stats' that a reply to probe 'seq' arrived at 'recv_ns'.
 * Replies must be recorded in the order they arrived.  Returns 0, or
 * ENOENT (and counts a stray reply) if probe 'seq' was never sent, or
 * EINVAL if 'recv_ns' is PROBE_STATS_NONE. */
int
probe_stats_reply(struct probe_stats *stats, uint64_t seq, int64_t recv_ns)
{
    struct probe_sample *s;

    if (recv_ns == PROBE_STATS_NONE) {
        return EINVAL;
    }
    if (seq >= stats->n) {
        stats->n_stray++;
        return ENOENT;
    }

    s = &stats->samples[seq];
    if (!s->n_replies) {
        s->recv_ns = recv_ns;
        stats->n_answered++;
        if (stats->any_answered && seq < stats->max_seq) {
            stats->n_reordered++;
        } else {
            stats->max_seq = seq;
            stats->any_answered = true;
        }
    } else {
        stats->n_dup_replies++;
        if (s->n_replies == 1) {
            stats->n_dup_seqs++;
        }
    }
    if (s->n_replies < UINT32_MAX) {
        s->n_replies++;
    }
    return 0;
}

/* Returns the probes recorded in 'stats', indexed by sequence number, and
 * stores their number in '*n'.  Valid until 'stats' changes. */
const struct probe_sample *
probe_stats_samples(const struct probe_stats *stats, size_t *n)
{
    *n = stats->n;
    return stats->samples;
}

static int
compare_i64(const void *a_, const void *b_)
{
    int64_t a = *(const int64_t *) a_;
    int64_t b = *(const int64_t *) b_;

    return a < b ? -1 : a > b;
}

/* Returns the nearest-rank percentile 'ppm' (in millionths: 500000 is the
 * median, 999000 is p99.9, 1000000 the maximum) of the 'n' values in
 * 'sorted', which must be in ascending order: the smallest value such
 * that at least 'ppm' millionths of all values are at or below it.
 * Returns 0 if 'n' is 0. */
int64_t
probe_stats_rank(const int64_t *sorted, size_t n, uint32_t ppm)
{
    unsigned __int128 rank;

    if (!n) {
        return 0;
    }
    if (ppm > 1000000) {
        ppm = 1000000;
    }
    /* Integer arithmetic: 0.999 * 1000 is not 999 in floating point. */
    rank = ((unsigned __int128) ppm * n + 999999) / 1000000;
    if (!rank) {
        rank = 1;
    }
    return sorted[(size_t) rank - 1];
}

/* Computes into '*dist' the distribution of the 'n' 'values', which it
 * sorts in place. */
void
probe_stats_dist(int64_t *values, size_t n, struct probe_dist *dist)
{
    long double sum = 0;

    memset(dist, 0, sizeof *dist);
    if (!n) {
        return;
    }
    qsort(values, n, sizeof *values, compare_i64);
    for (size_t i = 0; i < n; i++) {
        sum += values[i];
    }
    dist->n = n;
    dist->min = values[0];
    dist->p50 = probe_stats_rank(values, n, 500000);
    dist->p90 = probe_stats_rank(values, n, 900000);
    dist->p99 = probe_stats_rank(values, n, 990000);
    dist->p999 = probe_stats_rank(values, n, 999000);
    dist->max = values[n - 1];
    dist->mean = (double) (sum / n);
}

struct arrival {
    int64_t recv_ns;
    uint64_t seq;
};

static int
compare_arrivals(const void *a_, const void *b_)
{
    const struct arrival *a = a_;
    const struct arrival *b = b_;

    if (a->recv_ns != b->recv_ns) {
        return a->recv_ns < b->recv_ns ? -1 : 1;
    }
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int64_t
gap_len(const struct probe_gap *gap)
{
    return gap->end_ns - gap->start_ns;
}

/* The 'max' longest gaps so far, longest first; among equal ones, the
 * earliest first. */
struct gap_top {
    struct probe_gap *gaps;
    size_t n;
    size_t max;
};

static void
gap_top_offer(struct gap_top *top, const struct probe_gap *gap)
{
    int64_t len = gap_len(gap);
    size_t i;

    if (!top->max
        || (top->n == top->max && len <= gap_len(&top->gaps[top->n - 1]))) {
        return;
    }
    for (i = top->n; i > 0 && gap_len(&top->gaps[i - 1]) < len; i--) {
        continue;
    }
    if (top->n < top->max) {
        top->n++;
    }
    memmove(&top->gaps[i + 1], &top->gaps[i],
            (top->n - 1 - i) * sizeof *top->gaps);
    top->gaps[i] = *gap;
}

/* Returns the index of the first of the 'n' ascending 'values' that is at
 * least 't', or 'n'. */
static size_t
lower_bound(const int64_t *values, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (values[mid] < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo;
}

/* Fills in what 'gap' says about the probes sent within it, from the
 * ascending send times of all probes and of the lost ones.  The gap is
 * [start, end), or [start, end] if it is open: it ends with the last probe
 * sent then. */
static void
gap_describe(struct probe_gap *gap, const int64_t *sends, size_t n_sends,
             const int64_t *lost, size_t n_lost)
{
    int64_t end = gap->end_ns + gap->open;
    size_t lo = lower_bound(sends, n_sends, gap->start_ns);
    size_t hi = lower_bound(sends, n_sends, end);
    int64_t prev = gap->start_ns;

    gap->n_sent = hi - lo;
    gap->n_lost = (lower_bound(lost, n_lost, end)
                   - lower_bound(lost, n_lost, gap->start_ns));
    gap->quiet_ns = 0;
    for (size_t i = lo; i < hi; i++) {
        if (sends[i] - prev > gap->quiet_ns) {
            gap->quiet_ns = sends[i] - prev;
        }
        prev = sends[i];
    }
    if (gap->end_ns - prev > gap->quiet_ns) {
        gap->quiet_ns = gap->end_ns - prev;
    }
}

static void
find_gaps(const struct probe_stats *stats, int64_t end_ns,
          size_t max_gaps, struct probe_stats_result *r)
{
    const struct probe_sample *samples = stats->samples;
    struct arrival *arr;
    int64_t *sends, *lost;
    size_t n_arr = 0, n_lost = 0;
    struct gap_top top;
    struct probe_gap gap;

    top.gaps = probe_xcalloc(max_gaps, sizeof *top.gaps);
    top.n = 0;
    top.max = max_gaps;

    arr = probe_xcalloc(stats->n_answered, sizeof *arr);
    sends = probe_xcalloc(stats->n, sizeof *sends);
    lost = probe_xcalloc(stats->n - stats->n_answered, sizeof *lost);
    for (size_t i = 0; i < stats->n; i++) {
        sends[i] = samples[i].send_ns;
        if (samples[i].n_replies) {
            arr[n_arr].recv_ns = samples[i].recv_ns;
            arr[n_arr].seq = i;
            n_arr++;
        } else {
            lost[n_lost++] = samples[i].send_ns;
        }
    }
    qsort(arr, n_arr, sizeof *arr, compare_arrivals);
    qsort(sends, stats->n, sizeof *sends, compare_i64);
    qsort(lost, n_lost, sizeof *lost, compare_i64);

    /* The leading gap, from the first send to the first reply. */
    memset(&gap, 0, sizeof gap);
    gap.start_ns = sends[0];
    gap.seq_before = -1;
    gap.leading = true;
    if (n_arr) {
        gap.end_ns = arr[0].recv_ns;
        gap.seq_after = arr[0].seq;
    } else {
        gap.end_ns = end_ns > gap.start_ns ? end_ns : gap.start_ns;
        gap.seq_after = -1;
        gap.open = true;
    }
    gap_top_offer(&top, &gap);

    /* Between replies. */
    for (size_t i = 1; i < n_arr; i++) {
        memset(&gap, 0, sizeof gap);
        gap.start_ns = arr[i - 1].recv_ns;
        gap.end_ns = arr[i].recv_ns;
        gap.seq_before = arr[i - 1].seq;
        gap.seq_after = arr[i].seq;
        gap_top_offer(&top, &gap);
    }

    /* Still down at the end. */
    if (n_arr && !samples[stats->n - 1].n_replies) {
        memset(&gap, 0, sizeof gap);
        gap.start_ns = arr[n_arr - 1].recv_ns;
        gap.end_ns = end_ns > gap.start_ns ? end_ns : gap.start_ns;
        gap.seq_before = arr[n_arr - 1].seq;
        gap.seq_after = -1;
        gap.open = true;
        gap_top_offer(&top, &gap);
    }

    for (size_t i = 0; i < top.n; i++) {
        gap_describe(&top.gaps[i], sends, stats->n, lost, n_lost);
    }
    r->gaps = top.gaps;
    r->n_gaps = top.n;

    free(arr);
    free(sends);
    free(lost);
}

static void
find_loss_run(const struct probe_stats *stats, struct probe_loss_run *run)
{
    uint64_t first = 0, count = 0;

    memset(run, 0, sizeof *run);
    for (size_t i = 0; i <= stats->n; i++) {
        if (i < stats->n && !stats->samples[i].n_replies) {
            if (!count++) {
                first = i;
            }
            continue;
        }
        if (count > run->count) {
            run->first_seq = first;
            run->count = count;
        }
        count = 0;
    }
    if (run->count) {
        run->duration_ns = (int64_t) run->count * stats->interval_ns;
        run->start_ns = stats->samples[run->first_seq].send_ns;
    }
}

/* Computes into '*r' everything about the run recorded in 'stats', which
 * ended at 'end_ns' (the end of an open gap: ovn-lm-probe gives the time
 * it sent its last probe), with the 'max_gaps' longest gaps.  The caller
 * must free '*r' with probe_stats_result_destroy(). */
void
probe_stats_finish(const struct probe_stats *stats, int64_t end_ns,
                   size_t max_gaps, struct probe_stats_result *r)
{
    int64_t *rtts;
    size_t n_rtts = 0;

    memset(r, 0, sizeof *r);
    r->n_sent = stats->n;
    r->n_answered = stats->n_answered;
    r->n_lost = stats->n - stats->n_answered;
    r->n_dup_replies = stats->n_dup_replies;
    r->n_dup_seqs = stats->n_dup_seqs;
    r->n_reordered = stats->n_reordered;
    r->n_stray = stats->n_stray;
    r->interval_ns = stats->interval_ns;
    r->end_ns = end_ns;
    r->first_send_ns = r->last_send_ns = PROBE_STATS_NONE;
    if (!stats->n) {
        return;
    }
    r->first_send_ns = stats->samples[0].send_ns;
    r->last_send_ns = stats->samples[stats->n - 1].send_ns;

    find_gaps(stats, end_ns, max_gaps, r);
    find_loss_run(stats, &r->loss_run);

    rtts = probe_xcalloc(stats->n_answered, sizeof *rtts);
    for (size_t i = 0; i < stats->n; i++) {
        const struct probe_sample *s = &stats->samples[i];

        if (s->n_replies) {
            rtts[n_rtts++] = s->recv_ns - s->send_ns;
        }
    }
    probe_stats_dist(rtts, n_rtts, &r->rtt);
    free(rtts);
}

/* Frees what '*r' holds (NULL is fine). */
void
probe_stats_result_destroy(struct probe_stats_result *r)
{
    if (r) {
        free(r->gaps);
        r->gaps = NULL;
        r->n_gaps = 0;
    }
}
