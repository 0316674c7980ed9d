/*
 * ovn-controller-ext: the ovn-lm node daemon.  It runs beside
 * ovn-controller, answers the `ovn-lm` CNI binary on a unix socket, and
 * attaches pods to OVN (see attach.h).
 *
 * One thread, one loop: OVS's poll loop is outermost (the OVSDB IDLs and
 * unixctl live there) and libuv, which serves the CNI socket, is embedded in
 * it: each pass runs libuv without blocking and then waits on libuv's
 * backend fd and timeout along with everything else.
 *
 * SIGTERM (how Kubernetes stops a pod), SIGINT and `ovs-appctl exit` all
 * drain: the CNI socket goes away at once, so that new requests fail to
 * connect and the runtime retries them against the next daemon, while
 * the requests already accepted and the migration transactions in flight
 * finish, for up to --drain-timeout; what is left then is answered "try
 * again later" and left in place for the next daemon to resume.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "attach.h"
#include "cni-request.h"
#include "cni-server.h"
#include "command-line.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "kube-config.h"
#include "kube-sync.h"
#include "lib/ovn-nb-idl.h"
#include "lib/ovn-sb-idl.h"
#include "lib/vswitch-idl.h"
#include "metrics.h"
#include "migration.h"
#include "nb-port.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovn-lm-proto.h"
#include "ovs-port.h"
#include "ovsdb-idl.h"
#include "timeval.h"
#include "pod-net.h"
#include "stream-ssl.h"
#include "stream.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovn_controller_ext);

/* Seconds.  An ADD may wait readyTimeout (20 s in manifests/configmap.yaml)
 * for ovn-installed, and the kubelet sends SIGKILL after the pod's
 * terminationGracePeriodSeconds (30 in manifests/daemonset.yaml): room for
 * the first, a margin before the second. */
#define EXT_DRAIN_TIMEOUT_DEFAULT 25

/* Command-line settings. */
struct ext_options {
    char *ovs_remote;
    char *nb_remote;
    char *sb_remote;            /* NULL: follow external_ids:ovn-remote. */
    char *socket_path;
    unsigned int socket_mode;
    char *chassis;              /* NULL: external_ids:system-id. */
    char *unixctl_path;
    long long int migration_timeout_ms;
    long long int drain_timeout_ms;
    char *metrics_address;      /* NULL: no metrics. */

    /* Kubernetes. */
    enum { KUBE_AUTO, KUBE_IN_CLUSTER, KUBE_OFF } kubernetes;
    char *kubeconfig;
    char *kube_sa_dir;
    char *node_name;
};

/* Everything the main loop owns. */
/* What ovn-lm/connection-status tells of one database connection beyond
 * "connected": how often it was made again after the first time (a Raft
 * leader change, a server restart, a partition), and when it last changed.
 * The IDL follows the leader of a clustered database by itself
 * (leader-only); this makes the change visible. */
struct ext_db_link {
    bool connected;
    bool ever_connected;
    unsigned int reconnections;
    long long int changed;      /* time_msec() of the last change, or 0. */
};

struct ext_daemon {
    struct ext_options opts;
    uv_loop_t loop;
    struct cni_server *server;
    struct attach *attach;
    struct migration *migration;
    struct metrics *metrics;
    struct kube_sync *kube;     /* NULL: Kubernetes is not used. */
    struct attach_ctx ctx;      /* For control commands. */

    struct ovsdb_idl *ovs_idl;
    struct ovsdb_idl *nb_idl;
    struct ovsdb_idl *sb_idl;
    char *sb_remote_in_use;
    struct ovsdb_idl_index *sb_pb_by_lport;
    struct ovs_port_indexes ovs_ix;
    struct nb_port_indexes nb_ix;

    char *chassis;
    char *bridge;
    int default_mtu;
    unsigned int ovs_seqno;     /* Open_vSwitch contents last looked at. */
    struct ext_db_link ovs_link, nb_link, sb_link;

    /* Exit. */
    uv_signal_t sigterm, sigint;
    const char *exit_reason;    /* Asked to exit, by what; NULL: not yet. */
    bool exiting;               /* Draining. */
    long long int drain_start;  /* time_msec() at the request. */
    long long int drain_deadline;
    unsigned int drain_n_jobs;  /* Requests in progress at the request. */
};

