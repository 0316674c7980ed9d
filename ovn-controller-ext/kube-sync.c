/*
 * The daemon and the Kubernetes API (see kube-sync.h).
 */
#include <config.h>
#include "kube-sync.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attach.h"
#include "cni-request.h"
#include "kube-client.h"
#include "kube-config.h"
#include "kube-verdict.h"
#include "kube-watch.h"
#include "lib/ovn-nb-idl.h"
#include "lib/ovn-sb-idl.h"
#include "migration.h"
#include "nb-port.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "ovsdb-idl.h"
#include "random.h"
#include "smap.h"
#include "sset.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(kube_sync);

/* A pod fetched with GET is kept this long for the CNI request that asked
 * (and its retries). */
#define KUBE_FETCH_KEEP_MS 10000
/* How long the source's daemon leaves a verdict to the target's. */
#define KUBE_SOURCE_GRACE_MS 5000
/* Events in flight at most; more are dropped (and counted). */
#define KUBE_MAX_EVENTS_IN_FLIGHT 32
/* Tries to post an Event that fails for want of a working server (1, 2, 4
 * and 8 s apart, or at once when the server answers again). */
#define KUBE_EVENT_TRIES 5

/* One GET of a pod the cache does not have. */
struct kube_fetch {
    struct kube_sync *ks;
    char *key;                  /* "namespace/name". */
    struct kube_request *req;   /* NULL when done. */
    int status;
    cJSON *pod;                 /* 200: the pod. */
    char *error;
    long long int done_at;
};

/* The last migration step posted as an Event, for one logical port. */
struct kube_report {
    char *count;                /* Its ovn-lm/migration-count. */
    enum migration_state state;
};

static void report_destroy(struct kube_report *);
static void post_event(struct kube_sync *, const char *pod_key,
                       const char *reason, const char *type,
                       const char *message);

/* One Event being posted.  A try again sends the same body, with the same
 * name: if an earlier try did reach the server, it answers 409 rather than
 * make a second Event. */
struct kube_post {
    struct ovs_list node;
    struct kube_sync *ks;
    struct kube_request *req;   /* NULL while waiting to try again. */
    char *what;
    char *path, *body;
    int tries;
    long long int next_try;
    unsigned int answers;       /* kube_client_n_answers() at the failure. */
};

struct kube_sync {
    struct kube_client *client;
    char *node;
    struct kube_watch *pods;
    struct kube_watch *vmis;
    struct kube_watch *vmims;
    struct shash fetches;       /* "ns/name" -> struct kube_fetch. */
    struct ovs_list posts;      /* Contains "struct kube_post"s. */
    size_t n_posts;

    /* What was last looked at, to act only on changes. */
    unsigned int seqnos[3];
    unsigned int nb_seqno;
    long long int next_scan;

    /* Events: per logical port, how far they were posted. */
    struct shash reported;      /* Contains "struct kube_report"s. */

    /* Source side: since when (time_msec()) a verdict has waited for the
     * target's daemon, per logical port. */
    struct shash pending;
    bool seeded;

    /* Statistics. */
    unsigned int n_fetches, n_completed, n_rolled_back, n_kept_target;
    unsigned int n_events, n_event_errors, n_events_dropped;
    char *last_decision;
};

char *
kube_sync_create(const struct kube_sync_options *o, struct kube_sync **ksp)
{
    struct kube_config cfg;
    char *error;

    *ksp = NULL;
    if (!o->node_name || !o->node_name[0]) {
        return xstrdup("the node's name is not known (--node-name, or "
                       "NODE_NAME in the environment)");
    }
    error = (o->kubeconfig
             ? kube_config_from_file(o->kubeconfig, &cfg)
             : kube_config_in_cluster(o->sa_dir, &cfg));
    if (error) {
        return error;
    }
    VLOG_INFO("Kubernetes API %s (%s), node %s", cfg.server, cfg.source,
              o->node_name);

    struct kube_sync *ks = xzalloc(sizeof *ks);
    ks->client = kube_client_create(&cfg, o->user_agent);
    ks->node = xstrdup(o->node_name);

    char *node = kube_escape(o->node_name);
    char *sel = xasprintf("fieldSelector=spec.nodeName%%3D%s", node);
    ks->pods = kube_watch_create(ks->client, "pods", "/api/v1/pods", sel);
    free(sel);
    free(node);
    ks->vmis = kube_watch_create(ks->client, "virtualmachineinstances",
                                 "/apis/kubevirt.io/v1/"
                                 "virtualmachineinstances", NULL);
    ks->vmims = kube_watch_create(ks->client,
                                  "virtualmachineinstancemigrations",
                                  "/apis/kubevirt.io/v1/"
                                  "virtualmachineinstancemigrations", NULL);
    shash_init(&ks->fetches);
    shash_init(&ks->reported);
    shash_init(&ks->pending);
    ovs_list_init(&ks->posts);
    *ksp = ks;
    return NULL;
}

static void
fetch_destroy(struct kube_fetch *f)
{
    if (f) {
        kube_request_cancel(f->req);
        cJSON_Delete(f->pod);
        free(f->error);
        free(f->key);
        free(f);
    }
}

