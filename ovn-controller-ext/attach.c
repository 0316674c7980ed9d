/*
 * CNI requests as jobs (see attach.h).
 */
#include <config.h>
#include "attach.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cni-request.h"
#include "cni-server.h"
#include "lib/ovn-nb-idl.h"
#include "lib/ovn-sb-idl.h"
#include "metrics.h"
#include "kube-sync.h"
#include "migration.h"
#include "lib/vswitch-idl.h"
#include "nb-port.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovn-lm-proto.h"
#include "ovs-port.h"
#include "ovsdb-idl.h"
#include "pod-net.h"
#include "port-name.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(attach);

/* How long a request may wait for a database connection before it is
 * answered "try again later". */
#define ATTACH_CONNECT_WAIT_MS 5000

/* How long a teardown (DEL, GC, undo) may take before it gives up. */
#define ATTACH_TEARDOWN_MS 10000

/* Pod annotations for static addresses. */
#define ATTACH_IP_ANNOTATION "ovn-lm.io/ip"
#define ATTACH_MAC_ANNOTATION "ovn-lm.io/mac"

enum job_state {
    JOB_START,
    JOB_MIG_REARM,          /* ADD, target: clearing a stale activation. */
    JOB_MIG_PREPARE,        /* ADD, target: multi-chassis options in flight. */
    JOB_NB_COMMIT,          /* ADD: logical port transaction in flight. */
    JOB_NB_DYNAMIC,         /* ADD: waiting for northd's address. */
    JOB_NB_SECURITY,        /* ADD: port security transaction in flight. */
    JOB_PLUMB,              /* ADD: veth and addresses. */
    JOB_OVS_COMMIT,         /* ADD: OVS port transaction in flight. */
    JOB_WAIT_INSTALLED,     /* ADD: waiting for ovn-installed. */
    JOB_TEARDOWN,           /* DEL, GC or undo: transactions in flight. */
    JOB_DONE,
};

static const char *const job_state_names[] = {
    [JOB_START] = "start",
    [JOB_MIG_REARM] = "migration-rearm",
    [JOB_MIG_PREPARE] = "migration-prepare",
    [JOB_NB_COMMIT] = "nb-commit",
    [JOB_NB_DYNAMIC] = "nb-dynamic-address",
    [JOB_NB_SECURITY] = "nb-port-security",
    [JOB_PLUMB] = "plumb",
    [JOB_OVS_COMMIT] = "ovs-commit",
    [JOB_WAIT_INSTALLED] = "wait-ovn-installed",
    [JOB_TEARDOWN] = "teardown",
    [JOB_DONE] = "done",
};

/* Phases of an ADD, for the latency breakdown. */
enum add_phase {
    PHASE_NB,           /* Logical port committed (and addressed). */
    PHASE_PLUMB,        /* veth and addresses configured. */
    PHASE_OVS,          /* OVS port committed. */
    PHASE_INSTALLED,    /* ovn-installed seen. */
    N_PHASES
};

struct job {
    struct ovs_list node;           /* In attach's 'jobs'. */
    struct cni_request req;
    struct cni_server_conn *conn;
    enum job_state state;
    bool kube_filled;               /* Pod metadata from Kubernetes in. */
    long long int started;          /* time_msec(). */
    long long int started_us;       /* time_usec(), for phase timing. */
    long long int deadline;
    long long int phase_us[N_PHASES];
    unsigned int retry_seqno;       /* Retry when the IDL moves past it. */
    unsigned int composed_seqno;    /* IDL contents the txn was built on. */
    bool retry_armed;
    int n_retries;

    /* ADD. */
    char *lport;
    char host_ifname[POD_NET_IFNAMSIZ];
    const char *ls_name;            /* Points into 'req'. */
    char *bridge;
    struct nb_port_addr addr;
    unsigned int plen;
    bool dynamic;
    int mtu;
    bool lsp_created;               /* This job inserted the port. */
    bool mig_target;                /* ADD of a migration's target. */
    bool rearm_sent;
    bool net_created;               /* This job (re)created the veth. */
    bool ovs_added;                 /* This job (re)added the OVS port. */
    struct eth_addr host_mac;

    /* Transactions in flight. */
    struct ovsdb_idl_txn *nb_txn;
    struct ovsdb_idl_txn *ovs_txn;

    /* Migrations that 'nb_txn' ends, recorded once it commits. */
    struct migration_final **finals;
    size_t n_finals;

    bool sweep;                     /* Internal: remove dead pods' ports. */
    struct unixctl_conn *ctl_conn;  /* Sweep: ovn-lm/sweep to answer. */
    int n_removed;                  /* Sweep: attachments it removes. */

    /* Teardown of a migration's source: the logical port whose completion
     * waits until this chassis's ovn-controller has released it (see
     * teardown_defer_completion()), and how long it may wait. */
    char *mig_complete;
    long long int mig_release_deadline;

    /* Teardown: the outcome to report once transactions finish. */
    int err_code;                   /* 0: success. */
    char *err_msg;
};

struct attach_stats {
    unsigned long long n_requests[CNI_CMD_STATUS + 1];
    unsigned long long n_errors[CNI_CMD_STATUS + 1];
};

struct attach {
    struct ovs_list jobs;
    unsigned int n_jobs;
    struct attach_stats stats;
    long long int next_sweep;       /* time_msec() of the next sweep. */
    struct metrics *metrics;        /* From the last attach_run(). */
    unsigned long long n_swept;
    bool draining;                  /* No new sweeps: the daemon exits. */
};

/* How often attachments whose pod namespace is gone are looked for. */
#define ATTACH_SWEEP_INTERVAL_MS 60000

static void job_fail(struct job *, const struct attach_ctx *, int code,
                     const char *format, ...) OVS_PRINTF_FORMAT(4, 5);
static void job_finish(struct attach *, struct job *, char *response);

struct attach *
attach_create(void)
{
    struct attach *a = xzalloc(sizeof *a);
    ovs_list_init(&a->jobs);
    return a;
}

/* Forgets the migration ends the job's Northbound transaction carried
 * (it failed, or its outcome is unknown). */
static void
job_drop_finals(struct job *job)
{
    for (size_t i = 0; i < job->n_finals; i++) {
        migration_final_destroy(job->finals[i]);
    }
    free(job->finals);
    job->finals = NULL;
    job->n_finals = 0;
}

static void
job_destroy(struct job *job)
{
    if (job) {
        job_drop_finals(job);
        cni_request_destroy(&job->req);
        if (job->nb_txn) {
            ovsdb_idl_txn_destroy(job->nb_txn);
        }
        if (job->ovs_txn) {
            ovsdb_idl_txn_destroy(job->ovs_txn);
        }
        free(job->lport);
        free(job->bridge);
        free(job->err_msg);
        free(job->mig_complete);
        free(job);
    }
}

void
attach_destroy(struct attach *a)
{
    if (a) {
        attach_abort(a, "it stopped before the request finished");
        free(a);
    }
}

/* The daemon is exiting: requests in progress go on, but no new sweep
 * starts (one in progress finishes). */
void
attach_drain(struct attach *a)
{
    a->draining = true;
}

/* Answers every request still in progress "try again later", saying
 * 'why', and forgets it.  What a request did so far stays in place, undone
 * or not: an ADD is idempotent and a retry against the next daemon resumes
 * it (the plugin keeps its attachment record on this error), a DEL's retry
 * finishes the removal, and an undo in progress is picked up by the DEL
 * that follows a failed ADD.  A migration's state is never changed here. */
void
attach_abort(struct attach *a, const char *why)
{
    struct job *job;

    LIST_FOR_EACH_POP (job, node, &a->jobs) {
        a->n_jobs--;
        if (job->ctl_conn) {
            char *msg = xasprintf("sweep not finished: ovn-controller-ext is "
                                  "exiting: %s", why);
            unixctl_command_reply_error(job->ctl_conn, msg);
            free(msg);
            job->ctl_conn = NULL;
        }
        if (job->conn) {
            const char *cmd = cni_command_to_string(job->req.command);
            char *msg = xasprintf("ovn-controller-ext is exiting: %s (the "
                                  "%s was at step %s)", why, cmd,
                                  job_state_names[job->state]);
            VLOG_WARN("%s %s/%s abandoned: %s", cmd, job->req.container_id,
                      job->req.ifname, msg);
            a->stats.n_errors[job->req.command]++;
            job_finish(a, job, cni_response_error(
                           OVN_LM_CNI_TRY_AGAIN_LATER, msg,
                           "what it did so far stays in place; retry, the "
                           "next ovn-controller-ext resumes it"));
            free(msg);
        }
        job_destroy(job);
    }
}

/* Takes over 'req' (the caller's copy is zeroed) and queues a job that will
 * answer on 'conn'. */
void
attach_submit(struct attach *a, struct cni_server_conn *conn,
              struct cni_request *req)
{
    struct job *job = xzalloc(sizeof *job);

    cni_request_move(&job->req, req);
    job->conn = conn;
    job->state = JOB_START;
    job->started = time_msec();
    job->started_us = time_usec();
    job->deadline = job->started
                    + (long long int) (job->req.conf.ready_timeout * 1000);
    ovs_list_push_back(&a->jobs, &job->node);
    a->n_jobs++;
    a->stats.n_requests[job->req.command]++;

    VLOG_DBG("%s container=%s ifname=%s netns=%s",
             cni_command_to_string(job->req.command),
             job->req.container_id, job->req.ifname, job->req.netns);
}

/* Answers the job's request.  attach_run() frees the job afterwards. */
static void
job_finish(struct attach *a, struct job *job, char *response)
{
    if (!job->sweep && response) {
        metrics_observe_request(a->metrics,
                                cni_command_to_string(job->req.command),
                                cni_response_is_ok(response),
                                (time_usec() - job->started_us) / 1e6);
    }
    if (job->ctl_conn) {
        if (job->err_code) {
            unixctl_command_reply_error(job->ctl_conn, job->err_msg);
        } else {
            char *msg = xasprintf("%d attachment(s) removed\n",
                                  job->n_removed);
            unixctl_command_reply(job->ctl_conn, msg);
            free(msg);
        }
        job->ctl_conn = NULL;
    }
    if (job->conn) {
        cni_server_reply(job->conn, response);
    } else {
        free(response);
    }
    job->conn = NULL;
    job->state = JOB_DONE;
}