static void parse_options(int argc, char *argv[], struct ext_options *);
static void usage(void) OVS_NO_RETURN;
static void register_unixctl(struct unixctl_server *, struct ext_daemon *);
static void start_kube(struct ext_daemon *);
static void db_link_update(struct ext_db_link *, const char *name,
                           struct ovsdb_idl *);

static void
cni_request_cb(struct cni_server_conn *conn, const char *buf, size_t len,
               void *aux)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct ext_daemon *d = aux;
    struct cni_request req;

    char *error = cni_request_parse(buf, len, &req);
    if (error) {
        VLOG_WARN_RL(&rl, "bad CNI request: %s", error);
        cni_server_reply(conn, cni_response_error(
                             OVN_LM_CNI_DECODE_FAILURE, error, NULL));
        free(error);
        cni_request_destroy(&req);
        return;
    }
    /* While draining too: the connection was accepted before the socket
     * went away, so the request is one in flight. */
    attach_submit(d->attach, conn, &req);
}

static void
signal_cb(uv_signal_t *handle, int signum)
{
    struct ext_daemon *d = handle->data;

    if (!d->exit_reason) {
        d->exit_reason = signum == SIGTERM ? "SIGTERM" : "SIGINT";
    } else {
        VLOG_INFO("%s: already exiting, %u requests left (SIGKILL stops at "
                  "once)", signum == SIGTERM ? "SIGTERM" : "SIGINT",
                  attach_n_jobs(d->attach));
    }
}

/* Takes SIGTERM and SIGINT from OVS's fatal-signal module, which would
 * exit from the next poll_block() without a drain.  libuv's handler only
 * wakes the loop; signal_cb() runs from uv_run(). */
static void
signals_init(struct ext_daemon *d)
{
    uv_signal_t *handles[] = { &d->sigterm, &d->sigint };
    int signums[] = { SIGTERM, SIGINT };

    for (size_t i = 0; i < ARRAY_SIZE(handles); i++) {
        uv_signal_init(&d->loop, handles[i]);
        handles[i]->data = d;
        int error = uv_signal_start(handles[i], signal_cb, signums[i]);
        if (error) {
            ovs_fatal(0, "cannot handle signal %d: %s", signums[i],
                      uv_strerror(error));
        }
    }
}

/* Starts the drain once something asked the daemon to exit. */
static void
drain_begin(struct ext_daemon *d)
{
    if (!d->exit_reason || d->exiting) {
        return;
    }
    d->exiting = true;
    d->drain_start = time_msec();
    d->drain_deadline = d->drain_start + d->opts.drain_timeout_ms;
    cni_server_stop(d->server);
    attach_drain(d->attach);
    d->drain_n_jobs = attach_n_jobs(d->attach);
    VLOG_INFO("%s: exiting: finishing %u requests and %"PRIuSIZE" migration "
              "transactions, for up to %.1f s", d->exit_reason,
              d->drain_n_jobs, migration_n_pending(d->migration),
              d->opts.drain_timeout_ms / 1000.0);
}

/* Whether the drain is over: nothing in flight, every reply written. */
static bool
drain_done(const struct ext_daemon *d)
{
    return (!attach_n_jobs(d->attach)
            && !migration_n_pending(d->migration)
            && !cni_server_n_conns(d->server));
}

/* Lets libuv finish what the loop still holds (replies being written,
 * handles being closed: their close callbacks free them), for a second at
 * most, then closes whatever is left. */
static void
ext_loop_finish(uv_loop_t *loop)
{
    long long int deadline = time_msec() + 1000;

    while (uv_run(loop, UV_RUN_NOWAIT) && time_msec() < deadline) {
        struct pollfd pfd = { .fd = uv_backend_fd(loop), .events = POLLIN };
        int timeout = uv_backend_timeout(loop);
        poll(&pfd, 1, timeout < 0 || timeout > 10 ? 10 : timeout);
    }
    int error = uv_loop_close(loop);
    if (error) {
        VLOG_WARN("libuv loop still busy at exit: %s", uv_strerror(error));
    }
}

/* Reads what the Open_vSwitch table says about this chassis and follows
 * changes of the Southbound remote, as ovn-controller does. */