static void
post_destroy(struct kube_post *p)
{
    if (p) {
        kube_request_cancel(p->req);
        ovs_list_remove(&p->node);
        p->ks->n_posts--;
        free(p->what);
        free(p->path);
        free(p->body);
        free(p);
    }
}

void
kube_sync_destroy(struct kube_sync *ks)
{
    if (!ks) {
        return;
    }
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &ks->fetches) {
        fetch_destroy(node->data);
        shash_delete(&ks->fetches, node);
    }
    shash_destroy(&ks->fetches);
    struct kube_post *p;
    LIST_FOR_EACH_SAFE (p, node, &ks->posts) {
        post_destroy(p);
    }
    SHASH_FOR_EACH_SAFE (node, &ks->reported) {
        report_destroy(node->data);
        shash_delete(&ks->reported, node);
    }
    shash_destroy(&ks->reported);
    shash_destroy_free_data(&ks->pending);
    kube_watch_destroy(ks->pods);
    kube_watch_destroy(ks->vmis);
    kube_watch_destroy(ks->vmims);
    kube_client_destroy(ks->client);
    free(ks->node);
    free(ks->last_decision);
    free(ks);
}

/* ------------------------------------------------------------------ */
/* Pods for the CNI path.                                              */
/* ------------------------------------------------------------------ */

static void
fetch_done(int status, const char *body, size_t len, const char *error,
           void *f_)
{
    struct kube_fetch *f = f_;

    f->req = NULL;
    f->status = status;
    f->done_at = time_msec();
    if (error) {
        f->error = xstrdup(error);
    } else if (status == 200) {
        f->pod = cJSON_ParseWithLength(body, len);
        if (!cJSON_IsObject(f->pod)) {
            cJSON_Delete(f->pod);
            f->pod = NULL;
            f->error = xstrdup("the pod is not a JSON object");
        }
    } else if (status != 404) {
        cJSON *j = cJSON_ParseWithLength(body, len);
        const char *msg = kube_get_str(j, "message", NULL);
        f->error = xasprintf("HTTP %d%s%s", status, msg ? ": " : "",
                             msg ? msg : "");
        cJSON_Delete(j);
    }
}

static void
copy_map(const cJSON *map, struct smap *dst)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, map) {
        if (cJSON_IsString(e) && e->string) {
            smap_replace(dst, e->string, e->valuestring);
        }
    }
}

int
kube_sync_fill_request(struct kube_sync *ks, struct cni_request *req,
                       char **errorp)
{
    const char *ns = smap_get(&req->args, "K8S_POD_NAMESPACE");
    const char *name = smap_get(&req->args, "K8S_POD_NAME");

    *errorp = NULL;
    if (!ns || !ns[0] || !name || !name[0]) {
        return 0;
    }
    const cJSON *pod = kube_watch_get(ks->pods, ns, name);
    char *key = xasprintf("%s/%s", ns, name);
    struct kube_fetch *f = shash_find_data(&ks->fetches, key);
    if (!pod && !f && !smap_is_empty(&req->annotations)) {
        /* The runtime passed the annotations and the cache has no labels:
         * go on with what there is rather than depend on the API. */
        free(key);
        return 0;
    }
    if (!pod && !f) {
        /* Not (yet) in the cache of this node's pods: ask once. */
        char *e_ns = kube_escape(ns), *e_name = kube_escape(name);
        char *path = xasprintf("/api/v1/namespaces/%s/pods/%s", e_ns,
                               e_name);
        f = xzalloc(sizeof *f);
        f->ks = ks;
        f->key = key;
        key = NULL;
        shash_add(&ks->fetches, f->key, f);
        f->req = kube_client_request(ks->client, "GET", path, NULL, NULL, 10,
                                     NULL, fetch_done, f);
        ks->n_fetches++;
        free(path);
        free(e_ns);
        free(e_name);
    }
    free(key);
    if (!pod && f) {
        if (f->req) {
            return EAGAIN;
        } else if (f->error) {
            *errorp = xasprintf("getting pod %s/%s from the Kubernetes API: "
                                "%s", ns, name, f->error);
            return EIO;
        } else if (f->status == 404) {
            VLOG_INFO("pod %s/%s: not known to the Kubernetes API", ns,
                      name);
            return 0;
        }
        pod = f->pod;
    }
    if (smap_is_empty(&req->annotations)) {
        copy_map(kube_get(pod, "metadata", "annotations", NULL),
                 &req->annotations);
    }
    copy_map(kube_get(pod, "metadata", "labels", NULL), &req->labels);
    return 0;
}

/* ------------------------------------------------------------------ */
/* KubeVirt's verdict on migrations to this chassis.                   */
/* ------------------------------------------------------------------ */

static const cJSON *
find_vmim_by_uid(const struct kube_sync *ks, const char *uid)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, kube_watch_objects(ks->vmims)) {
        const char *u = kube_get_str(node->data, "metadata", "uid", NULL);
        if (u && !strcmp(u, uid)) {
            return node->data;
        }
    }
    return NULL;
}