/* The Southbound binding of logical port 'lport', or NULL. */
const struct sbrec_port_binding *
attach_find_port_binding(const struct attach_ctx *ctx, const char *lport)
{
    if (!ctx->sb_idl || !ctx->sb_pb_by_lport) {
        return NULL;
    }
    struct sbrec_port_binding *key
        = sbrec_port_binding_index_init_row(ctx->sb_pb_by_lport);
    sbrec_port_binding_index_set_logical_port(key, lport);
    const struct sbrec_port_binding *pb
        = sbrec_port_binding_index_find(ctx->sb_pb_by_lport, key);
    sbrec_port_binding_index_destroy_row(key);
    return pb;
}

static bool
idl_ready(struct ovsdb_idl *idl)
{
    return idl && ovsdb_idl_is_connected(idl)
           && ovsdb_idl_has_ever_connected(idl);
}

/* Commits or polls '*txnp' (NULL counts as done).  Returns its status.  The
 * caller destroys it with txn_clear() once the status is final. */
static enum ovsdb_idl_txn_status
txn_poll(struct ovsdb_idl_txn *txn)
{
    return txn ? ovsdb_idl_txn_commit(txn) : TXN_SUCCESS;
}

static void
txn_clear(struct ovsdb_idl_txn **txnp)
{
    if (*txnp) {
        ovsdb_idl_txn_destroy(*txnp);
        *txnp = NULL;
    }
}

/* Polls '*txnp'; once final, destroys it and returns the status. */
static enum ovsdb_idl_txn_status
txn_finish(struct ovsdb_idl_txn **txnp)
{
    enum ovsdb_idl_txn_status status = txn_poll(*txnp);
    if (status != TXN_INCOMPLETE) {
        txn_clear(txnp);
    }
    return status;
}

static bool
txn_ok(enum ovsdb_idl_txn_status status)
{
    return status == TXN_SUCCESS || status == TXN_UNCHANGED;
}

/* Makes the job wait for 'idl' to change before it retries: to move past
 * the contents its transaction was composed from (job_may_retry() noted
 * them), as ovsdb-idl.h says.  The change that made the transaction fail
 * may have arrived before the failure did; waiting for one after that
 * would wait for a change that already happened, and maybe forever. */
static void
job_arm_retry(struct job *job, struct ovsdb_idl *idl OVS_UNUSED)
{
    job->retry_seqno = job->composed_seqno;
    job->retry_armed = true;
    job->n_retries++;
}

/* Whether the job may (re)compose its transaction from 'idl' now. */
static bool
job_may_retry(struct job *job, struct ovsdb_idl *idl)
{
    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    if (job->retry_armed && seqno == job->retry_seqno) {
        return false;
    }
    job->retry_armed = false;
    job->composed_seqno = seqno;
    return true;
}

static void
job_mark_phase(struct job *job, enum add_phase phase)
{
    job->phase_us[phase] = time_usec();
}

/* ------------------------------------------------------------------ */
/* Teardown: shared by DEL, GC and the undo of a failed ADD.           */
/* ------------------------------------------------------------------ */

/* One attachment to remove. */
struct teardown_target {
    const char *container_id;
    const char *ifname;
    const char *netns;
    char host_ifname[POD_NET_IFNAMSIZ];
    bool lsp_only_if_created;   /* Undo: keep a port we did not create. */
    bool lsp_created;
    bool keep_local;            /* Undo: the veth and OVS port are not ours
                                 * (an ADD of an existing attachment that
                                 * failed before touching them). */
};

static bool
is_holder(const struct nbrec_logical_switch_port *lsp,
          const char *container_id, const char *ifname)
{
    return (nb_port_is_owned_by(lsp, container_id, ifname)
            || migration_is_target(lsp, container_id, ifname));
}

/* Finds the logical port that ('container_id', 'ifname') holds, as its
 * owner or as a migration's target: first through the OVS interface's
 * iface-id, else by scanning for the keys. */
static const struct nbrec_logical_switch_port *
find_held_lsp(const struct attach_ctx *ctx, const char *container_id,
              const char *ifname, const char *iface_id)
{
    const struct nbrec_logical_switch_port *lsp;

    if (iface_id) {
        lsp = nb_port_find(ctx->nb_ix, iface_id);
        if (lsp && is_holder(lsp, container_id, ifname)) {
            return lsp;
        }
    }
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        if (is_holder(lsp, container_id, ifname)) {
            return lsp;
        }
    }
    return NULL;
}

/* How long a source's DEL waits for ovn-controller to release the port
 * before it completes the migration anyway. */
#define ATTACH_RELEASE_WAIT_MS 2000

/* Whether this chassis's ovn-controller still holds 'lport' as the main
 * chassis, as far as Southbound says. */
static bool
held_here(const struct attach_ctx *ctx, const char *lport)
{
    const struct sbrec_port_binding *pb
        = attach_find_port_binding(ctx, lport);
    return (pb && pb->chassis && ctx->chassis
            && ovsdb_idl_is_connected(ctx->sb_idl)
            && !strcmp(pb->chassis->name, ctx->chassis));
}

/* The source's DEL of a migrated port: completing it (requested-chassis
 * "DST") while ovn-controller here still holds the port makes two
 * ovn-controllers write Port_Binding.chassis at once, the target claiming
 * it and this one releasing it; when the release lands last, the port has
 * no chassis and no additional chassis, and every other chassis drops its
 * traffic until the target claims it again.  So the OVS port goes first:
 * ovn-controller releases the port alone (Southbound: no chassis, the
 * target still additional, which other chassis keep tunnelling to), and
 * run_teardown() completes once Southbound shows that.  Returns true if
 * the completion was deferred. */
static bool
teardown_defer_completion(struct job *job, const struct attach_ctx *ctx,
                          const struct nbrec_logical_switch_port *lsp)
{
    if (job->mig_complete || !held_here(ctx, lsp->name)) {
        return false;
    }
    VLOG_INFO("%s: completing the migration once ovn-controller has "
              "released the port here", lsp->name);
    job->mig_complete = xstrdup(lsp->name);
    job->mig_release_deadline = time_msec() + ATTACH_RELEASE_WAIT_MS;
    return true;
}

/* The deferred completion of teardown_defer_completion(): returns true
 * while it is still waiting or its transaction is on its way. */
static bool
teardown_run_completion(struct job *job, const struct attach_ctx *ctx)
{
    if (!job->mig_complete) {
        return false;
    }
    if (held_here(ctx, job->mig_complete)
        && time_msec() < job->mig_release_deadline) {
        return true;
    }
    const struct nbrec_logical_switch_port *lsp
        = nb_port_find(ctx->nb_ix, job->mig_complete);
    if (lsp && migration_in_progress(lsp)) {
        if (held_here(ctx, job->mig_complete)) {
            VLOG_WARN("%s: ovn-controller did not release the port within "
                      "%d ms; completing anyway", lsp->name,
                      ATTACH_RELEASE_WAIT_MS);
        }
        job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
        ovsdb_idl_txn_add_comment(job->nb_txn, "ovn-controller-ext: %s %s",
                                  cni_command_to_string(job->req.command),
                                  job->req.container_id);
        VLOG_INFO("%s: %s of %s/%s completes the migration", lsp->name,
                  cni_command_to_string(job->req.command),
                  job->req.container_id, job->req.ifname);
        /* Counted once Northbound commits it (run_teardown()). */
        if (ctx->migration) {
            job->finals = xrealloc(job->finals, (job->n_finals + 1)
                                   * sizeof *job->finals);
            job->finals[job->n_finals++]
                = migration_final_create(lsp, MIGRATION_COMPLETED);
        }
        migration_txn_complete(lsp);
        txn_poll(job->nb_txn);
    }
    free(job->mig_complete);
    job->mig_complete = NULL;
    return job->nb_txn != NULL;
}

/* Removes the veth now and adds the removal of the OVS port and logical
 * port to the job's transactions (created on demand). */
static void
teardown_add_target(struct job *job, const struct attach_ctx *ctx,
                    const struct teardown_target *t)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    const struct ovsrec_interface *iface
        = ovs_port_find_iface(ctx->ovs_ix, t->host_ifname);
    const char *iface_id = iface ? smap_get(&iface->external_ids, "iface-id")
                                 : NULL;

    char *msg = NULL;
    int error = (t->keep_local ? 0
                 : pod_net_del(t->host_ifname, t->netns ? t->netns : "",
                               t->ifname, &msg));
    if (error) {
        VLOG_WARN_RL(&rl, "%s: removing veth %s failed: %s",
                     t->container_id, t->host_ifname,
                     msg ? msg : ovs_strerror(error));
    }
    free(msg);

    const struct ovsrec_port *port
        = (t->keep_local ? NULL
           : ovs_port_find_port(ctx->ovs_ix, t->host_ifname));
    if (port) {
        if (!job->ovs_txn) {
            job->ovs_txn = ovsdb_idl_txn_create(ctx->ovs_idl);
            ovsdb_idl_txn_add_comment(job->ovs_txn,
                                      "ovn-controller-ext: %s %s",
                                      cni_command_to_string(job->req.command),
                                      t->container_id);
        }
        ovs_port_delete(ctx->ovs_idl, port);
    }

    const struct nbrec_logical_switch_port *lsp
        = find_held_lsp(ctx, t->container_id, t->ifname, iface_id);
    if (!lsp) {
        return;
    }

    /* In a migration the port has two holders, and the one leaving hands
     * it to the other: the target leaving rolls back (it never became the
     * workload's home, or the migration failed), the source leaving
     * completes (the workload lives on the target now).  Only the last
     * holder deletes the port, so port-group and ACL memberships stay. */
    enum migration_state final = MIGRATION_NONE;
    if (migration_is_target(lsp, t->container_id, t->ifname)) {
        final = MIGRATION_ROLLED_BACK;
    } else if (t->lsp_only_if_created && !t->lsp_created) {
        /* Undoing an ADD that found the port: not ours to remove. */
        return;
    } else if (migration_in_progress(lsp)) {
        final = MIGRATION_COMPLETED;
    }

    if (final == MIGRATION_COMPLETED && port
        && teardown_defer_completion(job, ctx, lsp)) {
        return;
    }
    if (!job->nb_txn) {
        job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
        ovsdb_idl_txn_add_comment(job->nb_txn,
                                  "ovn-controller-ext: %s %s",
                                  cni_command_to_string(job->req.command),
                                  t->container_id);
    }
    if (final == MIGRATION_NONE) {
        nb_port_delete(ctx->nb_idl, ctx->nb_ix, lsp);
        return;
    }
    VLOG_INFO("%s: %s of %s/%s %s the migration", lsp->name,
              cni_command_to_string(job->req.command), t->container_id,
              t->ifname, final == MIGRATION_COMPLETED ? "completes"
                                                      : "rolls back");
    if (ctx->migration) {
        job->finals = xrealloc(job->finals,
                               (job->n_finals + 1) * sizeof *job->finals);
        job->finals[job->n_finals++] = migration_final_create(lsp, final);
    }
    if (final == MIGRATION_COMPLETED) {
        migration_txn_complete(lsp);
    } else {
        migration_txn_rollback(lsp, job->req.command == CNI_CMD_ADD
                               ? "target ADD failed" : "target deleted");
    }
}

