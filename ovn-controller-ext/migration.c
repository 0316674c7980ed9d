/*
 * Live migration on multi-chassis port binding (see migration.h).
 */
#include <config.h>
#include "migration.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attach.h"
#include "cni-request.h"
#include "lib/ovn-nb-idl.h"
#include "lib/ovn-sb-idl.h"
#include "lib/vswitch-idl.h"
#include "metrics.h"
#include "nb-port.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovs-port.h"
#include "ovsdb-idl.h"
#include "pod-net.h"
#include "smap.h"
#include "timeval.h"
#include "unixctl.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(migration);

/* How often a target with auto-RARP looks for its workload. */
#define MIGRATION_AUTO_RARP_POLL_MS 20

/* Finished migrations kept for ovn-lm/migrations. */
#define MIGRATION_HISTORY 64

static const char *const state_names[] = {
    [MIGRATION_NONE] = "none",
    [MIGRATION_PREPARED] = "prepared",
    [MIGRATION_ACTIVATED] = "activated",
    [MIGRATION_COMPLETED] = "completed",
    [MIGRATION_ROLLED_BACK] = "rolled-back",
};

/* One operation in flight: a transaction and, for a control command, the
 * connection to answer. */
struct migration_op {
    struct ovs_list node;
    char *lport;
    char *what;                 /* For logs and the reply. */
    struct ovsdb_idl_txn *txn;
    struct unixctl_conn *conn;  /* May be NULL. */
    enum migration_state final; /* NONE, or the end state it commits. */
    struct migration_final *record; /* Kept once 'txn' commits. */
    migration_done_func *done;  /* Called once 'txn' commits. */
    void *done_aux;
    int done_tag;

    /* A note (migration_note()): retried after "try again". */
    char *note_key;
    long long int note_value;
    unsigned int composed_seqno; /* Northbound seqno the txn was made at. */
};

/* The end of a migration, as migration_final_record() keeps it. */
struct migration_final {
    char *text;                 /* For the log and ovn-lm/migrations. */
    bool completed;
    double phases[METRICS_N_PHASES];
};

/* A target waiting for its workload to start (auto-RARP). */
struct migration_watch {
    char *netns;
    ino_t netns_ino;
    dev_t netns_dev;
    long long int *pids;        /* Processes in the netns at ADD time. */
    size_t n_pids;
};

struct migration {
    long long int timeout_ms;
    struct ovs_list ops;        /* Contains "struct migration_op"s. */
    struct shash watches;       /* lport -> struct migration_watch. */
    long long int next_poll;
    /* The scan of migrating ports runs only when something it reads may
     * have changed, not on every wake-up of the loop. */
    unsigned int nb_seqno, sb_seqno;
    long long int next_timeout_check;

    char *history[MIGRATION_HISTORY];
    size_t n_history;           /* Total ever recorded. */

    const struct attach_ctx *(*get_ctx)(void *);
    void *get_ctx_aux;
};

const char *
migration_state_to_string(enum migration_state state)
{
    return state < ARRAY_SIZE(state_names) ? state_names[state] : "?";
}

enum migration_state
migration_get_state(const struct nbrec_logical_switch_port *lsp)
{
    const char *s = smap_get(&lsp->external_ids, MIGRATION_KEY_STATE);
    for (size_t i = 1; s && i < ARRAY_SIZE(state_names); i++) {
        if (!strcmp(s, state_names[i])) {
            return i;
        }
    }
    return MIGRATION_NONE;
}

bool
migration_in_progress(const struct nbrec_logical_switch_port *lsp)
{
    enum migration_state state = migration_get_state(lsp);
    return state == MIGRATION_PREPARED || state == MIGRATION_ACTIVATED;
}

/* Whether the pod of 'req' asked for a port that can move: KubeVirt's
 * annotation (its presence is what counts) or ours set to "true". */
bool
migration_opted_in(const struct cni_request *req)
{
    return (smap_get(&req->annotations, MIGRATION_KUBEVIRT_OPT_IN)
            || smap_get_bool(&req->annotations, MIGRATION_OPT_IN, false));
}

bool
migration_is_target(const struct nbrec_logical_switch_port *lsp,
                    const char *container_id, const char *ifname)
{
    const struct smap *ids = &lsp->external_ids;
    const char *cid = smap_get(ids, MIGRATION_KEY_DST_CONTAINER);
    const char *ifn = smap_get(ids, MIGRATION_KEY_DST_IFNAME);
    return (migration_in_progress(lsp) && cid && ifn
            && !strcmp(cid, container_id) && !strcmp(ifn, ifname));
}

/* The chassis a previous migration activated, if Southbound still says so.
 * Until northd clears it, a new migration to that chassis would not be
 * blocked. */
const char *
migration_stale_activation(const struct sbrec_port_binding *pb)
{
    return pb ? smap_get(&pb->options, "additional-chassis-activated")
              : NULL;
}

long long int
migration_wall_ms(void)
{
    return time_wall_msec();
}

/* The IDL warns about deleting a key that is not there. */
static void
del_ext_key(const struct nbrec_logical_switch_port *lsp, const char *key)
{
    if (smap_get(&lsp->external_ids, key)) {
        nbrec_logical_switch_port_update_external_ids_delkey(lsp, key);
    }
}

