/*
 * test-probe-stats.c: the accounting of ovn-lm-probe (probe-stats), on
 * synthetic runs whose answers are known exactly.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "probe-stats.h"
#include "test.h"

/* Unix times of today's magnitude, so that nothing fits in 32 bits. */
#define T0 INT64_C(1732228200000000000)
#define US INT64_C(1000)
#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

#define RATE_10K (100 * US)     /* Interval at 10 kHz. */
#define RTT (50 * US)

/* Fate of one synthetic probe. */
enum fate {
    ANSWERED,
    LOST,
};

/* A stream at 'interval' from T0 of 'n' probes with round-trip time RTT,
 * in which 'fate(seq)' says which are answered; replies fed in arrival
 * order (which is sequence order here). */
static struct probe_stats *
make_stream(size_t n, int64_t interval, enum fate (*fate)(size_t seq))
{
    struct probe_stats *stats = probe_stats_create(interval);
    size_t n_errors = 0;

    for (size_t i = 0; i < n; i++) {
        n_errors += probe_stats_sent(stats, i, T0 + i * interval) != 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fate || fate(i) == ANSWERED) {
            n_errors += probe_stats_reply(stats, i,
                                          T0 + i * interval + RTT) != 0;
        }
    }
    TEST_EQ_INT(n_errors, 0);
    return stats;
}

static void
test_clean_stream(void)
{
    struct probe_stats *stats = make_stream(10000, RATE_10K, NULL);
    struct probe_stats_result r;

    test_case("clean 10 kHz stream");
    probe_stats_finish(stats, T0 + 9999 * RATE_10K, 5, &r);
    TEST_EQ_INT(r.n_sent, 10000);
    TEST_EQ_INT(r.n_answered, 10000);
    TEST_EQ_INT(r.n_lost, 0);
    TEST_EQ_INT(r.n_dup_replies, 0);
    TEST_EQ_INT(r.n_reordered, 0);
    TEST_EQ_INT(r.n_stray, 0);
    TEST_EQ_INT(r.loss_run.count, 0);
    TEST_EQ_INT(r.loss_run.duration_ns, 0);
    TEST_EQ_INT(r.n_gaps, 5);
    /* Every gap between replies is one interval; the earliest wins. */
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, RATE_10K);
    TEST_EQ_INT(r.gaps[0].seq_before, 0);
    TEST_EQ_INT(r.gaps[0].seq_after, 1);
    TEST_EQ_INT(r.gaps[1].seq_before, 1);
    TEST_CHECK(!r.gaps[0].open && !r.gaps[0].leading);
    TEST_EQ_INT(r.rtt.n, 10000);
    TEST_EQ_INT(r.rtt.min, RTT);
    TEST_EQ_INT(r.rtt.p50, RTT);
    TEST_EQ_INT(r.rtt.max, RTT);
    TEST_EQ_INT(r.first_send_ns, T0);
    TEST_EQ_INT(r.last_send_ns, T0 + 9999 * RATE_10K);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

/* 2 s at 10 kHz; the path drops everything sent in [1.000, 1.050) s. */
static enum fate
hole_50ms(size_t seq)
{
    return seq >= 10000 && seq < 10500 ? LOST : ANSWERED;
}

