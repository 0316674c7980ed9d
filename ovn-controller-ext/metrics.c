/*
 * Prometheus metrics (see metrics.h).
 */
#include <config.h>
#include "metrics.h"

#include "kube-sync.h"

#include <errno.h>
#include <microhttpd.h>
#include <string.h>

#include "attach.h"
#include "lib/ovn-nb-idl.h"
#include "lib/vswitch-idl.h"
#include "migration.h"
#include "nb-port.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "socket-util.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(metrics);

/* Upper bounds of the histogram buckets, in seconds (+Inf implied). */
static const double metrics_buckets[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
    30, 60,
};
#define N_BUCKETS ARRAY_SIZE(metrics_buckets)

struct metrics_histogram {
    unsigned long long counts[N_BUCKETS];   /* Not cumulative. */
    unsigned long long count;
    double sum;
};

static const char *const metrics_commands[] = {
    "ADD", "DEL", "CHECK", "GC", "STATUS",
};
#define N_COMMANDS ARRAY_SIZE(metrics_commands)

static const char *const metrics_phases[METRICS_N_PHASES] = {
    [METRICS_PHASE_PREPARE] = "prepare",
    [METRICS_PHASE_ACTIVATION] = "activation",
    [METRICS_PHASE_COMPLETION] = "completion",
};

struct metrics {
    struct MHD_Daemon *httpd;
    int epoll_fd;
    const struct attach_ctx *ctx;   /* During metrics_run() only. */

    struct metrics_histogram requests[N_COMMANDS][2];   /* [ok] */
    unsigned long long migrations[2];                    /* [completed] */
    struct metrics_histogram phases[METRICS_N_PHASES];
};

static void
histogram_observe(struct metrics_histogram *h, double value)
{
    size_t i;
    for (i = 0; i < N_BUCKETS && value > metrics_buckets[i]; i++) {
        continue;
    }
    if (i < N_BUCKETS) {
        h->counts[i]++;
    }
    h->count++;
    h->sum += value;
}

static void
histogram_format(struct ds *s, const char *name, const char *labels,
                 const struct metrics_histogram *h)
{
    unsigned long long cumulative = 0;

    for (size_t i = 0; i < N_BUCKETS; i++) {
        cumulative += h->counts[i];
        ds_put_format(s, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels,
                      labels[0] ? "," : "", metrics_buckets[i], cumulative);
    }
    ds_put_format(s, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                  labels[0] ? "," : "", h->count);
    ds_put_format(s, "%s_sum{%s} %.6f\n", name, labels, h->sum);
    ds_put_format(s, "%s_count{%s} %llu\n", name, labels, h->count);
}

struct metrics *
metrics_create(void)
{
    struct metrics *m = xzalloc(sizeof *m);
    m->epoll_fd = -1;
    return m;
}

void
metrics_observe_request(struct metrics *m, const char *command, bool ok,
                        double seconds)
{
    for (size_t i = 0; m && i < N_COMMANDS; i++) {
        if (!strcmp(command, metrics_commands[i])) {
            histogram_observe(&m->requests[i][ok], seconds);
            return;
        }
    }
}

/* Records a migration this daemon finished; 'phase_seconds' entries below
 * zero are phases it never went through (a rollback before activation). */
void
metrics_observe_migration(struct metrics *m, bool completed,
                          const double phase_seconds[METRICS_N_PHASES])
{
    if (!m) {
        return;
    }
    m->migrations[completed]++;
    for (size_t i = 0; i < METRICS_N_PHASES; i++) {
        if (phase_seconds[i] >= 0) {
            histogram_observe(&m->phases[i], phase_seconds[i]);
        }
    }
}