/* Commits whatever teardown_add_target() queued and moves the job to
 * JOB_TEARDOWN.  The outcome to report is the job's err_code/err_msg. */
static void
teardown_commit(struct job *job)
{
    /* Send both now: an IDL allows one transaction under construction. */
    txn_poll(job->ovs_txn);
    txn_poll(job->nb_txn);
    job->state = JOB_TEARDOWN;
    job->deadline = time_msec() + ATTACH_TEARDOWN_MS;
}

static void
job_set_error(struct job *job, int code, char *msg)
{
    free(job->err_msg);
    job->err_code = code;
    job->err_msg = msg;
}

/* Fails an ADD: undoes what it did, then answers the error. */
static void
job_fail(struct job *job, const struct attach_ctx *ctx, int code,
         const char *format, ...)
{
    va_list args;
    va_start(args, format);
    char *msg = xvasprintf(format, args);
    va_end(args);

    /* A kubelet retries a failing ADD for as long as the pod exists: each
     * retry fails the same way. */
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 20);
    VLOG_WARN_RL(&rl, "%s %s/%s failed: %s",
                 cni_command_to_string(job->req.command),
                 job->req.container_id, job->req.ifname, msg);
    job_set_error(job, code, msg);

    /* Drop transactions still in flight: their outcome no longer matters,
     * the teardown below looks at the database as it is. */
    txn_clear(&job->nb_txn);
    txn_clear(&job->ovs_txn);
    job_drop_finals(job);

    if (job->req.command == CNI_CMD_ADD && job->host_ifname[0]) {
        struct teardown_target t = {
            .container_id = job->req.container_id,
            .ifname = job->req.ifname,
            .netns = job->net_created ? job->req.netns : "",
            .lsp_only_if_created = true,
            .lsp_created = job->lsp_created,
            .keep_local = !job->net_created && !job->ovs_added,
        };
        ovs_strlcpy(t.host_ifname, job->host_ifname, sizeof t.host_ifname);
        if (idl_ready(ctx->nb_idl) && idl_ready(ctx->ovs_idl)) {
            teardown_add_target(job, ctx, &t);
        } else if (!t.keep_local) {
            pod_net_del(t.host_ifname, "", t.ifname, NULL);
        }
    }
    teardown_commit(job);
}

static void
run_teardown(struct attach *a, struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status s_ovs = txn_poll(job->ovs_txn);
    enum ovsdb_idl_txn_status s_nb = txn_poll(job->nb_txn);

    /* The migrations this teardown ends count once Northbound says they
     * did, and only then. */
    if (s_nb != TXN_INCOMPLETE && job->n_finals) {
        for (size_t i = 0; i < job->n_finals; i++) {
            if (txn_ok(s_nb) && ctx->migration) {
                migration_final_record(ctx->migration, ctx->metrics,
                                       job->finals[i]);
                job->finals[i] = NULL;
            }
        }
        job_drop_finals(job);
    }

    if (job->mig_complete && s_ovs != TXN_INCOMPLETE
        && s_nb != TXN_INCOMPLETE && txn_ok(s_ovs) && txn_ok(s_nb)
        && !job->err_code) {
        txn_clear(&job->ovs_txn);
        txn_clear(&job->nb_txn);
        if (teardown_run_completion(job, ctx)) {
            return;
        }
        s_ovs = s_nb = TXN_SUCCESS;
    }
    if (s_ovs == TXN_INCOMPLETE || s_nb == TXN_INCOMPLETE) {
        if (time_msec() < job->deadline) {
            return;
        }
        txn_clear(&job->ovs_txn);
        txn_clear(&job->nb_txn);
        if (!job->err_code) {
            job_set_error(job, OVN_LM_CNI_TRY_AGAIN_LATER,
                          xstrdup("timed out removing the attachment from "
                                  "the databases"));
        }
    } else if ((!txn_ok(s_ovs) || !txn_ok(s_nb)) && !job->err_code) {
        txn_clear(&job->ovs_txn);
        txn_clear(&job->nb_txn);
        job_set_error(job, OVN_LM_CNI_TRY_AGAIN_LATER,
                      xasprintf("removing the attachment failed "
                                "(Open_vSwitch: %s, Northbound: %s)",
                                ovsdb_idl_txn_status_to_string(s_ovs),
                                ovsdb_idl_txn_status_to_string(s_nb)));
    }

    txn_clear(&job->ovs_txn);
    txn_clear(&job->nb_txn);
    if (job->err_code) {
        a->stats.n_errors[job->req.command]++;
        job_finish(a, job, cni_response_error(job->err_code, job->err_msg,
                                              NULL));
    } else if (!job->sweep) {
        VLOG_INFO("%s %s/%s done in %lld ms",
                  cni_command_to_string(job->req.command),
                  job->req.container_id, job->req.ifname,
                  time_msec() - job->started);
        job_finish(a, job, cni_response_result(NULL));
    } else {
        job_finish(a, job, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* ADD.                                                                */
/* ------------------------------------------------------------------ */

/* Picks the static address the request asks for, if any.  Sources, first
 * wins: CNI_ARGS IP/MAC, runtimeConfig ips/mac, pod annotations. */
static char *
add_static_address(struct job *job, bool *has_ip, ovs_be32 *ip,
                   unsigned int *plen, bool *has_mac, struct eth_addr *mac)
{
    const struct cni_request *req = &job->req;
    const char *ip_s = NULL, *ip_src = NULL;
    const char *mac_s = NULL;

    *has_ip = *has_mac = false;
    *plen = 0;

    if (smap_get(&req->args, "IP")) {
        ip_s = smap_get(&req->args, "IP");
        ip_src = "CNI_ARGS IP";
    } else if (req->n_ips) {
        /* The first IPv4 address: IPv6 is not ours to assign (yet). */
        for (size_t i = 0; i < req->n_ips && !ip_s; i++) {
            if (!strchr(req->ips[i], ':')) {
                ip_s = req->ips[i];
            }
        }
        ip_src = "runtimeConfig ips";
    }
    if (!ip_s && smap_get(&req->annotations, ATTACH_IP_ANNOTATION)) {
        ip_s = smap_get(&req->annotations, ATTACH_IP_ANNOTATION);
        ip_src = "annotation " ATTACH_IP_ANNOTATION;
    }
    if (ip_s) {
        char *error = strchr(ip_s, '/') ? ip_parse_cidr(ip_s, ip, plen)
                                        : (ip_parse(ip_s, ip) ? NULL
                                           : xstrdup("not an address"));
        if (error) {
            char *msg = xasprintf("%s: \"%s\" is not an IPv4 address: %s",
                                  ip_src, ip_s, error);
            free(error);
            return msg;
        }
        *has_ip = true;
    }

    if (smap_get(&req->args, "MAC")) {
        mac_s = smap_get(&req->args, "MAC");
    } else if (req->has_mac) {
        *mac = req->mac;
        *has_mac = true;
    } else if (smap_get(&req->annotations, ATTACH_MAC_ANNOTATION)) {
        mac_s = smap_get(&req->annotations, ATTACH_MAC_ANNOTATION);
    }
    if (mac_s) {
        if (!eth_addr_from_string(mac_s, mac)) {
            return xasprintf("\"%s\" is not a MAC address", mac_s);
        }
        *has_mac = true;
    }
    if (*has_mac && (eth_addr_is_multicast(*mac) || eth_addr_is_zero(*mac))) {
        return xasprintf("MAC "ETH_ADDR_FMT" is not a unicast address",
                         ETH_ADDR_ARGS(*mac));
    }
    return NULL;
}

static void
add_build_external_ids(const struct job *job, const struct attach_ctx *ctx,
                       struct smap *ids)
{
    const char *ns = smap_get(&job->req.args, "K8S_POD_NAMESPACE");
    const char *pod = smap_get(&job->req.args, "K8S_POD_NAME");

    smap_add(ids, NB_PORT_KEY_CONTAINER, job->req.container_id);
    smap_add(ids, NB_PORT_KEY_IFNAME, job->req.ifname);
    smap_add(ids, NB_PORT_KEY_NETWORK, job->req.conf.network);
    if (ctx->chassis) {
        smap_add(ids, NB_PORT_KEY_CHASSIS, ctx->chassis);
    }
    if (ns && pod) {
        smap_add_format(ids, NB_PORT_KEY_POD, "%s/%s", ns, pod);
    }
}

/* Takes the pod's address from logical port 'lsp' (on switch 'ls'). */
static bool
add_use_lsp_address(struct job *job, const struct nbrec_logical_switch *ls,
                    const struct nbrec_logical_switch_port *lsp)
{
    ovs_be32 net;
    unsigned int plen;

    if (!nb_port_get_address(lsp, &job->addr)) {
        return false;
    }
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);
    const char *s = smap_get(&lsp->external_ids, NB_PORT_KEY_PREFIX_LEN);
    unsigned int stored;
    if (s && (!str_to_uint(s, 10, &stored) || stored > 32
              || !isdigit((unsigned char) s[0]))) {
        VLOG_WARN_RL(&rl, "%s: ignoring bad %s \"%s\" (not a prefix length "
                     "from 0 to 32)", lsp->name, NB_PORT_KEY_PREFIX_LEN, s);
        s = NULL;
    }
    job->plen = (s ? stored
                 : nb_port_switch_subnet(ls, &net, &plen) ? plen : 32);
    return true;
}

/* Whether 'lsp' is a workload's port that lives on another chassis and that
 * this ADD should prepare a live migration of. */
static bool
add_is_migration_target(const struct job *job, const struct attach_ctx *ctx,
                        const struct nbrec_logical_switch_port *lsp)
{
    const char *holder = smap_get(&lsp->external_ids, NB_PORT_KEY_CHASSIS);

    if (migration_is_target(lsp, job->req.container_id, job->req.ifname)) {
        return true;
    }
    return (migration_opted_in(&job->req)
            && smap_get_bool(&lsp->external_ids, MIGRATION_KEY_MIGRATABLE,
                             false)
            && holder && ctx->chassis && strcmp(holder, ctx->chassis)
            && !nb_port_is_owned_by(lsp, job->req.container_id,
                                    job->req.ifname));
}

/* The target's ADD: duplicate the port's traffic to this chassis too and
 * keep it blocked until the workload's RARP.  The options go in before the
 * wait for ovn-installed, which would never come otherwise. */
static void
add_start_migration(struct job *job, const struct attach_ctx *ctx,
                    const struct nbrec_logical_switch *ls,
                    const struct nbrec_logical_switch_port *lsp)
{
    const struct smap *ids = &lsp->external_ids;

    job->mig_target = true;
    if (!add_use_lsp_address(job, ls, lsp)) {
        job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                 "logical port \"%s\" has no address yet", job->lport);
        return;
    }
    if (migration_is_target(lsp, job->req.container_id, job->req.ifname)) {
        /* A repeated ADD of this target: it is prepared already. */
        job->state = JOB_PLUMB;
        return;
    }
    if (migration_in_progress(lsp)) {
        job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                 "logical port \"%s\" is already migrating from %s to %s",
                 job->lport, smap_get_def(ids, MIGRATION_KEY_SRC, "?"),
                 smap_get_def(ids, MIGRATION_KEY_DST, "?"));
        return;
    }
    if (!idl_ready(ctx->sb_idl)) {
        if (time_msec() - job->started >= ATTACH_CONNECT_WAIT_MS) {
            job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                     "OVN Southbound database not connected");
        }
        return;
    }

    const char *src = smap_get(ids, NB_PORT_KEY_CHASSIS);
    const char *stale = migration_stale_activation(
        attach_find_port_binding(ctx, job->lport));
    if (stale) {
        /* A previous migration's activation is still recorded: a target
         * there would not be blocked.  Back to the source alone first, and
         * wait for northd to clear it. */
        if (!job->rearm_sent) {
            VLOG_INFO("%s: re-arming: Southbound still says activated on "
                      "%s", job->lport, stale);
            job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
            migration_txn_rearm(lsp, src);
            txn_poll(job->nb_txn);
            job->rearm_sent = true;
        }
        job->state = JOB_MIG_REARM;
        return;
    }

    VLOG_INFO("%s: preparing migration %s -> %s for %s/%s", job->lport, src,
              ctx->chassis, job->req.container_id, job->req.ifname);
    job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
    ovsdb_idl_txn_add_comment(job->nb_txn, "ovn-controller-ext: migrate %s "
                              "%s -> %s", job->lport, src, ctx->chassis);
    nbrec_logical_switch_port_verify_options(lsp);
    nbrec_logical_switch_port_verify_external_ids(lsp);
    const char *ns = smap_get(&job->req.args, "K8S_POD_NAMESPACE");
    const char *pod = smap_get(&job->req.args, "K8S_POD_NAME");
    char *pod_name = ns && pod ? xasprintf("%s/%s", ns, pod) : NULL;
    migration_txn_prepare(lsp, src, ctx->chassis, job->req.container_id,
                          job->req.ifname, pod_name,
                          smap_get(&job->req.labels,
                                   MIGRATION_KUBEVIRT_JOB_UID));
    free(pod_name);
    txn_poll(job->nb_txn);
    job->state = JOB_MIG_PREPARE;
}

