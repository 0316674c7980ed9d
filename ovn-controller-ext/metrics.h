/*
 * metrics: Prometheus text metrics of the daemon on a local address
 * (GET /metrics), served by libmicrohttpd driven from the main poll loop
 * (its epoll fd and timeout; no threads).
 *
 *   ovn_lm_cni_requests_total{command,result}          counter
 *   ovn_lm_cni_request_duration_seconds{command,result} histogram
 *   ovn_lm_migrations_total{outcome}                    counter (finished
 *                                                       by this daemon)
 *   ovn_lm_migration_phase_seconds{phase}               histogram: prepare
 *                                                       (target ADD to
 *                                                       duplication),
 *                                                       activation,
 *                                                       completion
 *   ovn_lm_ports                                        gauge: attachments
 *                                                       on this node
 *   ovn_lm_migrations_in_progress                       gauge: this chassis
 *                                                       is source or target
 *   ovn_lm_database_connected{database}                 gauge
 */
#ifndef METRICS_H
#define METRICS_H 1

#include <stdbool.h>

struct attach_ctx;
struct ds;
struct metrics;

enum metrics_phase {
    METRICS_PHASE_PREPARE,
    METRICS_PHASE_ACTIVATION,
    METRICS_PHASE_COMPLETION,
    METRICS_N_PHASES
};

struct metrics *metrics_create(void);
int metrics_listen(struct metrics *, const char *address);
void metrics_destroy(struct metrics *);
void metrics_run(struct metrics *, const struct attach_ctx *);
void metrics_wait(struct metrics *);

void metrics_observe_request(struct metrics *, const char *command, bool ok,
                             double seconds);
void metrics_observe_migration(struct metrics *, bool completed,
                               const double phase_seconds[METRICS_N_PHASES]);
void metrics_format(const struct metrics *, const struct attach_ctx *,
                    struct ds *);

#endif /* metrics.h */