/* Writes the metrics in Prometheus' text format into 's'. */
void
metrics_format(const struct metrics *m, const struct attach_ctx *ctx,
               struct ds *s)
{
    ds_put_cstr(s, "# HELP ovn_lm_cni_requests_total CNI requests answered, "
                "by command and result.\n"
                "# TYPE ovn_lm_cni_requests_total counter\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        for (int ok = 1; ok >= 0; ok--) {
            ds_put_format(s, "ovn_lm_cni_requests_total{command=\"%s\","
                          "result=\"%s\"} %llu\n", metrics_commands[i],
                          ok ? "success" : "error",
                          m->requests[i][ok].count);
        }
    }

    ds_put_cstr(s, "# HELP ovn_lm_cni_request_duration_seconds Time from "
                "a CNI request's arrival to its answer (ADD: until OVN "
                "installed the port).\n"
                "# TYPE ovn_lm_cni_request_duration_seconds histogram\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        for (int ok = 1; ok >= 0; ok--) {
            char labels[64];
            snprintf(labels, sizeof labels,
                     "command=\"%s\",result=\"%s\"", metrics_commands[i],
                     ok ? "success" : "error");
            histogram_format(s, "ovn_lm_cni_request_duration_seconds",
                             labels, &m->requests[i][ok]);
        }
    }

    ds_put_format(s, "# HELP ovn_lm_migrations_total Live migrations this "
                  "daemon finished, by outcome.\n"
                  "# TYPE ovn_lm_migrations_total counter\n"
                  "ovn_lm_migrations_total{outcome=\"completed\"} %llu\n"
                  "ovn_lm_migrations_total{outcome=\"rolled_back\"} %llu\n",
                  m->migrations[1], m->migrations[0]);

    ds_put_cstr(s, "# HELP ovn_lm_migration_phase_seconds Duration of each "
                "phase of the migrations this daemon finished: prepare "
                "(target ADD to duplication on), activation (to the "
                "workload's RARP), completion (to the end).\n"
                "# TYPE ovn_lm_migration_phase_seconds histogram\n");
    for (size_t i = 0; i < METRICS_N_PHASES; i++) {
        char labels[32];
        snprintf(labels, sizeof labels, "phase=\"%s\"", metrics_phases[i]);
        histogram_format(s, "ovn_lm_migration_phase_seconds", labels,
                         &m->phases[i]);
    }

    if (!ctx) {
        return;
    }
    unsigned long long n_ports = 0, n_migrating = 0;
    const struct ovsrec_interface *iface;
    OVSREC_INTERFACE_FOR_EACH (iface, ctx->ovs_idl) {
        n_ports += smap_get(&iface->external_ids,
                            NB_PORT_KEY_CONTAINER) != NULL;
    }
    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        const char *src = smap_get(&lsp->external_ids, MIGRATION_KEY_SRC);
        const char *dst = smap_get(&lsp->external_ids, MIGRATION_KEY_DST);
        n_migrating += (migration_in_progress(lsp) && ctx->chassis
                        && ((src && !strcmp(src, ctx->chassis))
                            || (dst && !strcmp(dst, ctx->chassis))));
    }
    ds_put_format(s, "# HELP ovn_lm_ports Attachments on this node.\n"
                  "# TYPE ovn_lm_ports gauge\n"
                  "ovn_lm_ports %llu\n"
                  "# HELP ovn_lm_migrations_in_progress Migrations this "
                  "chassis is the source or the target of.\n"
                  "# TYPE ovn_lm_migrations_in_progress gauge\n"
                  "ovn_lm_migrations_in_progress %llu\n", n_ports,
                  n_migrating);

    ds_put_cstr(s, "# HELP ovn_lm_database_connected Whether the daemon is "
                "connected to each database.\n"
                "# TYPE ovn_lm_database_connected gauge\n");
    struct {
        const char *name;
        struct ovsdb_idl *idl;
    } dbs[] = {
        { "Open_vSwitch", ctx->ovs_idl },
        { "OVN_Northbound", ctx->nb_idl },
        { "OVN_Southbound", ctx->sb_idl },
    };
    for (size_t i = 0; i < ARRAY_SIZE(dbs); i++) {
        ds_put_format(s, "ovn_lm_database_connected{database=\"%s\"} %d\n",
                      dbs[i].name,
                      dbs[i].idl && ovsdb_idl_is_connected(dbs[i].idl));
    }
    if (ctx->kube) {
        kube_sync_format_metrics(ctx->kube, s);
    }
}