static void
add_run_mig_rearm(struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status status = txn_finish(&job->nb_txn);

    if (status == TXN_INCOMPLETE) {
        return;
    } else if (!txn_ok(status) && status != TXN_TRY_AGAIN) {
        job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                 "re-arming logical port \"%s\" failed: %s", job->lport,
                 ovsdb_idl_txn_status_to_string(status));
        return;
    }
    if (!migration_stale_activation(attach_find_port_binding(ctx,
                                                             job->lport))) {
        job->state = JOB_START;
    } else if (time_msec() >= job->deadline) {
        job_fail(job, ctx, OVN_LM_CNI_TIMEOUT,
                 "ovn-northd did not clear additional-chassis-activated of "
                 "\"%s\" within %.1f s", job->lport,
                 job->req.conf.ready_timeout);
    } else if (status == TXN_TRY_AGAIN) {
        job->rearm_sent = false;
        job->state = JOB_START;
    }
}

static void
add_run_mig_prepare(struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status status = txn_finish(&job->nb_txn);

    if (status == TXN_INCOMPLETE) {
        return;
    } else if (status == TXN_TRY_AGAIN && job->n_retries < 50) {
        job_arm_retry(job, ctx->nb_idl);
        job->state = JOB_START;
        return;
    } else if (!txn_ok(status)) {
        job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                 "preparing the migration of \"%s\" failed: %s", job->lport,
                 ovsdb_idl_txn_status_to_string(status));
        return;
    }
    job->state = JOB_PLUMB;
}

/* The daemon opens CNI_NETNS by path in its own mount namespace, which in
 * a DaemonSet is its container's: a path the runtime made is there only if
 * the runtime's netns directory is mounted in with HostToContainer
 * propagation.  Returns an error message naming the path and the mount, or
 * NULL if 'netns' can be opened (or fails otherwise, left to pod-net). */
static char *
add_check_netns(const char *netns)
{
    struct stat st;

    if (!netns || !netns[0] || !stat(netns, &st) || errno != ENOENT) {
        return NULL;
    }
    const char *slash = strrchr(netns, '/');
    char *dir = (slash && slash != netns
                 ? xmemdup0(netns, slash - netns) : xstrdup("/"));
    char *msg = xasprintf(
        "CNI_NETNS %s: no such file in ovn-controller-ext's mount "
        "namespace: it is not visible there (or the namespace is already "
        "gone).  Mount the runtime's netns directory %s into the daemon's "
        "container, at the same path, with mountPropagation: "
        "HostToContainer (containerd and CRI-O: /var/run/netns; containerd "
        "with netns_mounts_under_state_dir = true: "
        "/run/containerd/io.containerd.grpc.v1.cri/netns; /proc/PID/ns/net "
        "paths need hostPID)", netns, dir);
    free(dir);
    return msg;
}

