/*
 * KubeVirt's verdict on a live migration (see kube-verdict.h).
 */
#include <config.h>
#include "kube-verdict.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kube-watch.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

const char *
kube_verdict_to_string(enum kube_verdict v)
{
    switch (v) {
    case KUBE_VERDICT_WAIT:
        return "wait";
    case KUBE_VERDICT_COMPLETE:
        return "complete";
    case KUBE_VERDICT_ROLL_BACK:
        return "roll back";
    case KUBE_VERDICT_KEEP_TARGET:
        return "keep the target";
    default:
        return "?";
    }
}

static bool
json_true(const cJSON *j)
{
    return cJSON_IsTrue(j) || (cJSON_IsString(j)
                               && !strcmp(j->valuestring, "true"));
}

static bool
str_is(const char *s, const char *value)
{
    return s && !strcmp(s, value);
}

/* Fills 'v' from 'vmim' (the VirtualMachineInstanceMigration, or NULL) and
 * 'ms' (its VMI's status.migrationState, or NULL) for the migration with
 * 'uid'.  'v' points into both: it is valid as long as they are. */
void
kube_migration_view_init(struct kube_migration_view *v, const cJSON *vmim,
                         const cJSON *ms, const char *uid)
{
    memset(v, 0, sizeof *v);
    v->has_vmim = vmim != NULL;
    v->phase = kube_get_str(vmim, "status", "phase", NULL);
    v->vmim_name = kube_get_str(vmim, "metadata", "name", NULL);

    const char *ms_uid = kube_get_str(ms, "migrationUid", NULL);
    if (!ms || !ms_uid || !uid || strcmp(ms_uid, uid)) {
        v->other_state = ms != NULL;
        return;
    }
    v->has_state = true;
    v->completed = json_true(kube_get(ms, "completed", NULL));
    v->failed = json_true(kube_get(ms, "failed", NULL));
    v->abort_status = kube_get_str(ms, "abortStatus", NULL);
    v->mode = kube_get_str(ms, "mode", NULL);
    v->source_node = kube_get_str(ms, "sourceNode", NULL);
    v->target_node = kube_get_str(ms, "targetNode", NULL);
    v->failure_reason = kube_get_str(ms, "failureReason", NULL);
}

/* Decides what the port of the migration with 'uid' does on what 'v' says
 * (see kube-verdict.h for the rules).  'nodes_match' tells whether the
 * migrationState's sourceNode and targetNode are the port's source and
 * target chassis.  Appends the reason to 'why' (for a wait, only when the
 * objects contradict each other, so that it can be logged). */
enum kube_verdict
kube_verdict_decide(const struct kube_migration_view *v, const char *uid,
                    bool nodes_match, struct ds *why)
{
    const char *src = v->source_node ? v->source_node : "?";
    const char *dst = v->target_node ? v->target_node : "?";

    if (!v->has_vmim && !v->has_state) {
        return KUBE_VERDICT_WAIT;   /* Nothing (yet) about this one. */
    }
    if (v->has_state && str_is(v->abort_status, "Aborting")) {
        return KUBE_VERDICT_WAIT;   /* KubeVirt has not decided yet. */
    }

    bool aborted = v->has_state && str_is(v->abort_status, "Succeeded");
    bool failed = (str_is(v->phase, "Failed") || (v->has_state && v->failed)
                   || aborted);
    if (failed) {
        const char *how = (aborted ? "was aborted"
                           : v->failed ? "failed" : "failed (VMIM Failed)");
        if (v->has_state && str_is(v->mode, "PostCopy")) {
            if (!nodes_match) {
                ds_put_format(why, "post-copy migration %s %s going %s -> "
                              "%s, but the port moves elsewhere", uid, how,
                              src, dst);
                return KUBE_VERDICT_WAIT;
            }
            ds_put_format(why, "kubevirt: post-copy migration %s %s%s%s: "
                          "the target holds the VM's only current state, "
                          "the port stays on it (%s -> %s)", uid, how,
                          v->failure_reason ? ": " : "",
                          v->failure_reason ? v->failure_reason : "",
                          src, dst);
            return KUBE_VERDICT_KEEP_TARGET;
        }
        ds_put_format(why, "kubevirt: migration %s %s%s%s", uid, how,
                      v->failure_reason ? ": " : "",
                      v->failure_reason ? v->failure_reason : "");
        return KUBE_VERDICT_ROLL_BACK;
    }

    bool succeeded = str_is(v->phase, "Succeeded") || v->completed;
    if (!succeeded) {
        return KUBE_VERDICT_WAIT;
    }
    if (!v->has_state) {
        ds_put_format(why, "VMIM %s Succeeded, but the VMI has %s",
                      v->vmim_name ? v->vmim_name : "?",
                      v->other_state ? "the migrationState of another "
                      "migration" : "no migrationState for it");
        return KUBE_VERDICT_WAIT;
    }
    if (!nodes_match) {
        ds_put_format(why, "migration %s went %s -> %s, but the port moves "
                      "elsewhere", uid, src, dst);
        return KUBE_VERDICT_WAIT;
    }
    ds_put_format(why, "kubevirt: migration %s succeeded (%s%s%s -> %s)", uid,
                  v->mode ? v->mode : "", v->mode ? ", " : "", src, dst);
    return KUBE_VERDICT_COMPLETE;
}

/* Parses a Kubernetes timestamp (RFC 3339: "2024-05-01T10:00:00Z",
 * optionally with a fraction of seconds and a numeric offset instead of
 * "Z").  Returns milliseconds since the epoch, or 0 if 's' is not one. */
long long int
kube_parse_time_ms(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p) {
        return 0;
    }
    long long int ms = 0;
    if (*p == '.') {
        int digits = 0;
        for (p++; isdigit((unsigned char) *p); p++, digits++) {
            if (digits < 3) {
                ms = ms * 10 + (*p - '0');
            }
        }
        if (!digits) {
            return 0;
        }
        for (; digits < 3; digits++) {
            ms *= 10;
        }
    }
    long long int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && isdigit((unsigned char) p[1])
               && isdigit((unsigned char) p[2]) && p[3] == ':'
               && isdigit((unsigned char) p[4])
               && isdigit((unsigned char) p[5])) {
        offset = (((p[1] - '0') * 10 + (p[2] - '0')) * 60
                  + (p[4] - '0') * 10 + (p[5] - '0')) * 60;
        if (*p == '-') {
            offset = -offset;
        }
        p += 6;
    } else {
        return 0;
    }
    if (*p) {
        return 0;
    }
    time_t t = timegm(&tm);
    if (t == (time_t) -1) {
        return 0;
    }
    return ((long long int) t - offset) * 1000 + ms;
}