static void
update_system(struct ext_daemon *d)
{
    struct ovs_port_system sys;

    unsigned int seqno = ovsdb_idl_get_seqno(d->ovs_idl);
    if (seqno == d->ovs_seqno) {
        return;
    }
    d->ovs_seqno = seqno;
    ovs_port_get_system(d->ovs_idl, &sys);

    const char *chassis = d->opts.chassis ? d->opts.chassis : sys.chassis;
    if (chassis && (!d->chassis || strcmp(chassis, d->chassis))) {
        VLOG_INFO("chassis name: %s", chassis);
        free(d->chassis);
        d->chassis = xstrdup(chassis);
    }
    if (!d->bridge || strcmp(d->bridge, sys.bridge)) {
        free(d->bridge);
        d->bridge = xstrdup(sys.bridge);
    }

    struct pod_net_addr encap;
    char *encap_s = sys.encap_ip ? xasprintf("%s/32", sys.encap_ip) : NULL;
    int mtu;
    if (encap_s && !pod_net_addr_parse(encap_s, &encap)
        && !pod_net_addr_mtu(&encap, &mtu)
        && mtu - OVN_LM_GENEVE_OVERHEAD >= 68
        && mtu - OVN_LM_GENEVE_OVERHEAD != d->default_mtu) {
        d->default_mtu = mtu - OVN_LM_GENEVE_OVERHEAD;
        VLOG_INFO("default pod MTU %d (underlay %s has MTU %d)",
                  d->default_mtu, sys.encap_ip, mtu);
    }
    free(encap_s);

    const char *sb_remote = d->opts.sb_remote ? d->opts.sb_remote
                                              : sys.sb_remote;
    if (sb_remote && (!d->sb_remote_in_use
                      || strcmp(sb_remote, d->sb_remote_in_use))) {
        free(d->sb_remote_in_use);
        d->sb_remote_in_use = xstrdup(sb_remote);
        if (!d->sb_idl) {
            d->sb_idl = ovsdb_idl_create(sb_remote, &sbrec_idl_class, false,
                                         true);
            /* Read only, as ovn-controller reads it: any member of a
             * clustered Southbound will do, so a leader change is no
             * reconnection.  (Northbound is written: leader only.) */
            ovsdb_idl_set_leader_only(d->sb_idl, false);
            ovsdb_idl_add_table(d->sb_idl, &sbrec_table_chassis);
            ovsdb_idl_add_column(d->sb_idl, &sbrec_chassis_col_name);
            ovsdb_idl_add_column(d->sb_idl, &sbrec_chassis_col_hostname);
            /* Migrations watch options:additional-chassis-activated. */
            ovsdb_idl_add_table(d->sb_idl, &sbrec_table_port_binding);
            ovsdb_idl_add_column(d->sb_idl,
                                 &sbrec_port_binding_col_logical_port);
            ovsdb_idl_add_column(d->sb_idl, &sbrec_port_binding_col_chassis);
            ovsdb_idl_add_column(
                d->sb_idl, &sbrec_port_binding_col_additional_chassis);
            ovsdb_idl_add_column(d->sb_idl, &sbrec_port_binding_col_options);
            ovsdb_idl_add_column(d->sb_idl, &sbrec_port_binding_col_up);
            d->sb_pb_by_lport = ovsdb_idl_index_create1(
                d->sb_idl, &sbrec_port_binding_col_logical_port);
        } else {
            ovsdb_idl_set_remote(d->sb_idl, sb_remote, true);
        }
        VLOG_INFO("OVN Southbound remote: %s", sb_remote);
    }
}

static void fill_ctx(const struct ext_daemon *, struct attach_ctx *);

static const struct attach_ctx *
get_ctx(void *d_)
{
    struct ext_daemon *d = d_;
    fill_ctx(d, &d->ctx);
    return &d->ctx;
}

static void
fill_ctx(const struct ext_daemon *d, struct attach_ctx *ctx)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->ovs_idl = d->ovs_idl;
    ctx->nb_idl = d->nb_idl;
    ctx->sb_idl = d->sb_idl;
    ctx->sb_pb_by_lport = d->sb_pb_by_lport;
    ctx->migration = d->migration;
    ctx->metrics = d->metrics;
    ctx->kube = d->kube;
    ctx->ovs_ix = &d->ovs_ix;
    ctx->nb_ix = &d->nb_ix;
    ctx->chassis = d->chassis;
    ctx->default_bridge = d->bridge;
    ctx->default_mtu = d->default_mtu;
}