static void
add_start(struct job *job, const struct attach_ctx *ctx)
{
    struct cni_request *req = &job->req;

    if (ctx->kube && !job->kube_filled) {
        /* The pod's labels and, unless the runtime passed them, its
         * annotations: they name the port and opt in to migration. */
        char *error;
        int retval = kube_sync_fill_request(ctx->kube, req, &error);
        if (retval == EAGAIN) {
            return;
        } else if (retval) {
            job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER, "%s", error);
            free(error);
            return;
        }
        job->kube_filled = true;
    }
    char *netns_error = add_check_netns(req->netns);
    if (netns_error) {
        job_fail(job, ctx, OVN_LM_CNI_INVALID_ENV, "%s", netns_error);
        free(netns_error);
        return;
    }
    if (!idl_ready(ctx->nb_idl) || !idl_ready(ctx->ovs_idl)) {
        if (time_msec() - job->started < ATTACH_CONNECT_WAIT_MS) {
            return;
        }
        job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                 "%s database not connected",
                 !idl_ready(ctx->nb_idl) ? "OVN Northbound" : "Open_vSwitch");
        return;
    }
    if (!job_may_retry(job, ctx->nb_idl)) {
        return;
    }

    if (!req->conf.logical_switch || !req->conf.logical_switch[0]) {
        job_fail(job, ctx, OVN_LM_CNI_INVALID_NETCONF,
                 "logicalSwitch: missing from the network configuration");
        return;
    }
    job->ls_name = req->conf.logical_switch;
    const struct nbrec_logical_switch *ls
        = nb_port_find_switch(ctx->nb_ix, job->ls_name);
    if (!ls) {
        job_fail(job, ctx, OVN_LM_CNI_INVALID_NETCONF,
                 "logicalSwitch: \"%s\" not found in the OVN Northbound "
                 "database", job->ls_name);
        return;
    }

    free(job->bridge);
    job->bridge = xstrdup(req->conf.bridge ? req->conf.bridge
                          : ctx->default_bridge ? ctx->default_bridge
                          : OVN_LM_DEFAULT_BRIDGE);
    if (!ovs_port_find_bridge(ctx->ovs_idl, job->bridge)) {
        job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                 "integration bridge \"%s\" does not exist (yet)",
                 job->bridge);
        return;
    }

    if (!job->lport) {
        job->lport = port_name_for_request(req);
    }
    pod_net_host_ifname(req->container_id, req->ifname, job->host_ifname);
    job->mtu = req->conf.mtu ? req->conf.mtu : ctx->default_mtu;

    const struct nbrec_logical_switch_port *existing
        = nb_port_find(ctx->nb_ix, job->lport);
    if (existing && add_is_migration_target(job, ctx, existing)) {
        add_start_migration(job, ctx, ls, existing);
        return;
    }
    if (existing && migration_in_progress(existing)
        && nb_port_is_owned_by(existing, req->container_id, req->ifname)) {
        /* The source, added again mid-migration (a runtime retry): leave
         * the port's options alone. */
        if (add_use_lsp_address(job, ls, existing)) {
            job->state = JOB_PLUMB;
            return;
        }
    }

    /* Addresses. */
    bool has_ip, has_mac;
    ovs_be32 ip;
    struct eth_addr mac;
    unsigned int plen;
    char *error = add_static_address(job, &has_ip, &ip, &plen, &has_mac,
                                     &mac);
    if (error) {
        job_fail(job, ctx, OVN_LM_CNI_INVALID_ENV, "%s", error);
        free(error);
        return;
    }

    ovs_be32 subnet;
    unsigned int subnet_plen;
    bool has_subnet = nb_port_switch_subnet(ls, &subnet, &subnet_plen);
    if (has_ip && !plen) {
        if (!has_subnet) {
            job_fail(job, ctx, OVN_LM_CNI_INVALID_NETCONF,
                     "cannot tell the prefix length of "IP_FMT": logical "
                     "switch \"%s\" has no other_config:subnet",
                     IP_ARGS(ip), job->ls_name);
            return;
        }
        plen = subnet_plen;
    }
    if (!has_ip && !has_subnet) {
        job_fail(job, ctx, OVN_LM_CNI_INVALID_NETCONF,
                 "no static IP in the request and logical switch \"%s\" has "
                 "no other_config:subnet for dynamic addressing",
                 job->ls_name);
        return;
    }

    const struct nbrec_logical_switch_port *other;
    if (has_ip && (other = nb_port_find_ip_user(ls, ip, job->lport))) {
        job_fail(job, ctx, OVN_LM_CNI_ADDRESS_IN_USE,
                 "IP "IP_FMT" is already used by logical port \"%s\"",
                 IP_ARGS(ip), other->name);
        return;
    }
    if (has_mac && (other = nb_port_find_mac_user(ls, &mac, job->lport))) {
        job_fail(job, ctx, OVN_LM_CNI_ADDRESS_IN_USE,
                 "MAC "ETH_ADDR_FMT" is already used by logical port \"%s\"",
                 ETH_ADDR_ARGS(mac), other->name);
        return;
    }
    if (has_ip && !has_mac) {
        /* A MAC derived from the IP, as other OVN CNIs do: stable across
         * restarts and migrations of the same address. */
        eth_addr_from_uint64(0x0a5800000000ULL | ntohl(ip), &mac);
        has_mac = true;
    }

    char *address;
    job->dynamic = !has_ip;
    if (has_ip) {
        address = xasprintf(ETH_ADDR_FMT" "IP_FMT, ETH_ADDR_ARGS(mac),
                            IP_ARGS(ip));
        job->addr.mac = mac;
        job->addr.ip = ip;
        job->plen = plen;
    } else if (has_mac) {
        address = xasprintf(ETH_ADDR_FMT" dynamic", ETH_ADDR_ARGS(mac));
        job->plen = subnet_plen;
    } else {
        address = xstrdup("dynamic");
        job->plen = subnet_plen;
    }

    const struct nbrec_logical_switch_port *lsp = existing;
    if (lsp) {
        const char *holder_ls = smap_get(&lsp->external_ids,
                                         NB_PORT_KEY_SWITCH);
        if (holder_ls && strcmp(holder_ls, job->ls_name)) {
            job_fail(job, ctx, OVN_LM_CNI_INVALID_NETCONF,
                     "logical port \"%s\" exists on logical switch \"%s\", "
                     "not \"%s\"", job->lport, holder_ls, job->ls_name);
            free(address);
            return;
        }
        if (!nb_port_is_owned_by(lsp, req->container_id, req->ifname)) {
            VLOG_INFO("%s/%s: taking over logical port %s from container "
                      "%s", req->container_id, req->ifname, job->lport,
                      smap_get_def(&lsp->external_ids, NB_PORT_KEY_CONTAINER,
                                   "(none)"));
        }
    }

    struct smap ids = SMAP_INITIALIZER(&ids);
    if (lsp) {
        smap_clone(&ids, &lsp->external_ids);
        smap_remove(&ids, NB_PORT_KEY_POD);
    }
    struct smap new_ids = SMAP_INITIALIZER(&new_ids);
    add_build_external_ids(job, ctx, &new_ids);
    smap_add(&new_ids, NB_PORT_KEY_SWITCH, job->ls_name);
    smap_add_format(&new_ids, NB_PORT_KEY_PREFIX_LEN, "%u", job->plen);
    if (migration_opted_in(req)) {
        smap_add(&new_ids, MIGRATION_KEY_MIGRATABLE, "true");
    }
    struct smap_node *node;
    SMAP_FOR_EACH (node, &new_ids) {
        smap_replace(&ids, node->key, node->value);
    }
    smap_destroy(&new_ids);

    job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
    ovsdb_idl_txn_add_comment(job->nb_txn, "ovn-controller-ext: ADD %s",
                              req->container_id);
    if (lsp) {
        /* Keep a dynamic address northd already gave this port. */
        if (!(job->dynamic && lsp->n_addresses == 1
              && strstr(lsp->addresses[0], "dynamic")
              && (!has_mac || strstr(lsp->addresses[0], address)))) {
            nb_port_update(lsp, address, &ids);
        } else {
            nbrec_logical_switch_port_set_external_ids(lsp, &ids);
        }
    } else {
        /* A port created here cannot collide: verify the switch's port
         * list so that a concurrent ADD of the same address retries and
         * sees the other port. */
        nbrec_logical_switch_verify_ports(ls);
        lsp = nb_port_create(job->nb_txn, ls, job->lport, address, &ids);
        job->lsp_created = true;
    }
    if (ctx->chassis) {
        nbrec_logical_switch_port_update_options_setkey(
            lsp, "requested-chassis", ctx->chassis);
    }
    smap_destroy(&ids);
    free(address);

    txn_poll(job->nb_txn);
    job->state = JOB_NB_COMMIT;
}

static void
add_run_nb_commit(struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status status = txn_finish(&job->nb_txn);

    if (status == TXN_INCOMPLETE) {
        return;
    } else if (status == TXN_TRY_AGAIN && job->n_retries < 50) {
        /* A concurrent change (or a reconnection): look again. */
        job->lsp_created = false;
        job_arm_retry(job, ctx->nb_idl);
        job->state = JOB_START;
        return;
    } else if (!txn_ok(status)) {
        job->lsp_created = false;
        job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                 "creating logical port \"%s\" failed: %s", job->lport,
                 ovsdb_idl_txn_status_to_string(status));
        return;
    }
    job->state = job->dynamic ? JOB_NB_DYNAMIC : JOB_PLUMB;
}

static void
add_run_nb_dynamic(struct job *job, const struct attach_ctx *ctx)
{
    const struct nbrec_logical_switch_port *lsp
        = nb_port_find(ctx->nb_ix, job->lport);
    struct nb_port_addr addr;

    if (!lsp || !nb_port_parse_address(lsp->dynamic_addresses, &addr)) {
        if (time_msec() >= job->deadline) {
            job_fail(job, ctx, OVN_LM_CNI_TIMEOUT,
                     "ovn-northd assigned no dynamic address to logical port "
                     "\"%s\" within %.1f s (is ovn-northd running, and does "
                     "the subnet have free addresses?)", job->lport,
                     job->req.conf.ready_timeout);
        }
        return;
    }
    job->addr = addr;

    char *address = xasprintf(ETH_ADDR_FMT" "IP_FMT, ETH_ADDR_ARGS(addr.mac),
                              IP_ARGS(addr.ip));
    job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
    nb_port_set_port_security(lsp, address);
    free(address);
    txn_poll(job->nb_txn);
    job->state = JOB_NB_SECURITY;
}

static void
add_run_nb_security(struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status status = txn_finish(&job->nb_txn);

    if (status == TXN_INCOMPLETE) {
        return;
    } else if (status == TXN_TRY_AGAIN && job->n_retries < 50) {
        job_arm_retry(job, ctx->nb_idl);
        job->state = JOB_NB_DYNAMIC;
        return;
    } else if (!txn_ok(status)) {
        job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                 "setting port security on \"%s\" failed: %s", job->lport,
                 ovsdb_idl_txn_status_to_string(status));
        return;
    }
    job->state = JOB_PLUMB;
}