static void
del_option(const struct nbrec_logical_switch_port *lsp, const char *key)
{
    if (smap_get(&lsp->options, key)) {
        nbrec_logical_switch_port_update_options_delkey(lsp, key);
    }
}

static void
set_time_key(const struct nbrec_logical_switch_port *lsp, const char *key,
             long long int ms)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", ms);
    nbrec_logical_switch_port_update_external_ids_setkey(lsp, key, buf);
}

/* Prepares the target: duplication to both chassis, target blocked until
 * the workload's RARP.  The source stays the port's holder. */
void
migration_txn_prepare(const struct nbrec_logical_switch_port *lsp,
                      const char *src, const char *dst,
                      const char *dst_container, const char *dst_ifname,
                      const char *dst_pod, const char *uid)
{
    char *chassis = xasprintf("%s,%s", src, dst);
    nbrec_logical_switch_port_update_options_setkey(lsp, "requested-chassis",
                                                    chassis);
    free(chassis);
    nbrec_logical_switch_port_update_options_setkey(
        lsp, "activation-strategy", "rarp");

    const struct smap *ids = &lsp->external_ids;
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_STATE, state_names[MIGRATION_PREPARED]);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_SRC, src);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_DST, dst);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_DST_CONTAINER, dst_container);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_DST_IFNAME, dst_ifname);
    if (dst_pod) {
        nbrec_logical_switch_port_update_external_ids_setkey(
            lsp, MIGRATION_KEY_DST_POD, dst_pod);
    } else {
        del_ext_key(lsp, MIGRATION_KEY_DST_POD);
    }
    if (uid) {
        nbrec_logical_switch_port_update_external_ids_setkey(
            lsp, MIGRATION_KEY_UID, uid);
    } else {
        del_ext_key(lsp, MIGRATION_KEY_UID);
    }
    set_time_key(lsp, MIGRATION_KEY_T_ADD, migration_wall_ms());
    del_ext_key(lsp, MIGRATION_KEY_T_DUP);
    del_ext_key(lsp, MIGRATION_KEY_T_ACT);
    del_ext_key(lsp, MIGRATION_KEY_T_END);
    del_ext_key(lsp, MIGRATION_KEY_T_READY);
    del_ext_key(lsp, MIGRATION_KEY_ROLLBACK_REASON);
    const char *count_s = smap_get_def(ids, MIGRATION_KEY_COUNT, "0");
    long long int count;
    if (!isdigit((unsigned char) count_s[0])
        || !str_to_llong(count_s, 10, &count) || count == LLONG_MAX) {
        count = 0;              /* Garbage: count afresh. */
    }
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", count + 1);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_COUNT, buf);
}

/* Back to the source alone, so that northd drops a stale
 * additional-chassis-activated before the next migration is prepared. */
void
migration_txn_rearm(const struct nbrec_logical_switch_port *lsp,
                    const char *src)
{
    nbrec_logical_switch_port_update_options_setkey(lsp, "requested-chassis",
                                                    src);
    del_option(lsp, "activation-strategy");
}

static void
clear_target(const struct nbrec_logical_switch_port *lsp)
{
    del_option(lsp, "activation-strategy");
    del_ext_key(lsp, MIGRATION_KEY_DST_CONTAINER);
    del_ext_key(lsp, MIGRATION_KEY_DST_IFNAME);
    set_time_key(lsp, MIGRATION_KEY_T_END, migration_wall_ms());
}

/* The target becomes the port's only holder. */
void
migration_txn_complete(const struct nbrec_logical_switch_port *lsp)
{
    const struct smap *ids = &lsp->external_ids;
    const char *dst = smap_get(ids, MIGRATION_KEY_DST);
    const char *cid = smap_get(ids, MIGRATION_KEY_DST_CONTAINER);
    const char *ifname = smap_get(ids, MIGRATION_KEY_DST_IFNAME);

    if (!dst || !cid || !ifname) {
        return;
    }
    nbrec_logical_switch_port_update_options_setkey(lsp, "requested-chassis",
                                                    dst);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, NB_PORT_KEY_CHASSIS, dst);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, NB_PORT_KEY_CONTAINER, cid);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, NB_PORT_KEY_IFNAME, ifname);
    const char *pod = smap_get(ids, MIGRATION_KEY_DST_POD);
    if (pod) {
        nbrec_logical_switch_port_update_external_ids_setkey(
            lsp, NB_PORT_KEY_POD, pod);
    }
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_STATE, state_names[MIGRATION_COMPLETED]);
    clear_target(lsp);
}

/* The source stays the port's only holder. */
void
migration_txn_rollback(const struct nbrec_logical_switch_port *lsp,
                       const char *why)
{
    const char *src = smap_get(&lsp->external_ids, MIGRATION_KEY_SRC);

    if (src) {
        nbrec_logical_switch_port_update_options_setkey(
            lsp, "requested-chassis", src);
    }
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_STATE, state_names[MIGRATION_ROLLED_BACK]);
    nbrec_logical_switch_port_update_external_ids_setkey(
        lsp, MIGRATION_KEY_ROLLBACK_REASON, why);
    clear_target(lsp);
}