int
main(int argc, char *argv[])
{
    struct ext_daemon d;
    struct unixctl_server *unixctl;
    int error;

    memset(&d, 0, sizeof d);
    set_program_name(argv[0]);
    service_start(&argc, &argv);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels(NULL, VLF_FILE, VLL_INFO);
    parse_options(argc, argv, &d.opts);

    daemonize_start(false);

    error = unixctl_server_create(d.opts.unixctl_path, &unixctl);
    if (error) {
        ovs_fatal(error, "failed to create unixctl server");
    }
    register_unixctl(unixctl, &d);

    d.default_mtu = 1500 - OVN_LM_GENEVE_OVERHEAD;
    d.ovs_idl = ovsdb_idl_create(d.opts.ovs_remote, &ovsrec_idl_class, false,
                                 true);
    ovs_port_idl_register(d.ovs_idl, &d.ovs_ix);
    d.nb_idl = ovsdb_idl_create(d.opts.nb_remote, &nbrec_idl_class, false,
                                true);
    nb_port_idl_register(d.nb_idl, &d.nb_ix);

    uv_loop_init(&d.loop);
    signals_init(&d);
    d.attach = attach_create();
    d.migration = migration_create(d.opts.migration_timeout_ms);
    d.metrics = metrics_create();
    if (d.opts.metrics_address
        && metrics_listen(d.metrics, d.opts.metrics_address)) {
        ovs_fatal(0, "cannot serve metrics on %s", d.opts.metrics_address);
    }
    migration_unixctl_register(d.migration, get_ctx, &d);
    start_kube(&d);
    error = cni_server_create(&d.loop, d.opts.socket_path, d.opts.socket_mode,
                              cni_request_cb, &d, &d.server);
    if (error) {
        ovs_fatal(error, "cannot serve CNI requests on %s",
                  d.opts.socket_path);
    }

    daemonize_complete();
    VLOG_INFO("ovn-controller-ext %s started (Open_vSwitch %s, "
              "Northbound %s)", PROJECT_VERSION_STRING, d.opts.ovs_remote,
              d.opts.nb_remote);

    for (;;) {
        struct attach_ctx ctx;

        ovsdb_idl_run(d.ovs_idl);
        ovsdb_idl_run(d.nb_idl);
        if (d.sb_idl) {
            ovsdb_idl_run(d.sb_idl);
        }
        db_link_update(&d.ovs_link, "Open_vSwitch", d.ovs_idl);
        db_link_update(&d.nb_link, "OVN_Northbound", d.nb_idl);
        db_link_update(&d.sb_link, "OVN_Southbound", d.sb_idl);
        update_system(&d);
        unixctl_server_run(unixctl);

        uv_run(&d.loop, UV_RUN_NOWAIT);
        drain_begin(&d);

        fill_ctx(&d, &ctx);
        if (d.kube) {
            kube_sync_run(d.kube, &ctx);
        }
        attach_run(d.attach, &ctx);
        migration_run(d.migration, &ctx);
        metrics_run(d.metrics, &ctx);

        /* Run libuv again so that replies queued above are written now,
         * not one wake-up later. */
        uv_run(&d.loop, UV_RUN_NOWAIT);

        if (d.exiting && drain_done(&d)) {
            VLOG_INFO("drained in %lld ms: every request answered",
                      time_msec() - d.drain_start);
            break;
        } else if (d.exiting && time_msec() >= d.drain_deadline) {
            unsigned int n = attach_n_jobs(d.attach);
            char *why = xasprintf("the request did not finish within the "
                                  "drain timeout (%.1f s)",
                                  d.opts.drain_timeout_ms / 1000.0);
            VLOG_WARN("drain timeout (%.1f s): abandoning %u requests and "
                      "%"PRIuSIZE" migration transactions",
                      d.opts.drain_timeout_ms / 1000.0, n,
                      migration_n_pending(d.migration));
            attach_abort(d.attach, why);
            migration_abort(d.migration, "drain timeout");
            free(why);
            break;
        }

        ovsdb_idl_wait(d.ovs_idl);
        ovsdb_idl_wait(d.nb_idl);
        if (d.sb_idl) {
            ovsdb_idl_wait(d.sb_idl);
        }
        unixctl_server_wait(unixctl);
        attach_wait(d.attach, &ctx);
        migration_wait(d.migration, &ctx);
        metrics_wait(d.metrics);
        if (d.kube) {
            kube_sync_wait(d.kube, &ctx);
        }
        poll_fd_wait(uv_backend_fd(&d.loop), POLLIN);
        /* A loop with nothing active says "timeout 0": asking for that
         * would spin. */
        int timeout = uv_loop_alive(&d.loop) ? uv_backend_timeout(&d.loop)
                                             : -1;
        if (timeout >= 0) {
            poll_timer_wait(timeout);
        }
        if (d.exiting) {
            poll_timer_wait_until(d.drain_deadline);
        }
        poll_block();
    }

    VLOG_INFO("exiting");
    cni_server_destroy(d.server);
    attach_destroy(d.attach);
    migration_destroy(d.migration);
    metrics_destroy(d.metrics);
    kube_sync_destroy(d.kube);
    uv_close((uv_handle_t *) &d.sigterm, NULL);
    uv_close((uv_handle_t *) &d.sigint, NULL);
    ext_loop_finish(&d.loop);
    unixctl_server_destroy(unixctl);
    ovsdb_idl_destroy(d.ovs_idl);
    ovsdb_idl_destroy(d.nb_idl);
    ovsdb_idl_destroy(d.sb_idl);
    free(d.sb_remote_in_use);
    free(d.chassis);
    free(d.bridge);
    free(d.opts.ovs_remote);
    free(d.opts.nb_remote);
    free(d.opts.sb_remote);
    free(d.opts.socket_path);
    free(d.opts.chassis);
    free(d.opts.unixctl_path);
    free(d.opts.metrics_address);
    free(d.opts.kubeconfig);
    free(d.opts.kube_sa_dir);
    free(d.opts.node_name);
    service_stop();
    return 0;
}