static void
add_run_plumb(struct job *job, const struct attach_ctx *ctx)
{
    struct cni_request *req = &job->req;
    struct pod_net_spec spec;
    char *error = NULL;

    job_mark_phase(job, PHASE_NB);

    memset(&spec, 0, sizeof spec);
    spec.netns_path = req->netns;
    spec.ifname = req->ifname;
    spec.host_ifname = job->host_ifname;
    spec.mac = job->addr.mac;
    spec.mtu = job->mtu;
    spec.addrs[0].family = AF_INET;
    spec.addrs[0].in4.s_addr = job->addr.ip;
    spec.addrs[0].plen = job->plen;
    spec.n_addrs = 1;
    if (req->conf.has_gateway) {
        spec.has_gateway4 = true;
        spec.gateway4.s_addr = req->conf.gateway;
    }

    /* An earlier ADD of this attachment that did not answer (its daemon
     * exited at the drain timeout, or died; the runtime retries) may have
     * left the veth plumbed and on the bridge.  If it is as this ADD wants
     * it, keep it: ovs-vswitchd holds a port's device open and would not
     * follow a re-created one of the same name.  Otherwise its host end
     * would make creation fail; the name is ours alone.  From here on the
     * local side is this job's to undo. */
    struct pod_net_state state;
    int err = 0;
    job->net_created = true;
    if (ovs_port_find_port(ctx->ovs_ix, job->host_ifname)
        && !pod_net_check_state(&spec, &state, NULL)) {
        VLOG_INFO("%s/%s: keeping veth %s from an earlier ADD",
                  req->container_id, req->ifname, job->host_ifname);
    } else {
        pod_net_del(job->host_ifname, "", "", NULL);
        err = pod_net_add(&spec, &state, &error);
    }
    if (err) {
        /* pod-net reports a missing namespace as ENOENT and a path that is
         * not one as EINVAL: both are a bad CNI_NETNS. */
        job_fail(job, ctx,
                 (err == ENOENT || err == EINVAL || err == ENOTDIR
                  || err == EACCES) ? OVN_LM_CNI_INVALID_ENV
                 : OVN_LM_CNI_NETLINK_FAILURE,
                 "%s", error ? error : ovs_strerror(err));
        free(error);
        return;
    }
    job->net_created = true;
    job->host_mac = state.host_mac;
    job_mark_phase(job, PHASE_PLUMB);

    /* The OVS port. */
    const struct ovsrec_bridge *br = ovs_port_find_bridge(ctx->ovs_idl,
                                                          job->bridge);
    if (!br) {
        job_fail(job, ctx, OVN_LM_CNI_TRY_AGAIN_LATER,
                 "integration bridge \"%s\" disappeared", job->bridge);
        return;
    }
    struct smap ids = SMAP_INITIALIZER(&ids);
    add_build_external_ids(job, ctx, &ids);
    smap_add(&ids, OVS_PORT_KEY_NETNS, req->netns);
    smap_add_format(&ids, OVS_PORT_KEY_RECORD, OVN_LM_RECORD_FMT,
                    req->conf.state_dir, req->conf.network,
                    req->container_id, req->ifname);
    struct stat st;
    if (!stat(req->netns, &st)) {
        /* Tells a dead pod's reused path (/proc/PID/...) from its own. */
        smap_add_format(&ids, OVS_PORT_KEY_NETNS_ID, "%llu:%llu",
                        (unsigned long long) st.st_dev,
                        (unsigned long long) st.st_ino);
    }
    smap_add_format(&ids, "attached-mac", ETH_ADDR_FMT,
                    ETH_ADDR_ARGS(job->addr.mac));
    if (smap_get_bool(&req->annotations, MIGRATION_AUTO_RARP, false)) {
        smap_add(&ids, MIGRATION_IFACE_AUTO_RARP, "true");
    }

    job->ovs_txn = ovsdb_idl_txn_create(ctx->ovs_idl);
    ovsdb_idl_txn_add_comment(job->ovs_txn, "ovn-controller-ext: ADD %s",
                              req->container_id);
    const struct ovsrec_port *old = ovs_port_find_port(ctx->ovs_ix,
                                                       job->host_ifname);
    if (old) {
        ovs_port_delete(ctx->ovs_idl, old);
    }
    ovs_port_add(job->ovs_txn, br, job->host_ifname, job->lport, &ids);
    job->ovs_added = true;
    smap_destroy(&ids);
    txn_poll(job->ovs_txn);
    job->state = JOB_OVS_COMMIT;
}

static void
add_run_ovs_commit(struct job *job, const struct attach_ctx *ctx)
{
    enum ovsdb_idl_txn_status status = txn_finish(&job->ovs_txn);

    if (status == TXN_INCOMPLETE) {
        return;
    } else if (!txn_ok(status)) {
        job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                 "adding port %s to bridge %s failed: %s", job->host_ifname,
                 job->bridge, ovsdb_idl_txn_status_to_string(status));
        return;
    }
    job_mark_phase(job, PHASE_OVS);
    job->state = JOB_WAIT_INSTALLED;
}

static cJSON *
add_build_result(const struct job *job)
{
    const struct cni_request *req = &job->req;
    cJSON *result = cJSON_CreateObject();
    char buf[64];

    cJSON *ifaces = cJSON_AddArrayToObject(result, "interfaces");
    cJSON *host = cJSON_CreateObject();
    cJSON_AddStringToObject(host, "name", job->host_ifname);
    snprintf(buf, sizeof buf, ETH_ADDR_FMT, ETH_ADDR_ARGS(job->host_mac));
    cJSON_AddStringToObject(host, "mac", buf);
    cJSON_AddItemToArray(ifaces, host);

    cJSON *pod = cJSON_CreateObject();
    cJSON_AddStringToObject(pod, "name", req->ifname);
    snprintf(buf, sizeof buf, ETH_ADDR_FMT, ETH_ADDR_ARGS(job->addr.mac));
    cJSON_AddStringToObject(pod, "mac", buf);
    cJSON_AddNumberToObject(pod, "mtu", job->mtu);
    cJSON_AddStringToObject(pod, "sandbox", req->netns);
    cJSON_AddItemToArray(ifaces, pod);

    cJSON *ips = cJSON_AddArrayToObject(result, "ips");
    cJSON *ip = cJSON_CreateObject();
    snprintf(buf, sizeof buf, IP_FMT"/%u", IP_ARGS(job->addr.ip), job->plen);
    cJSON_AddStringToObject(ip, "address", buf);
    if (req->conf.has_gateway) {
        snprintf(buf, sizeof buf, IP_FMT, IP_ARGS(req->conf.gateway));
        cJSON_AddStringToObject(ip, "gateway", buf);
    }
    cJSON_AddNumberToObject(ip, "interface", 1);
    cJSON_AddItemToArray(ips, ip);

    cJSON *routes = cJSON_AddArrayToObject(result, "routes");
    if (req->conf.has_gateway) {
        cJSON *route = cJSON_CreateObject();
        cJSON_AddStringToObject(route, "dst", "0.0.0.0/0");
        snprintf(buf, sizeof buf, IP_FMT, IP_ARGS(req->conf.gateway));
        cJSON_AddStringToObject(route, "gw", buf);
        cJSON_AddItemToArray(routes, route);
    }
    cJSON_AddObjectToObject(result, "dns");
    return result;
}

static void
add_run_wait_installed(struct attach *a, struct job *job,
                       const struct attach_ctx *ctx)
{
    const struct ovsrec_interface *iface
        = ovs_port_find_iface(ctx->ovs_ix, job->host_ifname);

    if (!ovs_port_is_installed(iface)) {
        const char *err = ovs_port_iface_error(iface);
        if (err) {
            job_fail(job, ctx, OVN_LM_CNI_OVN_FAILURE,
                     "ovs-vswitchd cannot use %s: %s", job->host_ifname,
                     err);
        } else if (time_msec() >= job->deadline) {
            job_fail(job, ctx, OVN_LM_CNI_TIMEOUT,
                     "ovn-controller did not install logical port \"%s\" "
                     "within %.1f s (is ovn-controller running on chassis "
                     "%s?)", job->lport, job->req.conf.ready_timeout,
                     ctx->chassis ? ctx->chassis : "(unknown)");
        }
        return;
    }
    job_mark_phase(job, PHASE_INSTALLED);

    if (job->mig_target && ctx->migration) {
        /* Claimed here too: traffic now reaches both chassis. */
        migration_note(ctx->migration, job->lport, MIGRATION_KEY_T_DUP,
                       migration_wall_ms());
        if (smap_get_bool(&job->req.annotations, MIGRATION_AUTO_RARP,
                          false)) {
            migration_watch_auto_rarp(ctx->migration, job->lport,
                                      job->req.netns);
        }
    }

    long long int t0 = job->started_us;
    VLOG_INFO("ADD %s/%s port %s%s on %s: "IP_FMT"/%u "ETH_ADDR_FMT" ready in "
              "%.1f ms (nb %.1f, plumb %.1f, ovs %.1f, installed %.1f)",
              job->req.container_id, job->req.ifname, job->lport,
              job->mig_target ? " (migration target)" : "",
              job->host_ifname, IP_ARGS(job->addr.ip), job->plen,
              ETH_ADDR_ARGS(job->addr.mac),
              (job->phase_us[PHASE_INSTALLED] - t0) / 1000.0,
              (job->phase_us[PHASE_NB] - t0) / 1000.0,
              (job->phase_us[PHASE_PLUMB] - job->phase_us[PHASE_NB]) / 1000.0,
              (job->phase_us[PHASE_OVS] - job->phase_us[PHASE_PLUMB])
              / 1000.0,
              (job->phase_us[PHASE_INSTALLED] - job->phase_us[PHASE_OVS])
              / 1000.0);

    cJSON *result = add_build_result(job);
    job_finish(a, job, cni_response_result(result));
    cJSON_Delete(result);
}

/* ------------------------------------------------------------------ */
/* DEL, GC, CHECK, STATUS.                                             */
/* ------------------------------------------------------------------ */

static bool
del_start(struct job *job, const struct attach_ctx *ctx)
{
    if (!idl_ready(ctx->nb_idl) || !idl_ready(ctx->ovs_idl)) {
        if (time_msec() - job->started < ATTACH_CONNECT_WAIT_MS) {
            return false;
        }
        /* Still remove the veth: it is ours, and the pod may be gone
         * for good.  The database rows wait for the retry. */
        char name[16];
        pod_net_host_ifname(job->req.container_id, job->req.ifname, name);
        pod_net_del(name, job->req.netns, job->req.ifname, NULL);
        job_set_error(job, OVN_LM_CNI_TRY_AGAIN_LATER,
                      xasprintf("%s database not connected",
                                !idl_ready(ctx->nb_idl) ? "OVN Northbound"
                                : "Open_vSwitch"));
        teardown_commit(job);
        return true;
    }

    struct teardown_target t = {
        .container_id = job->req.container_id,
        .ifname = job->req.ifname,
        .netns = job->req.netns,
    };
    pod_net_host_ifname(t.container_id, t.ifname, t.host_ifname);
    teardown_add_target(job, ctx, &t);
    teardown_commit(job);
    return true;
}