/* ------------------------------------------------------------------ */

struct migration *
migration_create(long long int timeout_ms)
{
    struct migration *m = xzalloc(sizeof *m);
    m->timeout_ms = timeout_ms;
    ovs_list_init(&m->ops);
    shash_init(&m->watches);
    return m;
}

static void
watch_destroy(struct migration_watch *w)
{
    if (w) {
        free(w->netns);
        free(w->pids);
        free(w);
    }
}

static void
op_destroy(struct migration_op *op)
{
    if (op) {
        if (op->txn) {
            ovsdb_idl_txn_destroy(op->txn);
        }
        if (op->conn) {
            unixctl_command_reply_error(op->conn, "daemon exiting");
        }
        migration_final_destroy(op->record);
        free(op->lport);
        free(op->what);
        free(op->note_key);
        free(op);
    }
}

/* How many transactions (transitions, control commands, notes) are in
 * flight. */
size_t
migration_n_pending(const struct migration *m)
{
    return ovs_list_size(&m->ops);
}

/* The daemon exits before the transactions in flight were confirmed:
 * answers the control commands waiting for them, saying 'why', and forgets
 * them.  Nothing is rolled back or completed for the exit: a transaction
 * already sent may still commit, and either way the port's external_ids
 * say where the migration stands for the next daemon. */
void
migration_abort(struct migration *m, const char *why)
{
    struct migration_op *op;

    LIST_FOR_EACH_POP (op, node, &m->ops) {
        VLOG_WARN("%s: migration %s not confirmed: %s", op->lport, op->what,
                  why);
        if (op->conn) {
            char *msg = xasprintf("%s of %s not confirmed: "
                                  "ovn-controller-ext is exiting (%s); the "
                                  "Northbound database may still commit it "
                                  "(see ovn-lm/migrations)", op->what,
                                  op->lport, why);
            unixctl_command_reply_error(op->conn, msg);
            free(msg);
            op->conn = NULL;
        }
        op_destroy(op);
    }
}

void
migration_destroy(struct migration *m)
{
    struct shash_node *node;

    if (!m) {
        return;
    }
    migration_abort(m, "it stopped");
    SHASH_FOR_EACH_SAFE (node, &m->watches) {
        watch_destroy(node->data);
        shash_delete(&m->watches, node);
    }
    shash_destroy(&m->watches);
    for (size_t i = 0; i < MIGRATION_HISTORY; i++) {
        free(m->history[i]);
    }
    free(m);
}

/* The time (ms since the epoch) that key 'key' of 'lsp''s external_ids
 * holds, or 0 if it is absent or not a plain non-negative decimal number
 * (anyone may write external_ids: garbage is not a time). */
static long long int
time_from_ids(const struct smap *ids, const char *key, const char *name)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);
    const char *s = smap_get(ids, key);
    long long int ms;

    if (!s) {
        return 0;
    }
    if (!isdigit((unsigned char) s[0]) || !str_to_llong(s, 10, &ms)) {
        VLOG_WARN_RL(&rl, "%s: ignoring %s=\"%s\": not a time in ms",
                     name, key, s);
        return 0;
    }
    return ms;
}

long long int
migration_get_time_key(const struct nbrec_logical_switch_port *lsp,
                       const char *key)
{
    return time_from_ids(&lsp->external_ids, key, lsp->name);
}

static long long int
get_time_key(const struct nbrec_logical_switch_port *lsp, const char *key)
{
    return migration_get_time_key(lsp, key);
}

static void
format_timeline(struct ds *s, const struct nbrec_logical_switch_port *lsp)
{
    const struct smap *ids = &lsp->external_ids;
    long long int t_add = get_time_key(lsp, MIGRATION_KEY_T_ADD);
    long long int t_dup = get_time_key(lsp, MIGRATION_KEY_T_DUP);
    long long int t_act = get_time_key(lsp, MIGRATION_KEY_T_ACT);
    long long int t_end = get_time_key(lsp, MIGRATION_KEY_T_END);

    ds_put_format(s, "%s %s -> %s state=%s", lsp->name,
                  smap_get_def(ids, MIGRATION_KEY_SRC, "?"),
                  smap_get_def(ids, MIGRATION_KEY_DST, "?"),
                  smap_get_def(ids, MIGRATION_KEY_STATE, "none"));
    if (t_add) {
        ds_put_format(s, " target-add=%lld", t_add);
    }
    if (t_dup) {
        ds_put_format(s, " duplicating=+%lldms", t_dup - t_add);
    }
    if (t_act) {
        ds_put_format(s, " activated=+%lldms", t_act - t_add);
    }
    if (t_end) {
        ds_put_format(s, " %s=+%lldms",
                      migration_get_state(lsp) == MIGRATION_ROLLED_BACK
                      ? "rolled-back" : "completed", t_end - t_add);
    }
    if (t_act && t_end && migration_get_state(lsp) == MIGRATION_COMPLETED) {
        ds_put_format(s, " (prepare %lldms, activation %lldms, "
                      "completion %lldms)", (t_dup ? t_dup : t_act) - t_add,
                      t_act - (t_dup ? t_dup : t_add), t_end - t_act);
    }
    const char *why = smap_get(ids, MIGRATION_KEY_ROLLBACK_REASON);
    if (migration_get_state(lsp) == MIGRATION_ROLLED_BACK && why) {
        ds_put_format(s, " reason=\"%s\"", why);
    }
}