/* The VMI whose status.migrationState is the migration with 'uid'. */
static const cJSON *
find_vmi_by_migration(const struct kube_sync *ks, const char *uid)
{
    const struct shash_node *node;
    SHASH_FOR_EACH (node, kube_watch_objects(ks->vmis)) {
        const char *u = kube_get_str(node->data, "status", "migrationState",
                                     "migrationUid", NULL);
        if (u && !strcmp(u, uid)) {
            return node->data;
        }
    }
    return NULL;
}

/* The migration UID of 'lsp''s migration: recorded at the target's ADD,
 * else the label of the target pod if the cache has it. */
static const char *
lsp_migration_uid(const struct kube_sync *ks,
                  const struct nbrec_logical_switch_port *lsp)
{
    const char *uid = smap_get(&lsp->external_ids, MIGRATION_KEY_UID);
    if (uid) {
        return uid;
    }
    const char *pod = smap_get(&lsp->external_ids, MIGRATION_KEY_DST_POD);
    const char *slash = pod ? strchr(pod, '/') : NULL;
    if (!slash) {
        return NULL;
    }
    char *ns = xmemdup0(pod, slash - pod);
    const cJSON *p = kube_watch_get(ks->pods, ns, slash + 1);
    free(ns);
    return kube_get_str(p, "metadata", "labels", MIGRATION_KUBEVIRT_JOB_UID,
                        NULL);
}

static bool
json_true(const cJSON *j)
{
    return cJSON_IsTrue(j) || (cJSON_IsString(j)
                               && !strcmp(j->valuestring, "true"));
}

/* Whether Kubernetes node 'node' is OVN chassis 'chassis': same name, or
 * the chassis's hostname. */
static bool
node_is_chassis(const struct attach_ctx *ctx, const char *node,
                const char *chassis)
{
    if (!node || !chassis) {
        return false;
    }
    if (!strcmp(node, chassis)) {
        return true;
    }
    const struct sbrec_chassis *ch;
    SBREC_CHASSIS_FOR_EACH (ch, ctx->sb_idl) {
        if (!strcmp(ch->name, chassis)) {
            return ch->hostname && !strcmp(ch->hostname, node);
        }
    }
    return false;
}

/* KubeVirt's verdict on the migration with 'uid' of 'lsp' (see
 * kube-verdict.h); '*why' explains. */
static enum kube_verdict
verdict(const struct kube_sync *ks, const struct attach_ctx *ctx,
        const struct nbrec_logical_switch_port *lsp, const char *uid,
        struct ds *why)
{
    const cJSON *vmim = find_vmim_by_uid(ks, uid);
    const char *ns = kube_get_str(vmim, "metadata", "namespace", NULL);
    const char *vmi_name = kube_get_str(vmim, "spec", "vmiName", NULL);
    /* The VMIM gone (KubeVirt collects old ones), the VMI still tells how
     * its migration ended. */
    const cJSON *vmi = (ns && vmi_name
                        ? kube_watch_get(ks->vmis, ns, vmi_name)
                        : vmim ? NULL
                        : find_vmi_by_migration(ks, uid));
    struct kube_migration_view v;
    kube_migration_view_init(&v, vmim,
                             kube_get(vmi, "status", "migrationState", NULL),
                             uid);

    const char *src = smap_get(&lsp->external_ids, MIGRATION_KEY_SRC);
    const char *dst = smap_get(&lsp->external_ids, MIGRATION_KEY_DST);
    bool nodes_match = (v.has_state
                        && node_is_chassis(ctx, v.target_node, dst)
                        && (!v.source_node
                            || node_is_chassis(ctx, v.source_node, src)));
    enum kube_verdict result = kube_verdict_decide(&v, uid, nodes_match,
                                                   why);
    if (result == KUBE_VERDICT_WAIT && v.has_state && !nodes_match
        && why->length) {
        ds_put_format(why, " (%s -> %s)", src ? src : "?", dst ? dst : "?");
    }
    return result;
}

/* A transition decide_port() asked for committed: counts the verdict
 * ('tag'), now that it is done. */
static void
verdict_done(void *ks_, const char *lport OVS_UNUSED, int tag)
{
    struct kube_sync *ks = ks_;

    if (tag == KUBE_VERDICT_KEEP_TARGET) {
        ks->n_kept_target++;
    } else if (tag == KUBE_VERDICT_ROLL_BACK) {
        ks->n_rolled_back++;
    } else {
        ks->n_completed++;
    }
}

/* Acts on KubeVirt's verdict about 'lsp''s migration, if it is one of
 * this chassis's. */