/* Whether the pod of OVS interface 'iface' is gone: its namespace path
 * no longer exists, or now names another namespace. */
static bool
attach_pod_is_gone(const struct ovsrec_interface *iface)
{
    const char *netns = smap_get(&iface->external_ids, OVS_PORT_KEY_NETNS);
    const char *id = smap_get(&iface->external_ids, OVS_PORT_KEY_NETNS_ID);
    struct stat st;

    if (!netns || !netns[0]) {
        return false;
    }
    if (stat(netns, &st)) {
        return errno == ENOENT || errno == ENOTDIR;
    }
    if (id) {
        char now[64];
        snprintf(now, sizeof now, "%llu:%llu",
                 (unsigned long long) st.st_dev,
                 (unsigned long long) st.st_ino);
        return strcmp(now, id) != 0;
    }
    return false;
}

static void
sweep_remove_record(const struct ovsrec_interface *iface, const char *cid,
                    const char *ifname)
{
    const char *path = smap_get(&iface->external_ids, OVS_PORT_KEY_RECORD);
    char *tail = xasprintf("/%s:%s", cid, ifname);

    /* Only a file that looks like the record this attachment wrote. */
    if (path && path[0] == '/' && !strstr(path, "/../")
        && strlen(path) > strlen(tail)
        && !strcmp(path + strlen(path) - strlen(tail), tail)
        && unlink(path) && errno != ENOENT) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
        VLOG_WARN_RL(&rl, "cannot remove %s: %s", path, ovs_strerror(errno));
    }
    free(tail);
}

/* Queues an internal job that removes the attachments of pods that are
 * gone without a DEL (a runtime that gave up while the daemon was down, or
 * never retries).  'conn', if nonnull, is answered once the job is done:
 * its removals committed (or failed). */
void
attach_sweep(struct attach *a, struct unixctl_conn *conn)
{
    struct job *job = xzalloc(sizeof *job);

    cni_request_init(&job->req);
    job->req.command = CNI_CMD_GC;
    job->req.container_id = xstrdup("(sweep)");
    job->req.netns = xstrdup("");
    job->req.ifname = xstrdup("");
    job->req.conf.network = xstrdup("");
    job->sweep = true;
    job->ctl_conn = conn;
    job->state = JOB_START;
    job->started = time_msec();
    job->started_us = time_usec();
    job->deadline = job->started + ATTACH_TEARDOWN_MS;
    ovs_list_push_back(&a->jobs, &job->node);
    a->n_jobs++;
    a->n_swept++;
}

static bool
gc_is_valid(const struct cni_request *req, const char *cid,
            const char *ifname)
{
    for (size_t i = 0; i < req->n_valid; i++) {
        if (!strcmp(req->valid[i].container_id, cid)
            && !strcmp(req->valid[i].ifname, ifname)) {
            return true;
        }
    }
    return false;
}

/* GC: removes this node's attachments of the request's network that the
 * runtime no longer lists as valid. */
static void
gc_start(struct job *job, const struct attach_ctx *ctx)
{
    const struct cni_request *req = &job->req;

    if (!idl_ready(ctx->nb_idl) || !idl_ready(ctx->ovs_idl)) {
        if (time_msec() - job->started >= ATTACH_CONNECT_WAIT_MS) {
            job_set_error(job, OVN_LM_CNI_TRY_AGAIN_LATER,
                          xstrdup("databases not connected"));
            teardown_commit(job);
        }
        return;
    }

    struct sset seen = SSET_INITIALIZER(&seen);
    const struct ovsrec_interface *iface;
    int n = 0;
    OVSREC_INTERFACE_FOR_EACH (iface, ctx->ovs_idl) {
        const char *cid = smap_get(&iface->external_ids,
                                   NB_PORT_KEY_CONTAINER);
        const char *ifname = smap_get(&iface->external_ids,
                                      NB_PORT_KEY_IFNAME);
        const char *net = smap_get(&iface->external_ids,
                                   NB_PORT_KEY_NETWORK);
        if (!cid || !ifname || !net
            || (!job->sweep && strcmp(net, req->conf.network))) {
            continue;
        }
        sset_add_and_free(&seen, xasprintf("%s:%s", cid, ifname));
        if (job->sweep ? !attach_pod_is_gone(iface)
                       : gc_is_valid(req, cid, ifname)) {
            continue;
        }
        struct teardown_target t = {
            .container_id = cid,
            .ifname = ifname,
            .netns = smap_get_def(&iface->external_ids, OVS_PORT_KEY_NETNS,
                                  ""),
        };
        ovs_strlcpy(t.host_ifname, iface->name, sizeof t.host_ifname);
        VLOG_INFO("%s: removing attachment %s/%s (%s)",
                  job->sweep ? "pod namespace gone" : "GC", cid, ifname,
                  iface->name);
        teardown_add_target(job, ctx, &t);
        if (job->sweep) {
            /* No DEL will come to drop the plugin's record: the runtime
             * gave up.  (GC's caller, the plugin, drops its own.) */
            sweep_remove_record(iface, cid, ifname);
        }
        n++;
        job->n_removed++;
    }

    /* Logical ports this chassis holds whose OVS side is already gone. */
    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        if (job->sweep) {
            /* A sweep knows pods by their OVS side only. */
            break;
        }
        const struct smap *ids = &lsp->external_ids;
        const char *cid = smap_get(ids, NB_PORT_KEY_CONTAINER);
        const char *ifname = smap_get(ids, NB_PORT_KEY_IFNAME);
        const char *net = smap_get(ids, NB_PORT_KEY_NETWORK);
        const char *chassis = smap_get(ids, NB_PORT_KEY_CHASSIS);
        if (!cid || !ifname || !net || strcmp(net, req->conf.network)
            || !chassis || !ctx->chassis || strcmp(chassis, ctx->chassis)
            || gc_is_valid(req, cid, ifname) || migration_in_progress(lsp)) {
            continue;
        }
        char *key = xasprintf("%s:%s", cid, ifname);
        bool had_iface = sset_contains(&seen, key);
        free(key);
        if (!had_iface) {
            if (!job->nb_txn) {
                job->nb_txn = ovsdb_idl_txn_create(ctx->nb_idl);
            }
            VLOG_INFO("GC: removing orphaned logical port %s (%s/%s)",
                      lsp->name, cid, ifname);
            nb_port_delete(ctx->nb_idl, ctx->nb_ix, lsp);
            n++;
        }
    }
    sset_destroy(&seen);
    VLOG_DBG("GC of network %s: %d attachment(s) to remove",
             req->conf.network, n);
    teardown_commit(job);
}

/* Parses the pod interface, addresses and MTU out of a CNI result of any
 * version. */
static char *
check_parse_prev(const struct cni_request *req, struct pod_net_spec *spec,
                 struct nb_port_addr *addr)
{
    const cJSON *prev = req->prev_result;
    const cJSON *ifaces = cJSON_GetObjectItemCaseSensitive(prev,
                                                           "interfaces");
    const cJSON *item;
    int index = 0, pod_index = -1;

    cJSON_ArrayForEach (item, ifaces) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(item, "name");
        const cJSON *sandbox = cJSON_GetObjectItemCaseSensitive(item,
                                                                "sandbox");
        if (cJSON_IsString(name) && !strcmp(name->valuestring, req->ifname)
            && cJSON_IsString(sandbox) && sandbox->valuestring[0]) {
            const cJSON *mac = cJSON_GetObjectItemCaseSensitive(item, "mac");
            const cJSON *mtu = cJSON_GetObjectItemCaseSensitive(item, "mtu");
            if (!cJSON_IsString(mac)
                || !eth_addr_from_string(mac->valuestring, &spec->mac)) {
                return xstrdup("prevResult: interface has no valid mac");
            }
            if (cJSON_IsNumber(mtu)) {
                spec->mtu = mtu->valueint;
            }
            pod_index = index;
        }
        index++;
    }
    if (pod_index < 0) {
        return xasprintf("prevResult: no interface \"%s\" with a sandbox",
                         req->ifname);
    }
    addr->mac = spec->mac;

    const cJSON *ips = cJSON_GetObjectItemCaseSensitive(prev, "ips");
    cJSON_ArrayForEach (item, ips) {
        const cJSON *address = cJSON_GetObjectItemCaseSensitive(item,
                                                                "address");
        const cJSON *iface = cJSON_GetObjectItemCaseSensitive(item,
                                                              "interface");
        ovs_be32 ip;
        unsigned int plen;
        if (cJSON_IsNumber(iface) && iface->valueint != pod_index) {
            continue;
        }
        if (!cJSON_IsString(address)) {
            return xstrdup("prevResult: ip without an address");
        }
        char *error = ip_parse_cidr(address->valuestring, &ip, &plen);
        if (error) {
            /* IPv6 entries are not ours to check (yet). */
            free(error);
            continue;
        }
        if (spec->n_addrs < ARRAY_SIZE(spec->addrs)) {
            struct pod_net_addr *a = &spec->addrs[spec->n_addrs++];
            a->family = AF_INET;
            a->in4.s_addr = ip;
            a->plen = plen;
            addr->ip = ip;
        }
    }
    if (!spec->n_addrs) {
        return xstrdup("prevResult: no IPv4 address for the interface");
    }
    return NULL;
}