/* Composes the record of the end of the migration of 'lsp' in state
 * 'final' (COMPLETED or ROLLED_BACK).  'lsp' is the row as it is before the
 * final transaction; the end time is now.  Nothing is logged or counted
 * until migration_final_record(): the transaction may still fail. */
struct migration_final *
migration_final_create(const struct nbrec_logical_switch_port *lsp,
                       enum migration_state final)
{
    struct migration_final *f = xzalloc(sizeof *f);
    struct ds s = DS_EMPTY_INITIALIZER;
    long long int t_add = get_time_key(lsp, MIGRATION_KEY_T_ADD);
    long long int t_dup = get_time_key(lsp, MIGRATION_KEY_T_DUP);
    long long int t_act = get_time_key(lsp, MIGRATION_KEY_T_ACT);
    long long int now = migration_wall_ms();

    ds_put_format(&s, "%s %s -> %s %s: target ADD at %lld", lsp->name,
                  smap_get_def(&lsp->external_ids, MIGRATION_KEY_SRC, "?"),
                  smap_get_def(&lsp->external_ids, MIGRATION_KEY_DST, "?"),
                  migration_state_to_string(final), t_add);
    if (t_dup) {
        ds_put_format(&s, ", duplicating +%lld ms", t_dup - t_add);
    }
    if (t_act) {
        ds_put_format(&s, ", activated +%lld ms", t_act - t_add);
    }
    ds_put_format(&s, ", %s +%lld ms",
                  final == MIGRATION_COMPLETED ? "completed" : "rolled back",
                  now - t_add);

    f->completed = final == MIGRATION_COMPLETED;
    for (size_t i = 0; i < METRICS_N_PHASES; i++) {
        f->phases[i] = -1;
    }
    if (t_dup) {
        f->phases[METRICS_PHASE_PREPARE] = (t_dup - t_add) / 1000.0;
    }
    if (t_act) {
        f->phases[METRICS_PHASE_ACTIVATION]
            = (t_act - (t_dup ? t_dup : t_add)) / 1000.0;
        if (f->completed) {
            f->phases[METRICS_PHASE_COMPLETION] = (now - t_act) / 1000.0;
        }
    }
    f->text = ds_steal_cstr(&s);
    return f;
}

void
migration_final_destroy(struct migration_final *f)
{
    if (f) {
        free(f->text);
        free(f);
    }
}

/* The final transaction of 'f' committed: logs it, counts it in 'metrics'
 * (may be NULL) and keeps it for ovn-lm/migrations.  Takes 'f'. */
void
migration_final_record(struct migration *m, struct metrics *metrics,
                       struct migration_final *f)
{
    if (!f) {
        return;
    }
    VLOG_INFO("migration %s", f->text);
    metrics_observe_migration(metrics, f->completed, f->phases);
    size_t i = m->n_history++ % MIGRATION_HISTORY;
    free(m->history[i]);
    m->history[i] = f->text;
    f->text = NULL;
    migration_final_destroy(f);
}

/* Composes the transaction of note 'op' from the current contents of
 * Northbound.  Returns false if there is nothing to write any more (the
 * port is gone). */
static bool
note_compose(struct migration_op *op, const struct attach_ctx *ctx)
{
    const struct nbrec_logical_switch_port *lsp = nb_port_find(ctx->nb_ix,
                                                               op->lport);
    if (!lsp) {
        return false;
    }
    op->composed_seqno = ovsdb_idl_get_seqno(ctx->nb_idl);
    op->txn = ovsdb_idl_txn_create(ctx->nb_idl);
    ovsdb_idl_txn_add_comment(op->txn, "ovn-controller-ext: %s %s",
                              op->what, op->lport);
    set_time_key(lsp, op->note_key, op->note_value);
    ovsdb_idl_txn_commit(op->txn);
    return true;
}

/* Records 'value' under 'key' on port 'lport'.  Nothing waits for it, but
 * it is tracked as an operation: a transaction that must be tried again is,
 * once Northbound has changed (run_ops()). */
void
migration_note(struct migration *m, const char *lport, const char *key,
               long long int value)
{
    const struct attach_ctx *ctx = m->get_ctx ? m->get_ctx(m->get_ctx_aux)
                                              : NULL;
    if (!ctx || !ctx->nb_idl) {
        return;
    }
    struct migration_op *op = xzalloc(sizeof *op);
    op->lport = xstrdup(lport);
    op->what = xasprintf("note %s", key);
    op->note_key = xstrdup(key);
    op->note_value = value;
    if (!note_compose(op, ctx)) {
        op_destroy(op);
        return;
    }
    ovs_list_push_back(&m->ops, &op->node);
}