static void
decide_port(struct kube_sync *ks, const struct attach_ctx *ctx,
            const struct nbrec_logical_switch_port *lsp)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);

    if (!migration_in_progress(lsp)) {
        return;
    }
    /* The target's daemon acts on a verdict.  The source's acts too if the
     * target's has not within KUBE_SOURCE_GRACE_MS, so that a migration
     * whose target node died still ends when KubeVirt says so. */
    const char *dst = smap_get(&lsp->external_ids, MIGRATION_KEY_DST);
    const char *src = smap_get(&lsp->external_ids, MIGRATION_KEY_SRC);
    bool is_dst = dst && !strcmp(dst, ctx->chassis);
    bool is_src = src && !strcmp(src, ctx->chassis);
    if (!(is_dst || is_src) || migration_busy(ctx->migration, lsp->name)) {
        return;
    }
    const char *uid = lsp_migration_uid(ks, lsp);
    if (!uid) {
        return;                 /* Not a KubeVirt migration. */
    }
    struct ds why = DS_EMPTY_INITIALIZER;
    enum kube_verdict v = verdict(ks, ctx, lsp, uid, &why);
    enum migration_state to = (v == KUBE_VERDICT_ROLL_BACK
                               ? MIGRATION_ROLLED_BACK
                               : v == KUBE_VERDICT_WAIT ? MIGRATION_NONE
                               : MIGRATION_COMPLETED);
    if (to == MIGRATION_NONE) {
        free(shash_find_and_delete(&ks->pending, lsp->name));
        if (why.length) {
            VLOG_WARN_RL(&rl, "%s: %s: waiting", lsp->name, ds_cstr(&why));
        }
        ds_destroy(&why);
        return;
    }
    if (!is_dst) {
        long long int *since = shash_find_data(&ks->pending, lsp->name);
        if (!since) {
            since = xmalloc(sizeof *since);
            *since = time_msec();
            shash_add(&ks->pending, lsp->name, since);
        }
        if (time_msec() - *since < KUBE_SOURCE_GRACE_MS) {
            ds_destroy(&why);
            return;
        }
        ds_put_format(&why, "; the target's daemon did not act within %d s",
                      KUBE_SOURCE_GRACE_MS / 1000);
    }
    char *error;
    if (v == KUBE_VERDICT_KEEP_TARGET) {
        VLOG_WARN("%s: %s", lsp->name, ds_cstr(&why));
    } else {
        VLOG_INFO("%s: %s", lsp->name, ds_cstr(&why));
    }
    if (migration_request(ctx->migration, ctx, lsp->name, to,
                          to == MIGRATION_ROLLED_BACK
                          ? ds_cstr(&why) : "kubevirt", NULL,
                          verdict_done, ks, v, &error)) {
        VLOG_WARN_RL(&rl, "%s: %s", lsp->name, error);
        free(error);
    } else {
        if (v == KUBE_VERDICT_KEEP_TARGET) {
            /* Not an ordinary completion: say so on the target pod. */
            const char *pod = smap_get(&lsp->external_ids,
                                       MIGRATION_KEY_DST_POD);
            if (pod) {
                char *msg = xasprintf("Port %s: %s", lsp->name,
                                      ds_cstr(&why));
                post_event(ks, pod, "MigrationPostCopyFailed", "Warning",
                           msg);
                free(msg);
            }
        }
        free(ks->last_decision);
        ks->last_decision = xasprintf("%s: %s", lsp->name, ds_cstr(&why));
    }
    ds_destroy(&why);
}

/* ------------------------------------------------------------------ */
/* Events.                                                             */
/* ------------------------------------------------------------------ */

static void post_done(int status, const char *body, size_t len,
                      const char *error, void *p_);

static void
post_send(struct kube_post *p)
{
    p->tries++;
    p->req = kube_client_request(p->ks->client, "POST", p->path,
                                 "application/json", p->body, 10, NULL,
                                 post_done, p);
}

static void
post_done(int status, const char *body OVS_UNUSED, size_t len OVS_UNUSED,
          const char *error, void *p_)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);
    struct kube_post *p = p_;

    p->req = NULL;
    if ((!error && status >= 200 && status < 300)
        || (!error && status == 409 && p->tries > 1)) {
        /* 409 to a try again: an earlier try did post it. */
        p->ks->n_events++;
        post_destroy(p);
        return;
    }
    bool trouble = (error || status >= 500 || status == 403
                    || status == 429);
    if (trouble && p->tries < KUBE_EVENT_TRIES) {
        int delay = 1000 << (p->tries - 1);
        if (error) {
            VLOG_INFO_RL(&rl, "posting Event %s failed (%s); trying again "
                         "in %d ms", p->what, error, delay);
        } else {
            VLOG_INFO_RL(&rl, "posting Event %s failed (HTTP %d); trying "
                         "again in %d ms", p->what, status, delay);
        }
        p->next_try = time_msec() + delay;
        p->answers = kube_client_n_answers(p->ks->client);
        kube_client_server_trouble(p->ks->client);
        return;
    }
    p->ks->n_event_errors++;
    VLOG_WARN_RL(&rl, "posting Event %s failed: %s", p->what,
                 error ? error : "HTTP error");
    if (!error) {
        VLOG_WARN_RL(&rl, "... HTTP %d", status);
    }
    post_destroy(p);
}