static char *
check_run(const struct job *job, const struct attach_ctx *ctx)
{
    const struct cni_request *req = &job->req;
    struct pod_net_spec spec;
    struct nb_port_addr want, have;
    char host_ifname[POD_NET_IFNAMSIZ];

    if (!req->prev_result) {
        return xstrdup("prevResult: missing");
    }
    memset(&spec, 0, sizeof spec);
    memset(&want, 0, sizeof want);
    char *error = check_parse_prev(req, &spec, &want);
    if (error) {
        return error;
    }

    pod_net_host_ifname(req->container_id, req->ifname, host_ifname);
    const struct ovsrec_interface *iface
        = ovs_port_find_iface(ctx->ovs_ix, host_ifname);
    if (!iface) {
        return xasprintf("OVS interface %s is missing", host_ifname);
    }
    const char *iface_id = smap_get(&iface->external_ids, "iface-id");
    if (!iface_id) {
        return xasprintf("OVS interface %s has no external_ids:iface-id",
                         host_ifname);
    }
    if (!ovs_port_is_installed(iface)) {
        return xasprintf("OVS interface %s is not ovn-installed",
                         host_ifname);
    }
    const struct nbrec_logical_switch_port *lsp
        = nb_port_find(ctx->nb_ix, iface_id);
    if (!lsp) {
        return xasprintf("logical port \"%s\" is missing", iface_id);
    }
    if (!nb_port_get_address(lsp, &have)) {
        return xasprintf("logical port \"%s\" has no address", iface_id);
    }
    if (!eth_addr_equals(have.mac, want.mac) || have.ip != want.ip) {
        return xasprintf("logical port \"%s\" has "ETH_ADDR_FMT" "IP_FMT", "
                         "prevResult says "ETH_ADDR_FMT" "IP_FMT, iface_id,
                         ETH_ADDR_ARGS(have.mac), IP_ARGS(have.ip),
                         ETH_ADDR_ARGS(want.mac), IP_ARGS(want.ip));
    }

    if (!spec.mtu) {
        /* Results before 1.1.0 carry no MTU: expect what ADD would set. */
        spec.mtu = req->conf.mtu ? req->conf.mtu : ctx->default_mtu;
    }
    spec.netns_path = req->netns;
    spec.ifname = req->ifname;
    spec.host_ifname = host_ifname;
    int err = pod_net_check(&spec, &error);
    if (err) {
        return error ? error : xstrdup(ovs_strerror(err));
    }
    return NULL;
}

static char *
status_run(const struct attach_ctx *ctx)
{
    if (!idl_ready(ctx->ovs_idl)) {
        return xstrdup("not connected to the Open_vSwitch database");
    }
    if (!idl_ready(ctx->nb_idl)) {
        return xstrdup("not connected to the OVN Northbound database");
    }
    if (ctx->sb_idl && !idl_ready(ctx->sb_idl)) {
        return xstrdup("not connected to the OVN Southbound database");
    }
    const char *bridge = ctx->default_bridge ? ctx->default_bridge
                                             : OVN_LM_DEFAULT_BRIDGE;
    if (!ovs_port_find_bridge(ctx->ovs_idl, bridge)) {
        return xasprintf("integration bridge %s does not exist", bridge);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */

static void
job_run(struct attach *a, struct job *job, const struct attach_ctx *ctx)
{
    char *error;

    switch (job->state) {
    case JOB_START:
        switch (job->req.command) {
        case CNI_CMD_ADD:
            add_start(job, ctx);
            break;
        case CNI_CMD_DEL:
            del_start(job, ctx);
            break;
        case CNI_CMD_GC:
            gc_start(job, ctx);
            break;
        case CNI_CMD_CHECK:
            if (!idl_ready(ctx->nb_idl) || !idl_ready(ctx->ovs_idl)) {
                if (time_msec() - job->started >= ATTACH_CONNECT_WAIT_MS) {
                    a->stats.n_errors[job->req.command]++;
                    job_finish(a, job, cni_response_error(
                                   OVN_LM_CNI_TRY_AGAIN_LATER,
                                   "databases not connected", NULL));
                }
                return;
            }
            error = check_run(job, ctx);
            if (error) {
                a->stats.n_errors[job->req.command]++;
                job_finish(a, job, cni_response_error(
                               OVN_LM_CNI_CHECK_FAILED, error, NULL));
                free(error);
            } else {
                job_finish(a, job, cni_response_result(NULL));
            }
            return;
        case CNI_CMD_STATUS:
            error = status_run(ctx);
            if (error) {
                a->stats.n_errors[job->req.command]++;
                job_finish(a, job, cni_response_error(
                               OVN_LM_CNI_PLUGIN_NOT_AVAILABLE, error,
                               NULL));
                free(error);
            } else {
                job_finish(a, job, cni_response_result(NULL));
            }
            return;
        }
        break;
    case JOB_MIG_REARM:
        add_run_mig_rearm(job, ctx);
        break;
    case JOB_MIG_PREPARE:
        add_run_mig_prepare(job, ctx);
        break;
    case JOB_NB_COMMIT:
        add_run_nb_commit(job, ctx);
        break;
    case JOB_NB_DYNAMIC:
        add_run_nb_dynamic(job, ctx);
        break;
    case JOB_NB_SECURITY:
        add_run_nb_security(job, ctx);
        break;
    case JOB_PLUMB:
        add_run_plumb(job, ctx);
        break;
    case JOB_OVS_COMMIT:
        add_run_ovs_commit(job, ctx);
        break;
    case JOB_WAIT_INSTALLED:
        add_run_wait_installed(a, job, ctx);
        return;
    case JOB_TEARDOWN:
        run_teardown(a, job, ctx);
        return;
    case JOB_DONE:
        return;
    }
}

/* Advances every job as far as it can go now. */
void
attach_run(struct attach *a, const struct attach_ctx *ctx)
{
    struct job *job;

    a->metrics = ctx->metrics;
    if (!a->draining && time_msec() >= a->next_sweep
        && idl_ready(ctx->ovs_idl)
        && idl_ready(ctx->nb_idl)) {
        a->next_sweep = time_msec() + ATTACH_SWEEP_INTERVAL_MS;
        attach_sweep(a, NULL);
    }

    LIST_FOR_EACH_SAFE (job, node, &a->jobs) {
        /* A job may pass through several states in one go. */
        for (int i = 0; i < 8 && job->state != JOB_DONE; i++) {
            enum job_state before = job->state;
            job_run(a, job, ctx);
            if (before == JOB_TEARDOWN || before == JOB_WAIT_INSTALLED
                || job->state == before) {
                break;
            }
        }
        if (job->state == JOB_DONE) {
            ovs_list_remove(&job->node);
            a->n_jobs--;
            job_destroy(job);
        }
    }
}

void
attach_wait(struct attach *a, const struct attach_ctx *ctx)
{
    struct job *job;

    /* A sweep waits for both databases (attach_run()); until then the
     * IDLs wake us when they connect, and a past deadline would spin. */
    if (!a->draining && idl_ready(ctx->ovs_idl) && idl_ready(ctx->nb_idl)) {
        poll_timer_wait_until(a->next_sweep);
    }

    LIST_FOR_EACH (job, node, &a->jobs) {
        if (job->nb_txn) {
            ovsdb_idl_txn_wait(job->nb_txn);
        }
        if (job->ovs_txn) {
            ovsdb_idl_txn_wait(job->ovs_txn);
        }
        if (job->state == JOB_START || job->state == JOB_PLUMB) {
            /* Waiting for a connection, or a retry: check again soon. */
            poll_timer_wait(100);
        }
        poll_timer_wait_until(job->deadline);
        if (job->mig_complete) {
            poll_timer_wait_until(job->mig_release_deadline);
        }
        if (job->state == JOB_START) {
            poll_timer_wait_until(job->started + ATTACH_CONNECT_WAIT_MS);
        }
    }
}

unsigned int
attach_n_jobs(const struct attach *a)
{
    return a->n_jobs;
}

/* Formats the requests in progress, one a line. */
void
attach_format_jobs(const struct attach *a, struct ds *s)
{
    const struct job *job;
    long long int now = time_msec();

    LIST_FOR_EACH (job, node, &a->jobs) {
        ds_put_format(s, "%s container=%s ifname=%s port=%s state=%s "
                      "age=%lldms\n", cni_command_to_string(job->req.command),
                      job->req.container_id, job->req.ifname,
                      job->lport ? job->lport : "-",
                      job_state_names[job->state], now - job->started);
    }
}

/* Formats the attachments this node holds, from the Open_vSwitch database
 * (the record of truth), one a line. */
void
attach_format_ports(const struct attach_ctx *ctx, struct ds *s)
{
    const struct ovsrec_interface *iface;

    OVSREC_INTERFACE_FOR_EACH (iface, ctx->ovs_idl) {
        const struct smap *ids = &iface->external_ids;
        const char *cid = smap_get(ids, NB_PORT_KEY_CONTAINER);
        if (!cid) {
            continue;
        }
        const char *lport = smap_get_def(ids, "iface-id", "-");
        const struct nbrec_logical_switch_port *lsp
            = ctx->nb_idl ? nb_port_find(ctx->nb_ix, lport) : NULL;
        struct nb_port_addr addr;
        char address[64] = "-";
        if (lsp && nb_port_get_address(lsp, &addr)) {
            snprintf(address, sizeof address, ETH_ADDR_FMT" "IP_FMT,
                     ETH_ADDR_ARGS(addr.mac), IP_ARGS(addr.ip));
        }
        ds_put_format(s, "%s port=%s container=%s ifname=%s network=%s "
                      "netns=%s address=\"%s\" installed=%s nb=%s\n",
                      iface->name, lport, cid,
                      smap_get_def(ids, NB_PORT_KEY_IFNAME, "-"),
                      smap_get_def(ids, NB_PORT_KEY_NETWORK, "-"),
                      smap_get_def(ids, OVS_PORT_KEY_NETNS, "-"), address,
                      ovs_port_is_installed(iface) ? "true" : "false",
                      !lsp ? "missing"
                      : nb_port_is_owned_by(lsp, cid, smap_get_def(
                                                ids, NB_PORT_KEY_IFNAME, ""))
                      ? "owned" : "other-holder");
    }
}

void
attach_format_stats(const struct attach *a, struct ds *s)
{
    for (int i = 0; i <= CNI_CMD_STATUS; i++) {
        ds_put_format(s, "%s requests=%llu errors=%llu\n",
                      cni_command_to_string(i), a->stats.n_requests[i],
                      a->stats.n_errors[i]);
    }
}