static bool
op_pending(const struct migration *m, const char *lport)
{
    const struct migration_op *op;
    LIST_FOR_EACH (op, node, &m->ops) {
        if (!strcmp(op->lport, lport)) {
            return true;
        }
    }
    return false;
}

/* Whether a transaction about 'lport' is in flight. */
bool
migration_busy(const struct migration *m, const char *lport)
{
    return op_pending(m, lport);
}

/* Starts a transition of 'lsp' and queues it; answers 'conn' (if any)
 * when it commits. */
static struct migration_op *
start_transition(struct migration *m, const struct attach_ctx *ctx,
                 const struct nbrec_logical_switch_port *lsp,
                 enum migration_state to, const char *why,
                 struct unixctl_conn *conn)
{
    struct migration_op *op = xzalloc(sizeof *op);

    op->lport = xstrdup(lsp->name);
    op->conn = conn;
    op->txn = ovsdb_idl_txn_create(ctx->nb_idl);
    ovsdb_idl_txn_add_comment(op->txn, "ovn-controller-ext: migration %s %s",
                              migration_state_to_string(to), lsp->name);
    switch (to) {
    case MIGRATION_ACTIVATED:
        op->what = xstrdup("activated");
        nbrec_logical_switch_port_update_external_ids_setkey(
            lsp, MIGRATION_KEY_STATE, state_names[MIGRATION_ACTIVATED]);
        set_time_key(lsp, MIGRATION_KEY_T_ACT, migration_wall_ms());
        break;
    case MIGRATION_COMPLETED:
        op->what = xstrdup("complete");
        op->final = MIGRATION_COMPLETED;
        op->record = migration_final_create(lsp, MIGRATION_COMPLETED);
        migration_txn_complete(lsp);
        break;
    case MIGRATION_ROLLED_BACK:
        op->what = xasprintf("rollback (%s)", why);
        op->final = MIGRATION_ROLLED_BACK;
        op->record = migration_final_create(lsp, MIGRATION_ROLLED_BACK);
        migration_txn_rollback(lsp, why);
        break;
    case MIGRATION_NONE:
    case MIGRATION_PREPARED:
    default:
        OVS_NOT_REACHED();
    }
    ovsdb_idl_txn_commit(op->txn);
    ovs_list_push_back(&m->ops, &op->node);
    return op;
}

/* Polls the transactions in flight; returns true if one finished.  What a
 * transition records (log, metrics, history) and its 'done' callback happen
 * here, once its transaction committed, and only then. */
static bool
run_ops(struct migration *m, const struct attach_ctx *ctx)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct migration_op *op;
    bool finished = false;

    LIST_FOR_EACH_SAFE (op, node, &m->ops) {
        if (!op->txn) {
            /* A note waiting for Northbound to change before its retry. */
            if (!ctx->nb_idl || !ovsdb_idl_is_connected(ctx->nb_idl)
                || ovsdb_idl_get_seqno(ctx->nb_idl) == op->composed_seqno) {
                continue;
            }
            if (!note_compose(op, ctx)) {
                ovs_list_remove(&op->node);
                op_destroy(op);
                finished = true;
                continue;
            }
        }
        enum ovsdb_idl_txn_status status = ovsdb_idl_txn_commit(op->txn);
        if (status == TXN_INCOMPLETE) {
            continue;
        }
        bool ok = status == TXN_SUCCESS || status == TXN_UNCHANGED;
        if (!ok) {
            VLOG_WARN_RL(&rl, "%s: migration %s failed: %s%s", op->lport,
                         op->what, ovsdb_idl_txn_status_to_string(status),
                         op->note_key && status == TXN_TRY_AGAIN
                         ? " (will retry)" : "");
        }
        if (!ok && op->note_key && status == TXN_TRY_AGAIN) {
            /* Again once the database has changed from what the note was
             * composed from (the change may already be there). */
            ovsdb_idl_txn_destroy(op->txn);
            op->txn = NULL;
            continue;
        }
        if (ok) {
            migration_final_record(m, ctx->metrics, op->record);
            op->record = NULL;
            if (op->done) {
                op->done(op->done_aux, op->lport, op->done_tag);
            }
        }
        if (op->conn) {
            if (ok) {
                unixctl_command_reply(op->conn, NULL);
            } else {
                char *msg = xasprintf("%s failed: %s", op->what,
                                      ovsdb_idl_txn_status_to_string(status));
                unixctl_command_reply_error(op->conn, msg);
                free(msg);
            }
            op->conn = NULL;
        }
        ovs_list_remove(&op->node);
        op_destroy(op);
        /* A transition that must be tried again is, but only once the
         * database has changed (a reconnection to a new Raft leader
         * changes it): retrying at once would spin while the IDL is
         * between servers. */
        if (status != TXN_TRY_AGAIN) {
            finished = true;
        }
    }
    return finished;
}

