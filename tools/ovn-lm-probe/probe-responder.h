/*
 * probe-responder.h: the UDP echo side of ovn-lm-probe.
 *
 * Sends every probe it receives straight back to where it came from, with
 * the reply flag set, and ignores everything else.  Two test options make
 * it misbehave on purpose, so that the prober's accounting can be checked
 * against a known truth: 'copies' answers each probe more than once, and
 * a pause stops answering for an exact time.  The pause starts right after
 * the first reply sent 'pause_after_ns' after the first probe arrived,
 * and ends by sleeping on CLOCK_MONOTONIC until an absolute deadline
 * 'pause_ns' later (the last stretch spinning), after which the probes
 * that queued up meanwhile are answered.  The responder then logs the
 * truth: the time between its last reply before the pause and its first
 * reply after it.
 */
#ifndef PROBE_RESPONDER_H
#define PROBE_RESPONDER_H 1

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

struct probe_responder_config {
    struct sockaddr_storage bind_addr;
    socklen_t bind_len;
    unsigned int copies;        /* Replies per probe, at least 1. */
    int64_t pause_after_ns;     /* Negative: never pause. */
    int64_t pause_ns;
    int64_t duration_ns;        /* 0: until 'stop_fd' is readable. */
    int stop_fd;                /* E.g. a signalfd, or -1. */
    FILE *log;                  /* For the pause's truth, or NULL. */
};

struct probe_responder_stats {
    uint64_t n_probes;          /* Probes answered. */
    uint64_t n_replies;         /* Replies sent. */
    uint64_t n_ignored;         /* Datagrams that were not probes. */
    uint64_t n_send_errors;

    /* The pause, if there was one ('paused' set). */
    int paused;
    int64_t pause_ns;           /* How long it slept. */
    int64_t last_before_ns;     /* CLOCK_REALTIME of the last reply before
                                 * the pause... */
    int64_t first_after_ns;     /* ...and of the first one after it. */
};

int probe_responder_run(const struct probe_responder_config *,
                        struct probe_responder_stats *, char **errorp);

#endif /* probe-responder.h */