static enum MHD_Result
metrics_http_cb(void *m_, struct MHD_Connection *conn, const char *url,
                const char *method, const char *version OVS_UNUSED,
                const char *upload OVS_UNUSED, size_t *upload_size OVS_UNUSED,
                void **state OVS_UNUSED)
{
    struct metrics *m = m_;
    struct MHD_Response *response;
    unsigned int status;

    if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
        static const char msg[] = "only GET\n";
        status = MHD_HTTP_METHOD_NOT_ALLOWED;
        response = MHD_create_response_from_buffer(
            sizeof msg - 1, (void *) msg, MHD_RESPMEM_PERSISTENT);
    } else if (strcmp(url, "/metrics")) {
        static const char msg[] = "see /metrics\n";
        status = MHD_HTTP_NOT_FOUND;
        response = MHD_create_response_from_buffer(
            sizeof msg - 1, (void *) msg, MHD_RESPMEM_PERSISTENT);
    } else {
        struct ds s = DS_EMPTY_INITIALIZER;
        metrics_format(m, m->ctx, &s);
        size_t len = s.length;
        status = MHD_HTTP_OK;
        response = MHD_create_response_from_buffer(
            len, ds_steal_cstr(&s), MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(response, "Content-Type",
                                "text/plain; version=0.0.4");
    }
    enum MHD_Result ret = MHD_queue_response(conn, status, response);
    MHD_destroy_response(response);
    return ret;
}

/* Serves GET /metrics on 'address' ("IP:PORT", "[IPv6]:PORT").  Returns 0 or
 * a positive errno. */
int
metrics_listen(struct metrics *m, const char *address)
{
    struct sockaddr_storage ss;

    if (!inet_parse_active(address, -1, &ss, false, NULL)) {
        VLOG_ERR("%s: not an IP:PORT address for metrics", address);
        return EINVAL;
    }
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    m->httpd = MHD_start_daemon(flags, 0, NULL, NULL, metrics_http_cb, m,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
                                MHD_OPTION_CONNECTION_LIMIT, 16,
                                MHD_OPTION_CONNECTION_TIMEOUT, 10,
                                MHD_OPTION_END);
    if (!m->httpd) {
        VLOG_ERR("%s: cannot serve metrics", address);
        return EADDRNOTAVAIL;
    }
    const union MHD_DaemonInfo *info
        = MHD_get_daemon_info(m->httpd, MHD_DAEMON_INFO_EPOLL_FD);
    m->epoll_fd = info ? info->epoll_fd : -1;
    VLOG_INFO("serving Prometheus metrics on http://%s/metrics", address);
    return 0;
}

void
metrics_destroy(struct metrics *m)
{
    if (m) {
        if (m->httpd) {
            MHD_stop_daemon(m->httpd);
        }
        free(m);
    }
}

/* Answers the scrapes that are ready; 'ctx' gives the gauges. */
void
metrics_run(struct metrics *m, const struct attach_ctx *ctx)
{
    if (m->httpd) {
        m->ctx = ctx;
        MHD_run(m->httpd);
        m->ctx = NULL;
    }
}

void
metrics_wait(struct metrics *m)
{
    MHD_UNSIGNED_LONG_LONG timeout;

    if (!m->httpd) {
        return;
    }
    if (m->epoll_fd >= 0) {
        poll_fd_wait(m->epoll_fd, POLLIN);
    }
    if (MHD_get_timeout(m->httpd, &timeout) == MHD_YES) {
        poll_timer_wait(MIN(timeout, 10000));
    }
}