/* The pids of processes in the network namespace 'ino'/'dev'. */
static void
netns_pids(ino_t ino, dev_t dev, long long int **pidsp, size_t *np)
{
    DIR *dir = opendir("/proc");
    struct dirent *de;
    size_t n = 0, allocated = 0;
    long long int *pids = NULL;

    while (dir && (de = readdir(dir))) {
        char *end;
        long long int pid = strtoll(de->d_name, &end, 10);
        if (*end || pid <= 0) {
            continue;
        }
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%lld/ns/net", pid);
        if (!stat(path, &st) && st.st_ino == ino && st.st_dev == dev) {
            if (n >= allocated) {
                pids = x2nrealloc(pids, &allocated, sizeof *pids);
            }
            pids[n++] = pid;
        }
    }
    if (dir) {
        closedir(dir);
    }
    *pidsp = pids;
    *np = n;
}

/* Remembers which processes the target pod's namespace holds now; once
 * another one appears (the restored workload), migration_run() sends a
 * RARP for it. */
void
migration_watch_auto_rarp(struct migration *m, const char *lport,
                          const char *netns)
{
    struct stat st;

    if (stat(netns, &st)) {
        VLOG_WARN("%s: auto-RARP: cannot watch %s: %s", lport, netns,
                  ovs_strerror(errno));
        return;
    }
    struct migration_watch *w = xzalloc(sizeof *w);
    w->netns = xstrdup(netns);
    w->netns_ino = st.st_ino;
    w->netns_dev = st.st_dev;
    netns_pids(st.st_ino, st.st_dev, &w->pids, &w->n_pids);
    watch_destroy(shash_replace_nocopy(&m->watches, xstrdup(lport), w));
    VLOG_INFO("%s: auto-RARP armed (%"PRIuSIZE" process(es) in %s)", lport,
              w->n_pids, netns);
}

static bool
watch_has_new_process(const struct migration_watch *w)
{
    long long int *pids;
    size_t n;
    bool found = false;

    netns_pids(w->netns_ino, w->netns_dev, &pids, &n);
    for (size_t i = 0; i < n && !found; i++) {
        found = true;
        for (size_t j = 0; j < w->n_pids; j++) {
            if (pids[i] == w->pids[j]) {
                found = false;
                break;
            }
        }
    }
    free(pids);
    return found;
}

/* Finds this chassis's OVS interface for logical port 'lport'. */
static const struct ovsrec_interface *
find_local_iface(const struct attach_ctx *ctx, const char *lport)
{
    const struct ovsrec_interface *iface;

    OVSREC_INTERFACE_FOR_EACH (iface, ctx->ovs_idl) {
        const char *id = smap_get(&iface->external_ids, "iface-id");
        if (id && !strcmp(id, lport)
            && smap_get(&iface->external_ids, NB_PORT_KEY_CONTAINER)) {
            return iface;
        }
    }
    return NULL;
}

static int
send_rarp(const struct attach_ctx *ctx, const char *lport, char **errp)
{
    const struct ovsrec_interface *iface = find_local_iface(ctx, lport);

    if (!iface) {
        *errp = xasprintf("%s: no attachment on this chassis", lport);
        return ENOENT;
    }
    const char *netns = smap_get(&iface->external_ids, OVS_PORT_KEY_NETNS);
    const char *ifname = smap_get(&iface->external_ids, NB_PORT_KEY_IFNAME);
    if (!netns || !ifname) {
        *errp = xasprintf("%s: attachment has no netns or ifname", lport);
        return EINVAL;
    }
    int error = pod_net_send_rarp(netns, ifname, errp);
    if (!error) {
        VLOG_INFO("%s: sent RARP from %s in %s", lport, ifname, netns);
    }
    return error;
}

/* Does what is due for the ports in migration where this chassis is the
 * target: notice activation, roll back on timeout, auto-RARP. */
/* Whether migration_run() scans ports: its timers are waited on only
 * then, since a deadline that is not acted on would wake the loop forever. */
static bool
can_scan(const struct attach_ctx *ctx)
{
    return (ctx->chassis && ctx->nb_idl && ctx->sb_idl
            && ovsdb_idl_is_connected(ctx->nb_idl));
}