static void
format_rfc3339(char buf[32], long long int ms)
{
    time_t t = ms / 1000;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
post_event(struct kube_sync *ks, const char *pod_key, const char *reason,
           const char *type, const char *message)
{
    const char *slash = strchr(pod_key, '/');
    if (!slash) {
        return;
    }
    if (ks->n_posts >= KUBE_MAX_EVENTS_IN_FLIGHT) {
        ks->n_events_dropped++;
        return;
    }
    char *ns = xmemdup0(pod_key, slash - pod_key);
    const char *name = slash + 1;
    const cJSON *pod = kube_watch_get(ks->pods, ns, name);
    const char *uid = kube_get_str(pod, "metadata", "uid", NULL);
    char now[32];
    format_rfc3339(now, time_wall_msec());

    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "apiVersion", "v1");
    cJSON_AddStringToObject(ev, "kind", "Event");
    cJSON *md = cJSON_AddObjectToObject(ev, "metadata");
    char *ev_name = xasprintf("%s.%llx%08"PRIx32, name,
                              (unsigned long long) time_wall_msec(),
                              random_uint32());
    cJSON_AddStringToObject(md, "name", ev_name);
    cJSON_AddStringToObject(md, "namespace", ns);
    cJSON *obj = cJSON_AddObjectToObject(ev, "involvedObject");
    cJSON_AddStringToObject(obj, "apiVersion", "v1");
    cJSON_AddStringToObject(obj, "kind", "Pod");
    cJSON_AddStringToObject(obj, "namespace", ns);
    cJSON_AddStringToObject(obj, "name", name);
    if (uid) {
        cJSON_AddStringToObject(obj, "uid", uid);
    }
    cJSON_AddStringToObject(ev, "reason", reason);
    cJSON_AddStringToObject(ev, "message", message);
    cJSON_AddStringToObject(ev, "type", type);
    cJSON *src = cJSON_AddObjectToObject(ev, "source");
    cJSON_AddStringToObject(src, "component", "ovn-controller-ext");
    cJSON_AddStringToObject(src, "host", ks->node);
    cJSON_AddStringToObject(ev, "reportingComponent", "ovn-lm");
    cJSON_AddStringToObject(ev, "reportingInstance", ks->node);
    cJSON_AddStringToObject(ev, "firstTimestamp", now);
    cJSON_AddStringToObject(ev, "lastTimestamp", now);
    cJSON_AddNumberToObject(ev, "count", 1);
    char *body = cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);

    char *e_ns = kube_escape(ns);
    char *path = xasprintf("/api/v1/namespaces/%s/events", e_ns);
    struct kube_post *p = xzalloc(sizeof *p);
    p->ks = ks;
    p->what = xasprintf("%s for pod %s", reason, pod_key);
    p->path = path;
    p->body = body;
    ovs_list_push_back(&ks->posts, &p->node);
    ks->n_posts++;
    post_send(p);
    VLOG_INFO("Event %s on pod %s: %s", reason, pod_key, message);
    free(e_ns);
    free(ev_name);
    free(ns);
}

static long long int
time_key(const struct nbrec_logical_switch_port *lsp, const char *key)
{
    return migration_get_time_key(lsp, key);
}

/* Posts the Events for the steps of 'lsp''s migration that were not
 * posted yet; 'step' is how far the last report went. */
static void
report(struct kube_sync *ks, const struct nbrec_logical_switch_port *lsp,
       enum migration_state from, enum migration_state to)
{
    const struct smap *ids = &lsp->external_ids;
    const char *pod = smap_get(ids, MIGRATION_KEY_DST_POD);
    const char *src = smap_get_def(ids, MIGRATION_KEY_SRC, "?");
    const char *dst = smap_get_def(ids, MIGRATION_KEY_DST, "?");
    long long int t_add = time_key(lsp, MIGRATION_KEY_T_ADD);
    long long int t_dup = time_key(lsp, MIGRATION_KEY_T_DUP);
    long long int t_act = time_key(lsp, MIGRATION_KEY_T_ACT);
    long long int t_end = time_key(lsp, MIGRATION_KEY_T_END);
    char *msg;

    if (!pod || !t_add) {
        return;
    }
    if (from < MIGRATION_PREPARED && to >= MIGRATION_PREPARED && t_dup) {
        msg = xasprintf("Port %s: traffic duplicated to %s (target, blocked "
                        "until the workload's RARP) and %s; prepared "
                        "%lld ms after the target's CNI ADD", lsp->name,
                        dst, src, t_dup - t_add);
        post_event(ks, pod, "MigrationPrepared", "Normal", msg);
        free(msg);
    }
    if (from < MIGRATION_ACTIVATED && to >= MIGRATION_ACTIVATED
        && to != MIGRATION_ROLLED_BACK && t_act) {
        msg = xasprintf("Port %s: activated on %s by the workload's RARP "
                        "%lld ms after the target's CNI ADD", lsp->name, dst,
                        t_act - t_add);
        post_event(ks, pod, "MigrationActivated", "Normal", msg);
        free(msg);
    }
    if (to == MIGRATION_COMPLETED && t_end) {
        long long int t_ready = time_key(lsp, MIGRATION_KEY_T_READY);
        char *ready = (t_ready
                       ? xasprintf("; KubeVirt marked the target ready "
                                   "%lld ms after the target's CNI ADD",
                                   t_ready - t_add)
                       : xstrdup(""));
        msg = xasprintf("Port %s moved %s -> %s in %lld ms: prepare %lld ms, "
                        "activation %lld ms, completion %lld ms%s", lsp->name,
                        src, dst, t_end - t_add,
                        (t_dup ? t_dup : t_add) - t_add,
                        t_act ? t_act - (t_dup ? t_dup : t_add) : 0,
                        t_act ? t_end - t_act : 0, ready);
        free(ready);
        post_event(ks, pod, "MigrationCompleted", "Normal", msg);
        free(msg);
    } else if (to == MIGRATION_ROLLED_BACK && t_end) {
        msg = xasprintf("Port %s stays on %s: rolled back after %lld ms "
                        "(%s)", lsp->name, src, t_end - t_add,
                        smap_get_def(ids, MIGRATION_KEY_ROLLBACK_REASON,
                                     "?"));
        post_event(ks, pod, "MigrationRolledBack", "Warning", msg);
        free(msg);
    }
}

