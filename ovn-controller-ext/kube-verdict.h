/*
 * kube-verdict: what KubeVirt's objects say about one live migration, as a
 * pure function of them (no I/O, no database), so that every combination
 * can be tested from a table.
 *
 * The inputs are the VirtualMachineInstanceMigration (its status.phase:
 * Pending, Scheduling, Scheduled, PreparingTarget, TargetReady, Running,
 * Succeeded, Failed) and the VMI's status.migrationState (migrationUid,
 * completed, failed, abortStatus "Aborting"/"Succeeded"/"Failed", mode
 * "PreCopy"/"PostCopy", sourceNode, targetNode).  The decision, first rule
 * that applies:
 *
 *   1. Neither object says anything about this migration: wait.
 *   2. abortStatus "Aborting": wait (KubeVirt has not decided yet).
 *   3. Failed (VMIM phase Failed, migrationState failed, or abortStatus
 *      "Succeeded", which is an aborted migration):
 *        - in mode PostCopy: keep the target.  Once post-copy has started
 *          the target holds the only up-to-date copy of the VM's memory; the
 *          source's is stale, so the port never goes back to it.  The port
 *          moves to the target alone (requested-chassis=DST), as a
 *          completion.  Needs the nodes to match, like a completion;
 *        - else: roll back to the source.
 *   4. Succeeded (VMIM phase Succeeded or migrationState completed), not
 *      failed: complete, if the VMI's migrationState is this migration's and
 *      its nodes are the port's chassis; else wait (stale or contradicting
 *      information never ends a migration).
 *   5. Anything else (phases up to Running, abortStatus "Failed" meaning the
 *      abort failed and the migration goes on): wait.
 *
 * Nothing here ever blocks a CNI ADD: the target's ADD prepares the port
 * whatever the phase (the VMIM may still be Pending when KubeVirt creates
 * the target pod).
 */
#ifndef KUBE_VERDICT_H
#define KUBE_VERDICT_H 1

#include <stdbool.h>

struct cJSON;
struct ds;

/* What the objects say about one migration. */
struct kube_migration_view {
    bool has_vmim;
    const char *phase;          /* VMIM status.phase, or NULL. */
    const char *vmim_name;      /* Its metadata.name, or NULL. */

    bool has_state;             /* The VMI's migrationState is this one's. */
    bool other_state;           /* It is another migration's. */
    bool completed, failed;
    const char *abort_status;   /* Or NULL. */
    const char *mode;           /* Or NULL. */
    const char *source_node, *target_node;
    const char *failure_reason;
};

enum kube_verdict {
    KUBE_VERDICT_WAIT,
    KUBE_VERDICT_COMPLETE,
    KUBE_VERDICT_ROLL_BACK,
    KUBE_VERDICT_KEEP_TARGET,   /* Post-copy failed: the target keeps it. */
};

const char *kube_verdict_to_string(enum kube_verdict);

void kube_migration_view_init(struct kube_migration_view *,
                              const struct cJSON *vmim,
                              const struct cJSON *migration_state,
                              const char *uid);

enum kube_verdict kube_verdict_decide(const struct kube_migration_view *,
                                      const char *uid, bool nodes_match,
                                      struct ds *why);

long long int kube_parse_time_ms(const char *);

#endif /* kube-verdict.h */