void
migration_run(struct migration *m, const struct attach_ctx *ctx)
{
    bool op_finished = run_ops(m, ctx);

    if (!can_scan(ctx)) {
        return;
    }

    unsigned int nb_seqno = ovsdb_idl_get_seqno(ctx->nb_idl);
    unsigned int sb_seqno = ovsdb_idl_get_seqno(ctx->sb_idl);
    bool poll_due = (!shash_is_empty(&m->watches)
                     && time_msec() >= m->next_poll);
    bool timeout_due = (m->timeout_ms > 0
                        && time_msec() >= m->next_timeout_check);
    if (!op_finished && !poll_due && !timeout_due
        && nb_seqno == m->nb_seqno && sb_seqno == m->sb_seqno) {
        return;
    }
    m->nb_seqno = nb_seqno;
    m->sb_seqno = sb_seqno;
    if (poll_due) {
        m->next_poll = time_msec() + MIGRATION_AUTO_RARP_POLL_MS;
    }
    if (timeout_due) {
        /* Timeouts are coarse: a second's lateness is fine. */
        m->next_timeout_check = time_msec() + 1000;
    }

    long long int now = migration_wall_ms();

    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        if (!migration_in_progress(lsp)) {
            continue;
        }
        const char *dst = smap_get(&lsp->external_ids, MIGRATION_KEY_DST);
        if (!dst || strcmp(dst, ctx->chassis) || op_pending(m, lsp->name)) {
            continue;
        }
        enum migration_state state = migration_get_state(lsp);
        const struct sbrec_port_binding *pb
            = attach_find_port_binding(ctx, lsp->name);
        const char *activated = migration_stale_activation(pb);

        if (state == MIGRATION_PREPARED && activated
            && !strcmp(activated, ctx->chassis)) {
            VLOG_INFO("%s: activated on %s", lsp->name, ctx->chassis);
            start_transition(m, ctx, lsp, MIGRATION_ACTIVATED, NULL, NULL);
            watch_destroy(shash_find_and_delete(&m->watches, lsp->name));
            continue;
        }

        long long int t_add = get_time_key(lsp, MIGRATION_KEY_T_ADD);
        if (state == MIGRATION_PREPARED && m->timeout_ms > 0 && t_add
            && now - t_add >= m->timeout_ms) {
            VLOG_WARN("%s: not activated within %lld ms, rolling back",
                      lsp->name, m->timeout_ms);
            start_transition(m, ctx, lsp, MIGRATION_ROLLED_BACK, "timeout",
                             NULL);
            watch_destroy(shash_find_and_delete(&m->watches, lsp->name));
            continue;
        }

        struct migration_watch *w = shash_find_data(&m->watches, lsp->name);
        if (w && poll_due && state == MIGRATION_PREPARED
            && watch_has_new_process(w)) {
            char *error = NULL;
            VLOG_INFO("%s: the workload started in %s: sending RARP",
                      lsp->name, w->netns);
            if (send_rarp(ctx, lsp->name, &error)) {
                VLOG_WARN("%s: auto-RARP failed: %s", lsp->name, error);
            }
            free(error);
            watch_destroy(shash_find_and_delete(&m->watches, lsp->name));
        }
    }

    /* Forget watches of ports no longer in migration here. */
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &m->watches) {
        lsp = nb_port_find(ctx->nb_ix, node->name);
        if (!lsp || migration_get_state(lsp) != MIGRATION_PREPARED) {
            watch_destroy(node->data);
            shash_delete(&m->watches, node);
        }
    }
}

void
migration_wait(struct migration *m, const struct attach_ctx *ctx)
{
    struct migration_op *op;

    LIST_FOR_EACH (op, node, &m->ops) {
        if (op->txn) {
            ovsdb_idl_txn_wait(op->txn);
        }
    }
    if (!can_scan(ctx)) {
        return;
    }
    if (!shash_is_empty(&m->watches)) {
        poll_timer_wait_until(m->next_poll);
    }
    if (m->timeout_ms > 0) {
        poll_timer_wait_until(m->next_timeout_check);
    }
}

/* ------------------------------------------------------------------ */
/* Control commands.                                                   */
/* ------------------------------------------------------------------ */

static const struct attach_ctx *
unixctl_ctx(struct migration *m, struct unixctl_conn *conn)
{
    const struct attach_ctx *ctx = m->get_ctx(m->get_ctx_aux);
    if (!ctx->nb_idl || !ovsdb_idl_is_connected(ctx->nb_idl)) {
        unixctl_command_reply_error(conn, "OVN Northbound not connected");
        return NULL;
    }
    return ctx;
}

static void
migration_unixctl_list(struct unixctl_conn *conn, int argc OVS_UNUSED,
                       const char *argv[] OVS_UNUSED, void *m_)
{
    struct migration *m = m_;
    const struct attach_ctx *ctx = unixctl_ctx(m, conn);
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!ctx) {
        return;
    }
    const struct nbrec_logical_switch_port *lsp;
    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        if (smap_get(&lsp->external_ids, MIGRATION_KEY_STATE)) {
            format_timeline(&s, lsp);
            ds_put_char(&s, '\n');
        }
    }
    size_t n = MIN(m->n_history, MIGRATION_HISTORY);
    if (n) {
        ds_put_cstr(&s, "finished here:\n");
    }
    for (size_t i = m->n_history - n; i < m->n_history; i++) {
        ds_put_format(&s, "  %s\n", m->history[i % MIGRATION_HISTORY]);
    }
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Formats the last migration that 'ids' (a logical port's external_ids)
 * records as a JSON array of {"t": seconds since the epoch, "label": ...},
 * the format ovn-lm-probe --events reads (ovn-lm/migration-events). */
void
migration_format_events(const struct smap *ids, struct ds *s)
{
    static const struct {
        const char *key;
        const char *label;
    } events[] = {
        { MIGRATION_KEY_T_ADD, "target ADD" },
        { MIGRATION_KEY_T_DUP, "duplication on" },
        { MIGRATION_KEY_T_ACT, "activated (RARP)" },
        { MIGRATION_KEY_T_END, NULL },
    };
    const char *state = smap_get_def(ids, MIGRATION_KEY_STATE, "");
    bool rolled_back = !strcmp(state, state_names[MIGRATION_ROLLED_BACK]);

    ds_put_char(s, '[');
    bool first = true;
    for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
        long long int t = time_from_ids(ids, events[i].key, "events");
        if (!t) {
            continue;
        }
        const char *label = events[i].label;
        if (!label) {
            label = rolled_back ? "rolled back" : "completed";
        }
        ds_put_format(s, "%s{\"t\": %lld.%03lld, \"label\": \"%s\"}",
                      first ? "" : ", ", t / 1000, t % 1000, label);
        first = false;
    }
    ds_put_cstr(s, "]\n");
}