/* Records, once, KubeVirt's kubevirt.io/migration-target-ready-timestamp
 * of the target pod of 'lsp''s migration to this chassis in the port's
 * timeline.  Only recorded and reported: the port's activation is the
 * workload's RARP, and nothing waits for the annotation. */
static void
note_target_ready(struct kube_sync *ks, const struct attach_ctx *ctx,
                  const struct nbrec_logical_switch_port *lsp)
{
    const struct smap *ids = &lsp->external_ids;
    const char *dst = smap_get(ids, MIGRATION_KEY_DST);
    const char *pod = smap_get(ids, MIGRATION_KEY_DST_POD);
    const char *slash = pod ? strchr(pod, '/') : NULL;

    if (!slash || !dst || strcmp(dst, ctx->chassis) || !ctx->migration
        || smap_get(ids, MIGRATION_KEY_T_READY)
        || !migration_in_progress(lsp)
        || migration_busy(ctx->migration, lsp->name)) {
        return;
    }
    char *ns = xmemdup0(pod, slash - pod);
    const char *ts = kube_get_str(kube_watch_get(ks->pods, ns, slash + 1),
                                  "metadata", "annotations",
                                  MIGRATION_KUBEVIRT_TARGET_READY, NULL);
    free(ns);
    long long int ms = kube_parse_time_ms(ts);
    if (ms) {
        VLOG_INFO("%s: KubeVirt marked target pod %s ready at %s (%lld ms "
                  "after its CNI ADD)", lsp->name, pod, ts,
                  ms - time_key(lsp, MIGRATION_KEY_T_ADD));
        migration_note(ctx->migration, lsp->name, MIGRATION_KEY_T_READY, ms);
    }
}

/* Posts the Events of 'lsp''s migration to this chassis that were not
 * posted yet, and adds its name to 'seen'. */
static void
report_port(struct kube_sync *ks, const struct attach_ctx *ctx,
            const struct nbrec_logical_switch_port *lsp, struct sset *seen)
{
    const struct smap *ids = &lsp->external_ids;
    const char *dst = smap_get(ids, MIGRATION_KEY_DST);
    enum migration_state state = migration_get_state(lsp);
    if (state == MIGRATION_NONE || !dst || strcmp(dst, ctx->chassis)) {
        return;
    }
    if (state == MIGRATION_PREPARED && !smap_get(ids, MIGRATION_KEY_T_DUP)) {
        return;                 /* Not duplicating yet. */
    }
    const char *count = smap_get_def(ids, MIGRATION_KEY_COUNT, "0");
    struct kube_report *r = shash_find_data(&ks->reported, lsp->name);
    sset_add(seen, lsp->name);
    if (r && !strcmp(r->count, count) && r->state == state) {
        return;
    }
    enum migration_state from = (r && !strcmp(r->count, count)
                                 ? r->state : MIGRATION_NONE);
    if (ks->seeded) {
        report(ks, lsp, from, state);
    }
    if (!r) {
        r = xzalloc(sizeof *r);
        shash_add(&ks->reported, lsp->name, r);
    }
    free(r->count);
    r->count = xstrdup(count);
    r->state = state;
}

static void
report_destroy(struct kube_report *r)
{
    if (r) {
        free(r->count);
        free(r);
    }
}

/* One pass over the logical ports: KubeVirt's verdicts (only while the
 * watches are live: nothing is decided on a cache that may be stale) and
 * the Events. */
static void
scan_ports(struct kube_sync *ks, const struct attach_ctx *ctx)
{
    bool live = (kube_watch_is_live(ks->vmims)
                 && kube_watch_is_live(ks->vmis));
    struct sset seen = SSET_INITIALIZER(&seen);
    const struct nbrec_logical_switch_port *lsp;
    struct shash_node *node;

    NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
        if (!smap_get(&lsp->external_ids, MIGRATION_KEY_STATE)) {
            continue;           /* Never migrated. */
        }
        note_target_ready(ks, ctx, lsp);
        if (live) {
            decide_port(ks, ctx, lsp);
        }
        report_port(ks, ctx, lsp, &seen);
    }

    /* Forget what the source was waiting on once it is decided, and the
     * reports of ports that are gone. */
    SHASH_FOR_EACH_SAFE (node, &ks->pending) {
        lsp = nb_port_find(ctx->nb_ix, node->name);
        if (!lsp || !migration_in_progress(lsp)) {
            free(node->data);
            shash_delete(&ks->pending, node);
        }
    }
    SHASH_FOR_EACH_SAFE (node, &ks->reported) {
        if (!sset_contains(&seen, node->name)) {
            report_destroy(node->data);
            shash_delete(&ks->reported, node);
        }
    }
    sset_destroy(&seen);
    /* What was there when the daemon started was reported by the daemon
     * before it. */
    ks->seeded = true;
}

/* ------------------------------------------------------------------ */