static void
test_hole(void)
{
    struct probe_stats *stats = make_stream(20000, RATE_10K, hole_50ms);
    struct probe_stats_result r;
    const struct probe_gap *g;

    test_case("10 kHz stream with a 50 ms hole");
    probe_stats_finish(stats, T0 + 19999 * RATE_10K, 3, &r);
    TEST_EQ_INT(r.n_lost, 500);
    TEST_EQ_INT(r.n_answered, 19500);
    g = &r.gaps[0];
    /* From the reply to the last probe before the hole to the reply to
     * the first after it: the hole plus one interval. */
    TEST_EQ_INT(g->start_ns, T0 + 9999 * RATE_10K + RTT);
    TEST_EQ_INT(g->end_ns, T0 + 10500 * RATE_10K + RTT);
    TEST_EQ_INT(g->end_ns - g->start_ns, 50 * MS + RATE_10K);
    TEST_EQ_INT(g->seq_before, 9999);
    TEST_EQ_INT(g->seq_after, 10500);
    TEST_CHECK(!g->open && !g->leading);
    /* Probes 10000-10500 left during the gap; all but the last died. */
    TEST_EQ_INT(g->n_sent, 501);
    TEST_EQ_INT(g->n_lost, 500);
    /* The prober kept sending: its longest silence is one interval. */
    TEST_EQ_INT(g->quiet_ns, RATE_10K);
    /* The rest are ordinary. */
    TEST_EQ_INT(r.gaps[1].end_ns - r.gaps[1].start_ns, RATE_10K);

    /* The loss-based view agrees, without the extra interval. */
    TEST_EQ_INT(r.loss_run.count, 500);
    TEST_EQ_INT(r.loss_run.first_seq, 10000);
    TEST_EQ_INT(r.loss_run.duration_ns, 50 * MS);
    TEST_EQ_INT(r.loss_run.start_ns, T0 + 10000 * RATE_10K);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

/* A paused responder: nothing lost, the probes sent during the pause are
 * answered in a burst when it resumes. */
static void
test_queued(void)
{
    struct probe_stats *stats = probe_stats_create(RATE_10K);
    struct probe_stats_result r;
    int64_t resume = T0 + 10000 * RATE_10K + 50 * MS;

    test_case("pause: replies queued, not lost");
    for (size_t i = 0; i < 20000; i++) {
        probe_stats_sent(stats, i, T0 + i * RATE_10K);
    }
    for (size_t i = 0; i < 20000; i++) {
        int64_t recv = T0 + i * RATE_10K + RTT;

        if (recv > T0 + 10000 * RATE_10K && recv < resume) {
            recv = resume + i % 10000;      /* 1 ns apart, in order. */
        }
        probe_stats_reply(stats, i, recv);
    }
    probe_stats_finish(stats, T0 + 19999 * RATE_10K, 1, &r);
    TEST_EQ_INT(r.n_lost, 0);
    TEST_EQ_INT(r.loss_run.count, 0);
    TEST_EQ_INT(r.n_reordered, 0);
    TEST_EQ_INT(r.gaps[0].start_ns, T0 + 9999 * RATE_10K + RTT);
    TEST_EQ_INT(r.gaps[0].end_ns, resume);
    TEST_EQ_INT(r.gaps[0].seq_before, 9999);
    TEST_EQ_INT(r.gaps[0].seq_after, 10000);
    TEST_EQ_INT(r.gaps[0].n_lost, 0);
    TEST_EQ_INT(r.gaps[0].n_sent, 500);
    /* The queued probes waited up to the whole pause. */
    TEST_EQ_INT(r.rtt.max, resume - (T0 + 10000 * RATE_10K));
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static void
test_duplicates_after_hole(void)
{
    struct probe_stats *stats = make_stream(20000, RATE_10K, hole_50ms);
    struct probe_stats_result r;

    test_case("duplicates after the hole");
    /* Both chassis answer probes 10500-10509 for a while: a second copy
     * of each arrives 10 us after the first. */
    for (size_t i = 10500; i < 10510; i++) {
        TEST_EQ_INT(probe_stats_reply(stats, i,
                                      T0 + i * RATE_10K + RTT + 10 * US),
                    0);
    }
    /* One probe answered three times. */
    probe_stats_reply(stats, 10500, T0 + 10500 * RATE_10K + RTT + 20 * US);
    probe_stats_finish(stats, T0 + 19999 * RATE_10K, 2, &r);
    TEST_EQ_INT(r.n_dup_replies, 11);
    TEST_EQ_INT(r.n_dup_seqs, 10);
    TEST_EQ_INT(r.n_answered, 19500);
    TEST_EQ_INT(r.n_lost, 500);
    TEST_EQ_INT(r.n_reordered, 0);
    /* Duplicates neither shorten nor split the gap. */
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, 50 * MS + RATE_10K);
    TEST_EQ_INT(r.gaps[1].end_ns - r.gaps[1].start_ns, RATE_10K);
    {
        size_t n;
        const struct probe_sample *s = probe_stats_samples(stats, &n);

        TEST_EQ_INT(n, 20000);
        TEST_EQ_INT(s[10500].n_replies, 3);
        TEST_EQ_INT(s[10501].n_replies, 2);
        TEST_EQ_INT(s[10510].n_replies, 1);
        TEST_EQ_INT(s[10000].n_replies, 0);
        /* The first reply is the one that counts. */
        TEST_EQ_INT(s[10500].recv_ns, T0 + 10500 * RATE_10K + RTT);
    }
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static void
test_reordered_pair(void)
{
    struct probe_stats *stats = probe_stats_create(RATE_10K);
    struct probe_stats_result r;

    test_case("reordered pair");
    for (size_t i = 0; i < 10; i++) {
        probe_stats_sent(stats, i, T0 + i * RATE_10K);
    }
    /* Arrival order 0 1 2 3 4 6 5 7 8 9: 5 took a slower path. */
    for (size_t i = 0; i < 10; i++) {
        size_t seq = i == 5 ? 6 : i == 6 ? 5 : i;
        int64_t recv = T0 + i * RATE_10K + RTT;

        TEST_EQ_INT(probe_stats_reply(stats, seq, recv), 0);
    }
    probe_stats_finish(stats, T0 + 9 * RATE_10K, 3, &r);
    TEST_EQ_INT(r.n_reordered, 1);
    TEST_EQ_INT(r.n_lost, 0);
    TEST_EQ_INT(r.n_dup_replies, 0);
    /* Probe 5 waited one interval more, probe 6 one less. */
    TEST_EQ_INT(r.rtt.min, RTT - RATE_10K);
    TEST_EQ_INT(r.rtt.max, RTT + RATE_10K);
    /* Gaps go by arrival time, whatever the sequence numbers. */
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, RATE_10K);
    TEST_EQ_INT(r.gaps[0].seq_before, 0);
    probe_stats_result_destroy(&r);

    /* A late duplicate of an old probe is a duplicate, not a reorder. */
    probe_stats_reply(stats, 2, T0 + 20 * RATE_10K);
    probe_stats_finish(stats, T0 + 9 * RATE_10K, 3, &r);
    TEST_EQ_INT(r.n_reordered, 1);
    TEST_EQ_INT(r.n_dup_replies, 1);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

/* 1 s at 1 kHz; the path dies for good at 0.9 s. */
static enum fate
dies_at_900(size_t seq)
{
    return seq >= 900 ? LOST : ANSWERED;
}

static void
test_loss_at_end(void)
{
    int64_t interval = MS;
    struct probe_stats *stats = make_stream(1000, interval, dies_at_900);
    int64_t end = T0 + 999 * interval;
    struct probe_stats_result r;
    const struct probe_gap *g;

    test_case("loss at the end");
    probe_stats_finish(stats, end, 5, &r);
    TEST_EQ_INT(r.n_lost, 100);
    g = &r.gaps[0];
    TEST_CHECK(g->open);
    TEST_CHECK(!g->leading);
    TEST_EQ_INT(g->start_ns, T0 + 899 * interval + RTT);
    TEST_EQ_INT(g->end_ns, end);
    TEST_EQ_INT(g->seq_before, 899);
    TEST_EQ_INT(g->seq_after, -1);
    TEST_EQ_INT(g->n_lost, 100);
    TEST_EQ_INT(r.loss_run.count, 100);
    TEST_EQ_INT(r.loss_run.first_seq, 900);
    TEST_EQ_INT(r.loss_run.duration_ns, 100 * interval);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static enum fate
first_ten_lost(size_t seq)
{
    return seq < 10 ? LOST : ANSWERED;
}

static enum fate
all_lost(size_t seq)
{
    (void) seq;
    return LOST;
}

static void
test_leading(void)
{
    struct probe_stats *stats = make_stream(100, MS, first_ten_lost);
    struct probe_stats_result r;

    test_case("loss at the start");
    probe_stats_finish(stats, T0 + 99 * MS, 1, &r);
    TEST_CHECK(r.gaps[0].leading);
    TEST_CHECK(!r.gaps[0].open);
    TEST_EQ_INT(r.gaps[0].start_ns, T0);
    TEST_EQ_INT(r.gaps[0].end_ns, T0 + 10 * MS + RTT);
    TEST_EQ_INT(r.gaps[0].seq_before, -1);
    TEST_EQ_INT(r.gaps[0].seq_after, 10);
    TEST_EQ_INT(r.loss_run.first_seq, 0);
    TEST_EQ_INT(r.loss_run.count, 10);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);

    test_case("nothing answered");
    stats = make_stream(100, MS, all_lost);
    probe_stats_finish(stats, T0 + 99 * MS, 5, &r);
    TEST_EQ_INT(r.n_gaps, 1);
    TEST_CHECK(r.gaps[0].leading && r.gaps[0].open);
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, 99 * MS);
    TEST_EQ_INT(r.n_lost, 100);
    TEST_EQ_INT(r.rtt.n, 0);
    TEST_EQ_INT(r.rtt.p50, 0);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);

    test_case("nothing sent");
    stats = probe_stats_create(MS);
    probe_stats_finish(stats, T0, 5, &r);
    TEST_EQ_INT(r.n_sent, 0);
    TEST_EQ_INT(r.n_gaps, 0);
    TEST_EQ_INT(r.first_send_ns, PROBE_STATS_NONE);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static void
test_prober_stall(void)
{
    struct probe_stats *stats = probe_stats_create(RATE_10K);
    struct probe_stats_result r;
    size_t seq = 0;

    /* The prober sends nothing for 20 ms (its machine was busy): the
     * reply gap is real but the prober's, which 'quiet_ns' shows. */
    test_case("prober stall");
    for (size_t i = 0; i < 2000; i++) {
        int64_t t = T0 + i * RATE_10K + (i >= 1000 ? 20 * MS : 0);

        probe_stats_sent(stats, seq, t);
        probe_stats_reply(stats, seq, t + RTT);
        seq++;
    }
    probe_stats_finish(stats, T0 + SEC, 1, &r);
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, 20 * MS + RATE_10K);
    TEST_EQ_INT(r.gaps[0].n_sent, 1);
    TEST_EQ_INT(r.gaps[0].quiet_ns, 20 * MS + RATE_10K - RTT);
    TEST_EQ_INT(r.n_lost, 0);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static void
test_top_gaps(void)
{
    static const int64_t lens_ms[] = { 3, 7, 5, 7, 1, 9, 2 };
    struct probe_stats *stats = probe_stats_create(MS);
    struct probe_stats_result r;
    int64_t t = T0;

    /* Replies at these distances; sends at the same times. */
    test_case("top gaps, ties earliest first");
    for (size_t i = 0; i <= (sizeof lens_ms / sizeof *lens_ms); i++) {
        probe_stats_sent(stats, i, t);
        probe_stats_reply(stats, i, t);
        if (i < (sizeof lens_ms / sizeof *lens_ms)) {
            t += lens_ms[i] * MS;
        }
    }
    probe_stats_finish(stats, t, 4, &r);
    TEST_EQ_INT(r.n_gaps, 4);
    TEST_EQ_INT(r.gaps[0].end_ns - r.gaps[0].start_ns, 9 * MS);
    TEST_EQ_INT(r.gaps[0].seq_before, 5);
    TEST_EQ_INT(r.gaps[1].end_ns - r.gaps[1].start_ns, 7 * MS);
    TEST_EQ_INT(r.gaps[1].seq_before, 1);
    TEST_EQ_INT(r.gaps[2].end_ns - r.gaps[2].start_ns, 7 * MS);
    TEST_EQ_INT(r.gaps[2].seq_before, 3);
    TEST_EQ_INT(r.gaps[3].end_ns - r.gaps[3].start_ns, 5 * MS);
    probe_stats_result_destroy(&r);

    probe_stats_finish(stats, t, 1, &r);
    TEST_EQ_INT(r.n_gaps, 1);
    TEST_EQ_INT(r.gaps[0].seq_before, 5);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
}

static void
test_bad_input(void)
{
    struct probe_stats *stats = probe_stats_create(MS);
    struct probe_stats_result r;

    test_case("bad input");
    TEST_EQ_INT(probe_stats_sent(stats, 1, T0), EINVAL);
    TEST_EQ_INT(probe_stats_sent(stats, 0, T0), 0);
    TEST_EQ_INT(probe_stats_sent(stats, 0, T0), EINVAL);
    TEST_EQ_INT(probe_stats_sent(stats, 1, PROBE_STATS_NONE), EINVAL);
    TEST_EQ_INT(probe_stats_reply(stats, 1, T0), ENOENT);
    TEST_EQ_INT(probe_stats_reply(stats, UINT64_MAX, T0), ENOENT);
    TEST_EQ_INT(probe_stats_reply(stats, 0, PROBE_STATS_NONE), EINVAL);
    TEST_EQ_INT(probe_stats_reply(stats, 0, T0 + RTT), 0);
    probe_stats_finish(stats, T0, 5, &r);
    TEST_EQ_INT(r.n_stray, 2);
    TEST_EQ_INT(r.n_sent, 1);
    TEST_EQ_INT(r.n_answered, 1);
    probe_stats_result_destroy(&r);
    probe_stats_destroy(stats);
    probe_stats_destroy(NULL);
    probe_stats_result_destroy(NULL);
}

static void
shuffle(int64_t *v, size_t n, unsigned int seed)
{
    srand(seed);
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t) rand() % i;
        int64_t tmp = v[i - 1];

        v[i - 1] = v[j];
        v[j] = tmp;
    }
}