/* ovn-lm/migration-events LPORT: migration_format_events() of the port. */
static void
migration_unixctl_events(struct unixctl_conn *conn, int argc OVS_UNUSED,
                         const char *argv[], void *m)
{
    const struct attach_ctx *ctx = unixctl_ctx(m, conn);
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!ctx) {
        return;
    }
    const struct nbrec_logical_switch_port *lsp = nb_port_find(ctx->nb_ix,
                                                               argv[1]);
    if (!lsp) {
        unixctl_command_reply_error(conn, "no such logical port");
        return;
    }
    migration_format_events(&lsp->external_ids, &s);
    unixctl_command_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Completes or rolls back the migration of 'lport' ('to'), as the
 * control commands and Kubernetes ask.  Returns 0 if the transition is on
 * its way (then 'conn', if nonnull, is answered and 'done', if nonnull,
 * is called with 'aux' and 'tag' when it commits), else an
 * errno value and a message in '*errorp'. */
int
migration_request(struct migration *m, const struct attach_ctx *ctx,
                  const char *lport, enum migration_state to,
                  const char *why, struct unixctl_conn *conn,
                  migration_done_func *done, void *aux, int tag,
                  char **errorp)
{
    ovs_assert(to == MIGRATION_COMPLETED || to == MIGRATION_ROLLED_BACK);
    *errorp = NULL;
    const struct nbrec_logical_switch_port *lsp = nb_port_find(ctx->nb_ix,
                                                               lport);
    if (!lsp) {
        *errorp = xstrdup("no such logical port");
        return ENOENT;
    } else if (!migration_in_progress(lsp)) {
        *errorp = xstrdup("port is not in migration");
        return EINVAL;
    } else if (op_pending(m, lport)) {
        *errorp = xstrdup("a transition is already in flight; try again");
        return EAGAIN;
    }
    struct migration_op *op = start_transition(m, ctx, lsp, to, why, conn);
    op->done = done;
    op->done_aux = aux;
    op->done_tag = tag;
    return 0;
}

static void
migration_unixctl_transition(struct migration *m, struct unixctl_conn *conn,
                             const char *lport, enum migration_state to)
{
    const struct attach_ctx *ctx = unixctl_ctx(m, conn);
    char *error;

    if (ctx && migration_request(m, ctx, lport, to, "requested", conn,
                                 NULL, NULL, 0, &error)) {
        unixctl_command_reply_error(conn, error);
        free(error);
    }
}

static void
migration_unixctl_complete(struct unixctl_conn *conn, int argc OVS_UNUSED,
                           const char *argv[], void *m)
{
    migration_unixctl_transition(m, conn, argv[1], MIGRATION_COMPLETED);
}

static void
migration_unixctl_rollback(struct unixctl_conn *conn, int argc OVS_UNUSED,
                           const char *argv[], void *m)
{
    migration_unixctl_transition(m, conn, argv[1], MIGRATION_ROLLED_BACK);
}

static void
migration_unixctl_send_rarp(struct unixctl_conn *conn, int argc OVS_UNUSED,
                            const char *argv[], void *m_)
{
    struct migration *m = m_;
    /* Only the local Open_vSwitch database is needed: a workload must be
     * able to announce itself while Northbound is away. */
    const struct attach_ctx *ctx = m->get_ctx(m->get_ctx_aux);
    char *error = NULL;

    if (send_rarp(ctx, argv[1], &error)) {
        unixctl_command_reply_error(conn, error ? error : "failed");
    } else {
        unixctl_command_reply(conn, NULL);
    }
    free(error);
}

/* Registers ovn-lm/migrations, ovn-lm/migration-complete,
 * ovn-lm/migration-rollback and ovn-lm/send-rarp.  'get_ctx' returns the
 * current inputs when a command runs. */
void
migration_unixctl_register(struct migration *m,
                           const struct attach_ctx *(*get_ctx)(void *),
                           void *aux)
{
    m->get_ctx = get_ctx;
    m->get_ctx_aux = aux;
    unixctl_command_register("ovn-lm/migrations", "", 0, 0,
                             migration_unixctl_list, m);
    unixctl_command_register("ovn-lm/migration-events", "LPORT", 1, 1,
                             migration_unixctl_events, m);
    unixctl_command_register("ovn-lm/migration-complete", "LPORT", 1, 1,
                             migration_unixctl_complete, m);
    unixctl_command_register("ovn-lm/migration-rollback", "LPORT", 1, 1,
                             migration_unixctl_rollback, m);
    unixctl_command_register("ovn-lm/send-rarp", "LPORT", 1, 1,
                             migration_unixctl_send_rarp, m);
}