/* Whether kube_sync_run() looks at ports: its timer is waited on only
 * then, or a past deadline would wake the loop forever. */
static bool
can_scan(const struct attach_ctx *ctx)
{
    return (ctx->chassis && ctx->nb_idl && ctx->sb_idl
            && ovsdb_idl_is_connected(ctx->nb_idl)
            && ovsdb_idl_has_ever_connected(ctx->nb_idl));
}

void
kube_sync_run(struct kube_sync *ks, const struct attach_ctx *ctx)
{
    kube_client_run(ks->client);
    kube_watch_run(ks->pods);
    kube_watch_run(ks->vmis);
    kube_watch_run(ks->vmims);

    struct kube_post *p;
    LIST_FOR_EACH (p, node, &ks->posts) {
        if (!p->req && (time_msec() >= p->next_try
                        || kube_client_n_answers(ks->client) != p->answers)) {
            post_send(p);
        }
    }

    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, &ks->fetches) {
        struct kube_fetch *f = node->data;
        if (!f->req && time_msec() - f->done_at >= KUBE_FETCH_KEEP_MS) {
            fetch_destroy(f);
            shash_delete(&ks->fetches, node);
        }
    }

    if (!can_scan(ctx)) {
        return;
    }
    unsigned int seqnos[3] = {
        kube_watch_seqno(ks->pods), kube_watch_seqno(ks->vmis),
        kube_watch_seqno(ks->vmims),
    };
    unsigned int nb_seqno = ovsdb_idl_get_seqno(ctx->nb_idl);
    if (!memcmp(seqnos, ks->seqnos, sizeof seqnos)
        && nb_seqno == ks->nb_seqno && time_msec() < ks->next_scan) {
        return;
    }
    memcpy(ks->seqnos, seqnos, sizeof seqnos);
    ks->nb_seqno = nb_seqno;
    /* Also now and then: a transition refused as busy is tried again. */
    ks->next_scan = time_msec() + 1000;

    scan_ports(ks, ctx);
}

void
kube_sync_wait(struct kube_sync *ks, const struct attach_ctx *ctx)
{
    kube_client_wait(ks->client);
    kube_watch_wait(ks->pods);
    kube_watch_wait(ks->vmis);
    kube_watch_wait(ks->vmims);
    struct kube_post *p;
    LIST_FOR_EACH (p, node, &ks->posts) {
        if (!p->req) {
            poll_timer_wait_until(p->next_try);
        }
    }
    struct shash_node *node;
    SHASH_FOR_EACH (node, &ks->fetches) {
        struct kube_fetch *f = node->data;
        if (!f->req) {
            poll_timer_wait_until(f->done_at + KUBE_FETCH_KEEP_MS);
        }
    }
    if (can_scan(ctx)) {
        poll_timer_wait_until(ks->next_scan);
    }
}

/* ------------------------------------------------------------------ */

void
kube_sync_format_status(const struct kube_sync *ks, struct ds *s)
{
    ds_put_format(s, "server: %s\nnode: %s\n",
                  kube_client_server(ks->client), ks->node);
    kube_watch_format(ks->pods, s);
    ds_put_char(s, '\n');
    kube_watch_format(ks->vmis, s);
    ds_put_char(s, '\n');
    kube_watch_format(ks->vmims, s);
    ds_put_char(s, '\n');
    ds_put_format(s, "pod GETs: %u (%zu kept)\n", ks->n_fetches,
                  shash_count(&ks->fetches));
    ds_put_format(s, "migrations completed: %u, rolled back: %u, kept on "
                  "the target after a post-copy failure: %u\n",
                  ks->n_completed, ks->n_rolled_back, ks->n_kept_target);
    if (ks->last_decision) {
        ds_put_format(s, "last decision: %s\n", ks->last_decision);
    }
    ds_put_format(s, "events posted: %u, failed: %u, dropped: %u, "
                  "in flight: %zu\n", ks->n_events, ks->n_event_errors,
                  ks->n_events_dropped, ks->n_posts);
}

