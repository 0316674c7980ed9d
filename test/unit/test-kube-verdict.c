/*
 * test-kube-verdict.c: KubeVirt's verdict on a migration (kube-verdict.c)
 * from a table of VMIM and VMI migrationState objects, as KubeVirt writes
 * them, and Kubernetes timestamps.
 */
#include <config.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube-verdict.h"
#include "openvswitch/dynamic-string.h"
#include "test.h"
#include "util.h"

#define UID "2c1d-mig"

struct verdict_case {
    const char *name;
    const char *vmim;           /* JSON of the VMIM's status, or NULL. */
    const char *ms;             /* JSON of the VMI's migrationState, or
                                 * NULL. */
    bool nodes_match;
    enum kube_verdict want;
    const char *why;            /* A substring of the reason, or NULL. */
};

#define MS(EXTRA) \
    "{\"migrationUid\": \"" UID "\", \"sourceNode\": \"n1\", " \
    "\"targetNode\": \"n2\"" EXTRA "}"
#define OTHER_MS(EXTRA) \
    "{\"migrationUid\": \"other\", \"sourceNode\": \"n1\", " \
    "\"targetNode\": \"n2\"" EXTRA "}"

static const struct verdict_case cases[] = {
    /* Nothing yet: the target's ADD came before KubeVirt wrote anything. */
    { "nothing", NULL, NULL, false, KUBE_VERDICT_WAIT, NULL },
    { "vmim-no-phase", "{}", NULL, false, KUBE_VERDICT_WAIT, NULL },
    /* Every phase before the end waits, with or without migrationState. */
    { "pending", "{\"phase\": \"Pending\"}", NULL, false,
      KUBE_VERDICT_WAIT, NULL },
    { "scheduling", "{\"phase\": \"Scheduling\"}", NULL, false,
      KUBE_VERDICT_WAIT, NULL },
    { "scheduled", "{\"phase\": \"Scheduled\"}", MS(""), true,
      KUBE_VERDICT_WAIT, NULL },
    { "preparing-target", "{\"phase\": \"PreparingTarget\"}", MS(""), true,
      KUBE_VERDICT_WAIT, NULL },
    { "target-ready", "{\"phase\": \"TargetReady\"}", MS(""), true,
      KUBE_VERDICT_WAIT, NULL },
    { "running-precopy", "{\"phase\": \"Running\"}",
      MS(", \"mode\": \"PreCopy\""), true, KUBE_VERDICT_WAIT, NULL },
    { "running-postcopy", "{\"phase\": \"Running\"}",
      MS(", \"mode\": \"PostCopy\""), true, KUBE_VERDICT_WAIT, NULL },

    /* Completion. */
    { "succeeded", "{\"phase\": \"Succeeded\"}", MS(""), true,
      KUBE_VERDICT_COMPLETE, "succeeded (n1 -> n2)" },
    { "completed-only", "{\"phase\": \"Running\"}",
      MS(", \"completed\": true"), true, KUBE_VERDICT_COMPLETE, NULL },
    { "completed-vmim-gone", NULL, MS(", \"completed\": true"), true,
      KUBE_VERDICT_COMPLETE, NULL },
    { "completed-string", NULL, MS(", \"completed\": \"true\""), true,
      KUBE_VERDICT_COMPLETE, NULL },
    { "succeeded-postcopy", "{\"phase\": \"Succeeded\"}",
      MS(", \"completed\": true, \"mode\": \"PostCopy\""), true,
      KUBE_VERDICT_COMPLETE, "PostCopy, n1 -> n2" },
    { "succeeded-no-state", "{\"phase\": \"Succeeded\"}", NULL, false,
      KUBE_VERDICT_WAIT, "no migrationState for it" },
    { "succeeded-other-state", "{\"phase\": \"Succeeded\"}",
      OTHER_MS(", \"completed\": true"), false, KUBE_VERDICT_WAIT,
      "another migration" },
    { "succeeded-other-nodes", "{\"phase\": \"Succeeded\"}",
      MS(", \"completed\": true"), false, KUBE_VERDICT_WAIT,
      "went n1 -> n2, but the port moves elsewhere" },
    { "completed-false", NULL, MS(", \"completed\": false"), true,
      KUBE_VERDICT_WAIT, NULL },
    /* An abort that failed: the migration went on and ended well. */
    { "abort-failed-completed", "{\"phase\": \"Succeeded\"}",
      MS(", \"completed\": true, \"abortStatus\": \"Failed\""), true,
      KUBE_VERDICT_COMPLETE, NULL },
    { "abort-failed-running", "{\"phase\": \"Running\"}",
      MS(", \"abortStatus\": \"Failed\""), true, KUBE_VERDICT_WAIT, NULL },

    /* Failure and abort before post-copy: back to the source. */
    { "failed", "{\"phase\": \"Failed\"}", MS(", \"failed\": true"), true,
      KUBE_VERDICT_ROLL_BACK, "migration " UID " failed" },
    { "failed-reason", NULL,
      MS(", \"failed\": true, \"failureReason\": \"target pod died\""),
      true, KUBE_VERDICT_ROLL_BACK, "failed: target pod died" },
    { "vmim-failed-no-state", "{\"phase\": \"Failed\"}", NULL, false,
      KUBE_VERDICT_ROLL_BACK, "failed (VMIM Failed)" },
    { "vmim-failed-other-state", "{\"phase\": \"Failed\"}",
      OTHER_MS(", \"completed\": true"), false, KUBE_VERDICT_ROLL_BACK,
      NULL },
    { "completed-and-failed", "{\"phase\": \"Succeeded\"}",
      MS(", \"completed\": true, \"failed\": true"), true,
      KUBE_VERDICT_ROLL_BACK, NULL },
    { "failed-precopy", "{\"phase\": \"Failed\"}",
      MS(", \"failed\": true, \"mode\": \"PreCopy\""), true,
      KUBE_VERDICT_ROLL_BACK, NULL },
    { "aborting", "{\"phase\": \"Running\"}",
      MS(", \"abortRequested\": true, \"abortStatus\": \"Aborting\""), true,
      KUBE_VERDICT_WAIT, NULL },
    { "aborting-even-if-failed-phase", "{\"phase\": \"Failed\"}",
      MS(", \"abortStatus\": \"Aborting\""), true, KUBE_VERDICT_WAIT, NULL },
    { "aborted", "{\"phase\": \"Running\"}",
      MS(", \"abortStatus\": \"Succeeded\""), true, KUBE_VERDICT_ROLL_BACK,
      "was aborted" },
    { "aborted-failed", "{\"phase\": \"Failed\"}",
      MS(", \"failed\": true, \"abortStatus\": \"Succeeded\""), false,
      KUBE_VERDICT_ROLL_BACK, "was aborted" },
    { "abort-other-migration", "{\"phase\": \"Running\"}",
      OTHER_MS(", \"abortStatus\": \"Succeeded\""), true, KUBE_VERDICT_WAIT,
      NULL },

    /* Post-copy failure: the target holds the only current state. */
    { "postcopy-failed", "{\"phase\": \"Failed\"}",
      MS(", \"failed\": true, \"mode\": \"PostCopy\""), true,
      KUBE_VERDICT_KEEP_TARGET, "the port stays on it (n1 -> n2)" },
    { "postcopy-failed-vmim-gone", NULL,
      MS(", \"failed\": true, \"mode\": \"PostCopy\""), true,
      KUBE_VERDICT_KEEP_TARGET, NULL },
    { "postcopy-vmim-failed", "{\"phase\": \"Failed\"}",
      MS(", \"mode\": \"PostCopy\""), true, KUBE_VERDICT_KEEP_TARGET, NULL },
    { "postcopy-failed-other-nodes", "{\"phase\": \"Failed\"}",
      MS(", \"failed\": true, \"mode\": \"PostCopy\""), false,
      KUBE_VERDICT_WAIT, "but the port moves elsewhere" },
    { "postcopy-aborting", "{\"phase\": \"Running\"}",
      MS(", \"mode\": \"PostCopy\", \"abortStatus\": \"Aborting\""), true,
      KUBE_VERDICT_WAIT, NULL },
    { "postcopy-aborted", "{\"phase\": \"Failed\"}",
      MS(", \"mode\": \"PostCopy\", \"abortStatus\": \"Succeeded\""), true,
      KUBE_VERDICT_KEEP_TARGET, NULL },
};