/* Starts watching Kubernetes if the options say so. */
static void
start_kube(struct ext_daemon *d)
{
    const struct ext_options *o = &d->opts;
    if (o->kubernetes == KUBE_OFF
        || (o->kubernetes == KUBE_AUTO && !o->kubeconfig
            && !getenv("KUBERNETES_SERVICE_HOST"))) {
        VLOG_INFO("Kubernetes: not used");
        return;
    }
    struct kube_sync_options ko = {
        .kubeconfig = o->kubeconfig,
        .sa_dir = o->kube_sa_dir,
        .node_name = o->node_name,
        .user_agent = "ovn-controller-ext/" PROJECT_VERSION_STRING,
    };
    char *error = kube_sync_create(&ko, &d->kube);
    if (error) {
        ovs_fatal(0, "Kubernetes: %s", error);
    }
}

/* unixctl commands. */

static void
ext_unixctl_kube_status(struct unixctl_conn *conn, int argc OVS_UNUSED,
                        const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!d->kube) {
        unixctl_command_reply(conn, "Kubernetes: not used\n");
        return;
    }
    kube_sync_format_status(d->kube, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ext_unixctl_kube_migrations(struct unixctl_conn *conn, int argc OVS_UNUSED,
                            const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct attach_ctx ctx;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!d->kube) {
        unixctl_command_reply_error(conn, "Kubernetes is not used");
        return;
    }
    fill_ctx(d, &ctx);
    kube_sync_format_migrations(d->kube, &ctx, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ext_unixctl_exit(struct unixctl_conn *conn, int argc OVS_UNUSED,
                 const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    if (!d->exit_reason) {
        d->exit_reason = "exit command";
    }
    unixctl_command_reply(conn, NULL);
}

static void
ext_unixctl_list_ports(struct unixctl_conn *conn, int argc OVS_UNUSED,
                       const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct attach_ctx ctx;
    struct ds s = DS_EMPTY_INITIALIZER;

    fill_ctx(d, &ctx);
    attach_format_ports(&ctx, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ext_unixctl_list_requests(struct unixctl_conn *conn, int argc OVS_UNUSED,
                          const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct ds s = DS_EMPTY_INITIALIZER;

    attach_format_jobs(d->attach, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ext_unixctl_stats(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct ds s = DS_EMPTY_INITIALIZER;

    attach_format_stats(d->attach, &s);
    ds_put_format(&s, "connections=%u requests-in-progress=%u\n",
                  cni_server_n_conns(d->server), attach_n_jobs(d->attach));
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Follows 'idl''s connection state in 'link'; logs each reconnection. */
static void
db_link_update(struct ext_db_link *link, const char *name,
               struct ovsdb_idl *idl)
{
    bool connected = idl && ovsdb_idl_is_connected(idl);
    if (connected == link->connected) {
        return;
    }
    link->connected = connected;
    link->changed = time_msec();
    if (connected) {
        if (link->ever_connected) {
            link->reconnections++;
            VLOG_INFO("%s: connected again (reconnection %u)", name,
                      link->reconnections);
        }
        link->ever_connected = true;
    } else {
        VLOG_INFO("%s: connection lost", name);
    }
}

static void
put_idl_status(struct ds *s, const char *name, struct ovsdb_idl *idl,
               const char *remote, const struct ext_db_link *link)
{
    ds_put_format(s, "%s: %s (%s)\n", name,
                  !idl ? "not configured"
                  : ovsdb_idl_is_connected(idl) ? "connected"
                  : "not connected", remote ? remote : "-");
    if (idl) {
        ds_put_format(s, "  reconnections: %u", link->reconnections);
        if (link->changed) {
            ds_put_format(s, ", last change %.1f s ago",
                          (time_msec() - link->changed) / 1000.0);
        }
        ds_put_char(s, '\n');
    }
}

static void
ext_unixctl_connection_status(struct unixctl_conn *conn,
                              int argc OVS_UNUSED,
                              const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    struct ds s = DS_EMPTY_INITIALIZER;

    put_idl_status(&s, "Open_vSwitch", d->ovs_idl, d->opts.ovs_remote,
                   &d->ovs_link);
    put_idl_status(&s, "OVN_Northbound", d->nb_idl, d->opts.nb_remote,
                   &d->nb_link);
    put_idl_status(&s, "OVN_Southbound", d->sb_idl, d->sb_remote_in_use,
                   &d->sb_link);
    ds_put_format(&s, "chassis: %s\nbridge: %s\ndefault-mtu: %d\n"
                  "socket: %s\n", d->chassis ? d->chassis : "(unknown)",
                  d->bridge ? d->bridge : "-", d->default_mtu,
                  d->opts.socket_path);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
ext_unixctl_sweep(struct unixctl_conn *conn, int argc OVS_UNUSED,
                  const char *argv[] OVS_UNUSED, void *d_)
{
    struct ext_daemon *d = d_;
    attach_sweep(d->attach, conn);  /* Answers once the sweep is done. */
}

static void
register_unixctl(struct unixctl_server *unixctl OVS_UNUSED,
                 struct ext_daemon *d)
{
    unixctl_command_register("ovn-lm/sweep", "", 0, 0, ext_unixctl_sweep, d);
    unixctl_command_register("exit", "", 0, 0, ext_unixctl_exit, d);
    unixctl_command_register("ovn-lm/list-ports", "", 0, 0,
                             ext_unixctl_list_ports, d);
    unixctl_command_register("ovn-lm/list-requests", "", 0, 0,
                             ext_unixctl_list_requests, d);
    unixctl_command_register("ovn-lm/stats", "", 0, 0, ext_unixctl_stats, d);
    unixctl_command_register("ovn-lm/connection-status", "", 0, 0,
                             ext_unixctl_connection_status, d);
    unixctl_command_register("ovn-lm/kube-status", "", 0, 0,
                             ext_unixctl_kube_status, d);
    unixctl_command_register("ovn-lm/kube-migrations", "", 0, 0,
                             ext_unixctl_kube_migrations, d);
}

/* Options. */

static void
parse_options(int argc, char *argv[], struct ext_options *o)
{
    enum {
        OPT_OVS_DB = UCHAR_MAX + 1,
        OPT_NB_DB,
        OPT_SB_DB,
        OPT_SOCKET,
        OPT_SOCKET_MODE,
        OPT_CHASSIS,
        OPT_UNIXCTL,
        OPT_MIGRATION_TIMEOUT,
        OPT_DRAIN_TIMEOUT,
        OPT_METRICS_ADDRESS,
        OPT_KUBERNETES,
        OPT_KUBECONFIG,
        OPT_KUBE_SA_DIR,
        OPT_NODE_NAME,
        OPT_BOOTSTRAP_CA_CERT,
        OPT_SSL_PROTOCOLS,
        OPT_SSL_CIPHERS,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"ovs-db", required_argument, NULL, OPT_OVS_DB},
        {"ovn-nb-db", required_argument, NULL, OPT_NB_DB},
        {"ovn-sb-db", required_argument, NULL, OPT_SB_DB},
        {"socket", required_argument, NULL, OPT_SOCKET},
        {"socket-mode", required_argument, NULL, OPT_SOCKET_MODE},
        {"chassis", required_argument, NULL, OPT_CHASSIS},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"migration-timeout", required_argument, NULL,
         OPT_MIGRATION_TIMEOUT},
        {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
        {"metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS},
        {"kubernetes", required_argument, NULL, OPT_KUBERNETES},
        {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
        {"kubernetes-sa-dir", required_argument, NULL, OPT_KUBE_SA_DIR},
        {"node-name", required_argument, NULL, OPT_NODE_NAME},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        VLOG_LONG_OPTIONS,
        DAEMON_LONG_OPTIONS,
        STREAM_SSL_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    memset(o, 0, sizeof *o);
    o->socket_mode = 0600;
    o->migration_timeout_ms = 900 * 1000;
    o->drain_timeout_ms = EXT_DRAIN_TIMEOUT_DEFAULT * 1000;
    o->metrics_address = xstrdup("127.0.0.1:9476");
    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case OPT_OVS_DB:
            free(o->ovs_remote);
            o->ovs_remote = xstrdup(optarg);
            break;
        case OPT_NB_DB:
            free(o->nb_remote);
            o->nb_remote = xstrdup(optarg);
            break;
        case OPT_SB_DB:
            free(o->sb_remote);
            o->sb_remote = xstrdup(optarg);
            break;
        case OPT_SOCKET:
            free(o->socket_path);
            o->socket_path = xstrdup(optarg);
            break;
        case OPT_SOCKET_MODE: {
            char *end;
            unsigned long mode = strtoul(optarg, &end, 8);
            if (*end || mode > 0777) {
                ovs_fatal(0, "--socket-mode: \"%s\" is not an octal mode",
                          optarg);
            }
            o->socket_mode = mode;
            break;
        }
        case OPT_CHASSIS:
            free(o->chassis);
            o->chassis = xstrdup(optarg);
            break;
        case OPT_UNIXCTL:
            free(o->unixctl_path);
            o->unixctl_path = xstrdup(optarg);
            break;
        case OPT_METRICS_ADDRESS:
            free(o->metrics_address);
            o->metrics_address = (strcmp(optarg, "none")
                                  ? xstrdup(optarg) : NULL);
            break;
        case OPT_KUBERNETES:
            if (!strcmp(optarg, "auto")) {
                o->kubernetes = KUBE_AUTO;
            } else if (!strcmp(optarg, "in-cluster")) {
                o->kubernetes = KUBE_IN_CLUSTER;
            } else if (!strcmp(optarg, "off")) {
                o->kubernetes = KUBE_OFF;
            } else {
                ovs_fatal(0, "--kubernetes: \"%s\" is not auto, in-cluster "
                          "or off", optarg);
            }
            break;
        case OPT_KUBECONFIG:
            free(o->kubeconfig);
            o->kubeconfig = xstrdup(optarg);
            break;
        case OPT_KUBE_SA_DIR:
            free(o->kube_sa_dir);
            o->kube_sa_dir = xstrdup(optarg);
            break;
        case OPT_NODE_NAME:
            free(o->node_name);
            o->node_name = xstrdup(optarg);
            break;
        case OPT_MIGRATION_TIMEOUT: {
            char *end;
            double secs = strtod(optarg, &end);
            /* Also refuses nan, inf and what would not fit in the ms
             * count (undefined on conversion). */
            if (*end || end == optarg || !(secs >= 0 && secs <= 86400)) {
                ovs_fatal(0, "--migration-timeout: \"%s\" is not a number "
                          "of seconds from 0 to 86400", optarg);
            }
            o->migration_timeout_ms = secs * 1000;
            break;
        }
        case OPT_DRAIN_TIMEOUT: {
            char *end;
            double secs = strtod(optarg, &end);
            if (*end || end == optarg || !(secs >= 0 && secs <= 86400)) {
                ovs_fatal(0, "--drain-timeout: \"%s\" is not a number of "
                          "seconds from 0 to 86400", optarg);
            }
            o->drain_timeout_ms = secs * 1000;
            break;
        }
        case 'h':
            usage();
        case 'V':
            printf("ovn-controller-ext (ovn-lm) %s\n",
                   PROJECT_VERSION_STRING);
            exit(EXIT_SUCCESS);
        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS
        STREAM_SSL_OPTION_HANDLERS
        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);

    if (optind < argc) {
        ovs_fatal(0, "unexpected argument \"%s\" (use --help)", argv[optind]);
    }
    if (!o->ovs_remote) {
        o->ovs_remote = xasprintf("unix:%s/db.sock", ovs_rundir());
    }
    if (!o->nb_remote) {
        const char *env = getenv("OVN_NB_DB");
        const char *rundir = getenv("OVN_RUNDIR");
        o->nb_remote = env ? xstrdup(env)
                       : xasprintf("unix:%s/ovnnb_db.sock",
                                   rundir ? rundir : "/var/run/ovn");
    }
    if (!o->socket_path) {
        o->socket_path = xstrdup(OVN_LM_DEFAULT_SOCKET);
    }
    if (o->kubernetes == KUBE_IN_CLUSTER && o->kubeconfig) {
        ovs_fatal(0, "--kubernetes=in-cluster and --kubeconfig exclude each "
                  "other");
    }
    if (!o->node_name) {
        const char *env = getenv("NODE_NAME");
        o->node_name = nullable_xstrdup(env && env[0] ? env : NULL);
    }
}

static void
usage(void)
{
    printf("%s: the ovn-lm node daemon\n"
           "usage: %s [OPTIONS]\n"
           "\nDatabases:\n"
           "  --ovs-db=REMOTE       Open_vSwitch database "
           "(default: unix:%s/db.sock)\n"
           "  --ovn-nb-db=REMOTE    OVN Northbound database (default: "
           "$OVN_NB_DB or\n"
           "                        unix:$OVN_RUNDIR/ovnnb_db.sock); "
           "comma-separate the\n"
           "                        remotes of a clustered database\n"
           "  --ovn-sb-db=REMOTE    OVN Southbound database (default: "
           "external_ids:ovn-remote)\n"
           "\nNode:\n"
           "  --socket=PATH         CNI socket (default: %s)\n"
           "  --socket-mode=MODE    its file mode, octal (default: 0600)\n"
           "  --chassis=NAME        chassis name (default: "
           "external_ids:system-id)\n"
           "  --unixctl=SOCKET      control socket for ovs-appctl\n"
           "  --migration-timeout=S roll back a migration not activated "
           "within S\n"
           "                        seconds (default: 900; 0: never)\n"
           "  --drain-timeout=S     on SIGTERM, finish requests in flight "
           "for up to S\n"
           "                        seconds (default: %d; keep it under "
           "the pod's\n"
           "                        terminationGracePeriodSeconds)\n"
           "  --metrics-address=IP:PORT  serve Prometheus metrics there "
           "(default:\n"
           "                        127.0.0.1:9476; \"none\": off)\n"
           "\nKubernetes:\n"
           "  --kubernetes=MODE     auto (default: in-cluster when "
           "KUBERNETES_SERVICE_HOST\n"
           "                        is set, or --kubeconfig), in-cluster, "
           "or off\n"
           "  --kubeconfig=FILE     API server and credentials from a "
           "kubeconfig file\n"
           "  --kubernetes-sa-dir=DIR  in-cluster token and CA (default:\n"
           "                        %s)\n"
           "  --node-name=NAME      this node's name (default: $NODE_NAME)\n",
           program_name, program_name, ovs_rundir(), OVN_LM_DEFAULT_SOCKET,
           EXT_DRAIN_TIMEOUT_DEFAULT, KUBE_CONFIG_SA_DIR);
    stream_usage("database", true, true, false);
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help            display this help message\n"
           "  -V, --version         display version information\n");
    exit(EXIT_SUCCESS);
}
