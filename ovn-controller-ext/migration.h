/*
 * migration: live migration of a workload's logical port between chassis
 * with OVN's multi-chassis port binding.
 *
 *   prepared   the target's CNI ADD set requested-chassis="SRC,DST" and
 *              activation-strategy=rarp: OVN duplicates the port's traffic
 *              to both chassis and keeps the target blocked.
 *   activated  the workload announced itself on the target with a RARP;
 *              ovn-controller there set the Southbound Port_Binding's
 *              options:additional-chassis-activated and unblocked it.
 *   completed  requested-chassis=DST, activation-strategy removed: the
 *              target alone holds the port (source pod's DEL, unixctl, or
 *              the Kubernetes migration-complete event).
 *   rolled-back requested-chassis=SRC: the source keeps the port (target's
 *              DEL before activation, unixctl, a timeout, or a failed
 *              migration event).
 *
 * All of it lives in the logical port's external_ids (keys below), not in
 * daemon memory: a daemon killed at any step picks up where it stopped.
 */
#ifndef MIGRATION_H
#define MIGRATION_H 1

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct attach_ctx;
struct cni_request;
struct ds;
struct metrics;
struct migration;
struct nbrec_logical_switch_port;
struct sbrec_port_binding;
struct smap;
struct unixctl_conn;

#define MIGRATION_KEY_MIGRATABLE "ovn-lm/live-migration"
#define MIGRATION_KEY_STATE "ovn-lm/migration"
#define MIGRATION_KEY_SRC "ovn-lm/migration-src"
#define MIGRATION_KEY_DST "ovn-lm/migration-dst"
#define MIGRATION_KEY_DST_CONTAINER "ovn-lm/migration-dst-container-id"
#define MIGRATION_KEY_DST_IFNAME "ovn-lm/migration-dst-ifname"
#define MIGRATION_KEY_DST_POD "ovn-lm/migration-dst-pod"
#define MIGRATION_KEY_UID "ovn-lm/migration-uid" /* KubeVirt's. */
#define MIGRATION_KEY_T_ADD "ovn-lm/migration-t-add"
#define MIGRATION_KEY_T_DUP "ovn-lm/migration-t-duplicating"
#define MIGRATION_KEY_T_ACT "ovn-lm/migration-t-activated"
#define MIGRATION_KEY_T_END "ovn-lm/migration-t-end"
/* KubeVirt's kubevirt.io/migration-target-ready-timestamp, in ms. */
#define MIGRATION_KEY_T_READY "ovn-lm/migration-t-target-ready"
#define MIGRATION_KEY_COUNT "ovn-lm/migration-count"
#define MIGRATION_KEY_ROLLBACK_REASON "ovn-lm/migration-rollback-reason"

/* KubeVirt's label on a migration's target virt-launcher pod. */
#define MIGRATION_KUBEVIRT_JOB_UID "kubevirt.io/migrationJobUID"
/* KubeVirt's annotation on the target pod once the VM is active there. */
#define MIGRATION_KUBEVIRT_TARGET_READY \
    "kubevirt.io/migration-target-ready-timestamp"

/* Pod annotations. */
#define MIGRATION_KUBEVIRT_OPT_IN \
    "kubevirt.io/allow-pod-bridge-network-live-migration"
#define MIGRATION_OPT_IN "ovn-lm.io/live-migration"
#define MIGRATION_AUTO_RARP "ovn-lm.io/auto-rarp"

/* On the target's OVS Interface: send a RARP for the workload once a new
 * process joins the pod's namespace. */
#define MIGRATION_IFACE_AUTO_RARP "ovn-lm/auto-rarp"

enum migration_state {
    MIGRATION_NONE,
    MIGRATION_PREPARED,
    MIGRATION_ACTIVATED,
    MIGRATION_COMPLETED,
    MIGRATION_ROLLED_BACK,
};

const char *migration_state_to_string(enum migration_state);
enum migration_state migration_get_state(
    const struct nbrec_logical_switch_port *);
bool migration_in_progress(const struct nbrec_logical_switch_port *);
bool migration_opted_in(const struct cni_request *);
bool migration_is_target(const struct nbrec_logical_switch_port *,
                         const char *container_id, const char *ifname);
const char *migration_stale_activation(const struct sbrec_port_binding *);
long long int migration_wall_ms(void);
void migration_format_events(const struct smap *external_ids, struct ds *);
long long int migration_get_time_key(const struct nbrec_logical_switch_port *,
                                     const char *key);

/* Transaction builders: each modifies 'lsp' in the IDL transaction that
 * is open on its database. */
void migration_txn_prepare(const struct nbrec_logical_switch_port *,
                           const char *src, const char *dst,
                           const char *dst_container, const char *dst_ifname,
                           const char *dst_pod, const char *uid);
void migration_txn_rearm(const struct nbrec_logical_switch_port *,
                         const char *src);
void migration_txn_complete(const struct nbrec_logical_switch_port *);
void migration_txn_rollback(const struct nbrec_logical_switch_port *,
                            const char *why);

/* The background side: activation, timeouts, auto-RARP, control. */
struct migration *migration_create(long long int timeout_ms);
void migration_destroy(struct migration *);
void migration_run(struct migration *, const struct attach_ctx *);
void migration_wait(struct migration *, const struct attach_ctx *);

void migration_note(struct migration *, const char *lport, const char *key,
                    long long int value);
void migration_watch_auto_rarp(struct migration *, const char *lport,
                               const char *netns);

/* The record of a migration's end (log line, metrics, ovn-lm/migrations
 * history), composed with the final transaction and kept only once that
 * transaction commits. */
struct migration_final;
struct migration_final *migration_final_create(
    const struct nbrec_logical_switch_port *, enum migration_state final);
void migration_final_record(struct migration *, struct metrics *,
                            struct migration_final *);
void migration_final_destroy(struct migration_final *);

/* Called once a transition migration_request() started has committed. */
typedef void migration_done_func(void *aux, const char *lport, int tag);

int migration_request(struct migration *, const struct attach_ctx *,
                      const char *lport, enum migration_state to,
                      const char *why, struct unixctl_conn *,
                      migration_done_func *, void *aux, int tag,
                      char **errorp);
bool migration_busy(const struct migration *, const char *lport);
size_t migration_n_pending(const struct migration *);
void migration_abort(struct migration *, const char *why);

void migration_unixctl_register(struct migration *,
                                const struct attach_ctx *(*get_ctx)(void *),
                                void *aux);

#endif /* migration.h */