/* Prometheus text for the watches, the verdicts and the Events. */
void
kube_sync_format_metrics(const struct kube_sync *ks, struct ds *s)
{
    const struct kube_watch *watches[] = { ks->pods, ks->vmis, ks->vmims };
    struct kube_watch_stats st[ARRAY_SIZE(watches)];

    for (size_t i = 0; i < ARRAY_SIZE(watches); i++) {
        kube_watch_get_stats(watches[i], &st[i]);
    }
    ds_put_cstr(s, "# HELP ovn_lm_kubernetes_watch_up Whether the watch "
                "has listed and is watching.\n"
                "# TYPE ovn_lm_kubernetes_watch_up gauge\n");
    for (size_t i = 0; i < ARRAY_SIZE(watches); i++) {
        ds_put_format(s, "ovn_lm_kubernetes_watch_up{resource=\"%s\"} %d\n",
                      kube_watch_name(watches[i]),
                      kube_watch_is_live(watches[i]));
    }
    static const struct {
        const char *name, *help;
        size_t offset;
    } counters[] = {
        { "lists", "LISTs completed",
          offsetof(struct kube_watch_stats, n_lists) },
        { "relists", "LISTs again after 410 Gone",
          offsetof(struct kube_watch_stats, n_relists) },
        { "events", "Watch events received",
          offsetof(struct kube_watch_stats, n_events) },
        { "errors", "Failed LISTs and watches",
          offsetof(struct kube_watch_stats, n_errors) },
    };
    for (size_t c = 0; c < ARRAY_SIZE(counters); c++) {
        ds_put_format(s, "# HELP ovn_lm_kubernetes_watch_%s_total %s.\n"
                      "# TYPE ovn_lm_kubernetes_watch_%s_total counter\n",
                      counters[c].name, counters[c].help, counters[c].name);
        for (size_t i = 0; i < ARRAY_SIZE(watches); i++) {
            unsigned int v = *(const unsigned int *)
                ((const char *) &st[i] + counters[c].offset);
            ds_put_format(s, "ovn_lm_kubernetes_watch_%s_total"
                          "{resource=\"%s\"} %u\n", counters[c].name,
                          kube_watch_name(watches[i]), v);
        }
    }
    ds_put_format(s, "# HELP ovn_lm_kubernetes_verdicts_total Migrations "
                  "this daemon ended on KubeVirt's word.\n"
                  "# TYPE ovn_lm_kubernetes_verdicts_total counter\n"
                  "ovn_lm_kubernetes_verdicts_total{verdict=\"completed\"} "
                  "%u\n"
                  "ovn_lm_kubernetes_verdicts_total{verdict=\"rolled-back\"} "
                  "%u\n"
                  "ovn_lm_kubernetes_verdicts_total{verdict=\"kept-target\"} "
                  "%u\n", ks->n_completed, ks->n_rolled_back,
                  ks->n_kept_target);
    ds_put_format(s, "# HELP ovn_lm_kubernetes_events_total Kubernetes "
                  "Events about migrations, by outcome.\n"
                  "# TYPE ovn_lm_kubernetes_events_total counter\n"
                  "ovn_lm_kubernetes_events_total{result=\"posted\"} %u\n"
                  "ovn_lm_kubernetes_events_total{result=\"failed\"} %u\n"
                  "ovn_lm_kubernetes_events_total{result=\"dropped\"} %u\n",
                  ks->n_events, ks->n_event_errors, ks->n_events_dropped);
}

/* One line per VirtualMachineInstanceMigration in the cache: its phase,
 * its VMI's migrationState and the logical port it maps to. */
void
kube_sync_format_migrations(const struct kube_sync *ks,
                            const struct attach_ctx *ctx, struct ds *s)
{
    const struct shash_node **nodes = shash_sort(kube_watch_objects(
                                                     ks->vmims));
    size_t n = shash_count(kube_watch_objects(ks->vmims));

    for (size_t i = 0; i < n; i++) {
        const cJSON *vmim = nodes[i]->data;
        const char *ns = kube_get_str(vmim, "metadata", "namespace", NULL);
        const char *uid = kube_get_str(vmim, "metadata", "uid", NULL);
        const char *vmi_name = kube_get_str(vmim, "spec", "vmiName", NULL);
        const char *phase = kube_get_str(vmim, "status", "phase", NULL);
        const cJSON *vmi = (ns && vmi_name
                            ? kube_watch_get(ks->vmis, ns, vmi_name) : NULL);
        const cJSON *ms = kube_get(vmi, "status", "migrationState", NULL);
        const char *ms_uid = kube_get_str(ms, "migrationUid", NULL);

        ds_put_format(s, "%s uid=%s vmi=%s phase=%s", nodes[i]->name,
                      uid ? uid : "?", vmi_name ? vmi_name : "?",
                      phase ? phase : "-");
        if (ms) {
            const char *mode = kube_get_str(ms, "mode", NULL);
            const char *abort = kube_get_str(ms, "abortStatus", NULL);
            ds_put_format(s, " migrationState=%s:%s->%s%s%s%s%s%s%s",
                          ms_uid && uid && !strcmp(ms_uid, uid)
                          ? "this" : "other",
                          kube_get_str(ms, "sourceNode", NULL)
                          ? kube_get_str(ms, "sourceNode", NULL) : "?",
                          kube_get_str(ms, "targetNode", NULL)
                          ? kube_get_str(ms, "targetNode", NULL) : "?",
                          json_true(kube_get(ms, "completed", NULL))
                          ? " completed" : "",
                          json_true(kube_get(ms, "failed", NULL))
                          ? " failed" : "",
                          mode ? " mode=" : "", mode ? mode : "",
                          abort ? " abortStatus=" : "", abort ? abort : "");
        }
        if (ctx && ctx->nb_idl && uid) {
            const struct nbrec_logical_switch_port *lsp;
            NBREC_LOGICAL_SWITCH_PORT_FOR_EACH (lsp, ctx->nb_idl) {
                const char *u = smap_get(&lsp->external_ids,
                                         MIGRATION_KEY_UID);
                if (u && !strcmp(u, uid)) {
                    ds_put_format(s, " port=%s state=%s", lsp->name,
                                  smap_get_def(&lsp->external_ids,
                                               MIGRATION_KEY_STATE, "none"));
                    break;
                }
            }
        }
        ds_put_char(s, '\n');
    }
    free(nodes);
}