static cJSON *
parse_or_null(const char *json)
{
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    if (json && !j) {
        fprintf(stderr, "bad test JSON: %s\n", json);
        exit(1);
    }
    return j;
}

static void
test_decide(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct verdict_case *c = &cases[i];
        cJSON *vmim = NULL;
        if (c->vmim) {
            vmim = cJSON_CreateObject();
            cJSON *md = cJSON_AddObjectToObject(vmim, "metadata");
            cJSON_AddStringToObject(md, "name", "mig1");
            cJSON_AddItemToObject(vmim, "status", parse_or_null(c->vmim));
        }
        cJSON *ms = parse_or_null(c->ms);
        struct kube_migration_view v;
        struct ds why = DS_EMPTY_INITIALIZER;

        test_case(c->name);
        kube_migration_view_init(&v, vmim, ms, UID);
        enum kube_verdict got = kube_verdict_decide(&v, UID, c->nodes_match,
                                                    &why);
        if (!TEST_EQ_STR(kube_verdict_to_string(got),
                         kube_verdict_to_string(c->want))) {
            fprintf(stderr, "    why: %s\n", ds_cstr(&why));
        }
        if (c->why && !TEST_CHECK(strstr(ds_cstr(&why), c->why))) {
            fprintf(stderr, "    why: \"%s\"\n    wanted it to contain "
                    "\"%s\"\n", ds_cstr(&why), c->why);
        }
        if (got != KUBE_VERDICT_WAIT) {
            /* An action always says why. */
            TEST_CHECK(why.length > 0);
        }
        ds_destroy(&why);
        cJSON_Delete(vmim);
        cJSON_Delete(ms);
    }
    test_case(NULL);
}

static void
test_time(void)
{
    static const struct {
        const char *s;
        long long int ms;
    } t[] = {
        { "1970-01-01T00:00:00Z", 0 },  /* The epoch reads as "not one". */
        { "1970-01-01T00:00:01Z", 1000 },
        { "2024-05-01T10:00:00Z", 1714557600000LL },
        { "2024-05-01T10:00:00.5Z", 1714557600500LL },
        { "2024-05-01T10:00:00.123456789Z", 1714557600123LL },
        { "2024-05-01T12:00:00+02:00", 1714557600000LL },
        { "2024-05-01T09:30:00-00:30", 1714557600000LL },
        { "2024-05-01T10:00:00", 0 },
        { "2024-05-01T10:00:00.Z", 0 },
        { "2024-05-01T10:00:00Zjunk", 0 },
        { "2024-05-01 10:00:00Z", 0 },
        { "", 0 },
        { NULL, 0 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        test_case(t[i].s ? t[i].s : "(null)");
        TEST_EQ_INT(kube_parse_time_ms(t[i].s), t[i].ms);
    }
    test_case(NULL);
}

int
main(void)
{
    test_decide();
    test_time();
    return test_summary();
}