static void
test_percentiles(void)
{
    int64_t v[1000];
    struct probe_dist d;

    test_case("percentiles of 1..1000");
    for (size_t i = 0; i < 1000; i++) {
        v[i] = i + 1;
    }
    shuffle(v, 1000, 42);
    probe_stats_dist(v, 1000, &d);
    TEST_EQ_INT(d.n, 1000);
    TEST_EQ_INT(d.min, 1);
    TEST_EQ_INT(d.p50, 500);
    TEST_EQ_INT(d.p90, 900);
    TEST_EQ_INT(d.p99, 990);
    TEST_EQ_INT(d.p999, 999);
    TEST_EQ_INT(d.max, 1000);
    TEST_CHECK(d.mean == 500.5);

    test_case("percentiles of 10 values");
    for (size_t i = 0; i < 10; i++) {
        v[i] = (i + 1) * 10;
    }
    shuffle(v, 10, 7);
    probe_stats_dist(v, 10, &d);
    TEST_EQ_INT(d.p50, 50);         /* 5th of 10. */
    TEST_EQ_INT(d.p90, 90);         /* 9th. */
    TEST_EQ_INT(d.p99, 100);        /* ceil(9.9) = 10th. */
    TEST_EQ_INT(d.p999, 100);
    TEST_EQ_INT(probe_stats_rank(v, 10, 0), 10);
    TEST_EQ_INT(probe_stats_rank(v, 10, 100000), 10);
    TEST_EQ_INT(probe_stats_rank(v, 10, 100001), 20);
    TEST_EQ_INT(probe_stats_rank(v, 10, 2000000), 100);

    test_case("percentiles of one value, and of none");
    v[0] = -5;
    probe_stats_dist(v, 1, &d);
    TEST_CHECK(d.min == -5 && d.p50 == -5 && d.p999 == -5 && d.max == -5);
    probe_stats_dist(v, 0, &d);
    TEST_CHECK(d.n == 0 && d.min == 0 && d.max == 0 && d.mean == 0);

    test_case("RTT percentiles through the accounting");
    {
        struct probe_stats *stats = probe_stats_create(MS);
        struct probe_stats_result r;

        /* RTT of probe i is (i + 1) us: 1..1000 us. */
        for (size_t i = 0; i < 1000; i++) {
            probe_stats_sent(stats, i, T0 + i * MS);
        }
        for (size_t i = 0; i < 1000; i++) {
            probe_stats_reply(stats, i, T0 + i * MS + (i + 1) * US);
        }
        probe_stats_finish(stats, T0 + SEC, 1, &r);
        TEST_EQ_INT(r.rtt.min, 1 * US);
        TEST_EQ_INT(r.rtt.p50, 500 * US);
        TEST_EQ_INT(r.rtt.p90, 900 * US);
        TEST_EQ_INT(r.rtt.p99, 990 * US);
        TEST_EQ_INT(r.rtt.p999, 999 * US);
        TEST_EQ_INT(r.rtt.max, 1000 * US);
        probe_stats_result_destroy(&r);
        probe_stats_destroy(stats);
    }
    test_case(NULL);
}

int
main(void)
{
    test_clean_stream();
    test_hole();
    test_queued();
    test_duplicates_after_hole();
    test_reordered_pair();
    test_loss_at_end();
    test_leading();
    test_prober_stall();
    test_top_gaps();
    test_bad_input();
    test_percentiles();
    return test_summary();
}
