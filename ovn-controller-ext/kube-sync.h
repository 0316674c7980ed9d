/*
 * kube-sync: what the daemon takes from, and tells, the Kubernetes API.
 *
 *   - Watches (kube-watch.h) of the pods on this node (fieldSelector
 *     spec.nodeName), of KubeVirt's VirtualMachineInstances and of its
 *     VirtualMachineInstanceMigrations.
 *   - Pod metadata for the CNI path: annotations the runtime did not pass
 *     and labels, from the pod cache, else with one GET.
 *   - KubeVirt's verdict on a migration to this chassis (or from it, if
 *     the target's daemon has not acted within 5 s), decided by
 *     kube-verdict.h from the VMIM's phase and vmi.status.migrationState
 *     (completed, failed, abortStatus, mode; same migrationUid, same
 *     nodes), which alone decides once the VMIM is gone: success completes,
 *     failure or abort rolls back, a failure in post-copy keeps the target.
 *     Absent or stale information never ends a migration, and nothing here
 *     makes a CNI ADD wait.
 *   - KubeVirt's kubevirt.io/migration-target-ready-timestamp on the
 *     target pod, recorded in the port's timeline.
 *   - Kubernetes Events on the target pod for each step (prepared,
 *     activated, completed, rolled back) with the measured durations, each
 *     once: a POST that fails for want of a working server is tried again
 *     (up to 5 times) with the same Event name, so that one that did reach
 *     the server gets 409 instead of making a second Event.
 */
#ifndef KUBE_SYNC_H
#define KUBE_SYNC_H 1

#include <stdbool.h>
#include "compiler.h"

struct attach_ctx;
struct cni_request;
struct ds;
struct kube_sync;

struct kube_sync_options {
    const char *kubeconfig;     /* A kubeconfig file, or NULL. */
    const char *sa_dir;         /* In-cluster: service account dir. */
    const char *node_name;      /* This node, as Kubernetes calls it. */
    const char *user_agent;
};

char *kube_sync_create(const struct kube_sync_options *, struct kube_sync **)
    OVS_WARN_UNUSED_RESULT;
void kube_sync_destroy(struct kube_sync *);
void kube_sync_run(struct kube_sync *, const struct attach_ctx *);
void kube_sync_wait(struct kube_sync *, const struct attach_ctx *);

/* Fills in 'req''s pod annotations (unless the runtime passed some) and
 * labels from the pod cache.  A pod not in the cache is fetched with one
 * GET only if the runtime passed no annotations.  Returns 0 when done
 * (also when the request names no pod, or the API does not know it),
 * EAGAIN while a GET is in flight, or another errno value with '*errorp'
 * set (the API did not answer). */
int kube_sync_fill_request(struct kube_sync *, struct cni_request *,
                           char **errorp);

void kube_sync_format_status(const struct kube_sync *, struct ds *);
void kube_sync_format_metrics(const struct kube_sync *, struct ds *);
void kube_sync_format_migrations(const struct kube_sync *,
                                 const struct attach_ctx *, struct ds *);

#endif /* kube-sync.h */
