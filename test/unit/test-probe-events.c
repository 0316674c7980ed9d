/*
 * test-probe-events.c: the events file of ovn-lm-probe (probe-events).
 */
#include <config.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "migration.h"
#include "openvswitch/dynamic-string.h"
#include "probe-events.h"
#include "smap.h"
#include "test.h"

#define T_NS INT64_C(1732228201000000000)

struct good_case {
    const char *name;
    const char *text;
    size_t n;
    int64_t t_ns[3];            /* Of the first events, after sorting. */
    const char *labels[3];
};

static const struct good_case good_cases[] = {
    { "array", "[{\"t\": 1732228201.5, \"label\": \"b\"},\n"
      " {\"t\": 1732228201, \"label\": \"a\"}]",
      2, { T_NS, T_NS + 500000000 }, { "a", "b" } },
    { "JSON lines", "{\"t\": 1732228201.25, \"label\": \"x\"}\n"
      "{\"t\": 1732228201.75, \"label\": \"y\"}\n",
      2, { T_NS + 250000000, T_NS + 750000000 }, { "x", "y" } },
    { "JSON lines, CRLF and blank lines", "\r\n{\"t\": 1732228201}\r\n\r\n"
      "  {\"t\": 1732228202, \"label\": null}\r\n",
      2, { T_NS, T_NS + 1000000000 }, { "", "" } },
    { "objects without newlines", "{\"t\":1732228201}{\"t\":1732228201}",
      2, { T_NS, T_NS }, { "", "" } },
    { "other members ignored", "[{\"t\": 1732228201, \"label\": \"l\", "
      "\"pod\": \"p\", \"chassis\": 2, \"extra\": {\"a\": []}}]",
      1, { T_NS }, { "l" } },
    { "UTF-8 label", "[{\"t\": 1732228201, \"label\": \"caf\\u00e9 <&>\"}]",
      1, { T_NS }, { "caf\xc3\xa9 <&>" } },
    { "empty file", "", 0, { 0 }, { NULL } },
    { "white space only", " \n\t\r\n", 0, { 0 }, { NULL } },
    { "empty array", "[]", 0, { 0 }, { NULL } },
    { "sorted by time", "[{\"t\": 1732228201, \"label\": \"1\"},"
      "{\"t\": 1732228200, \"label\": \"0\"}]",
      2, { T_NS - 1000000000, T_NS }, { "0", "1" } },
};

struct bad_case {
    const char *name;
    const char *text;
    const char *msg;            /* Part of the error message. */
};

static const struct bad_case bad_cases[] = {
    { "not JSON", "{\"t\": 1732228201}\n{\"t\": }", "line 2: not valid" },
    { "not JSON at all", "hello", "line 1: not valid JSON" },
    { "truncated array", "[{\"t\": 1732228201}", "not valid JSON" },
    { "no t", "[{\"label\": \"a\"}]", "event 0: \"t\" (Unix time in "
      "seconds) is missing" },
    { "t is a string", "{\"t\": \"1732228201\"}", "\"t\" must be a number" },
    { "t negative", "{\"t\": -1}", "is not a Unix time" },
    { "t zero", "{\"t\": 0}", "is not a Unix time" },
    { "t in milliseconds", "{\"t\": 1732228201000}", "is not a Unix time" },
    { "label a number", "[{\"t\": 1732228201, \"label\": 5}]",
      "\"label\" must be a string" },
    { "event not an object", "[{\"t\": 1732228201}, 5]",
      "event 1: an event must be a JSON object" },
    { "top-level number", "5", "line 1 (event 0): an event must be" },
    { "array, then more", "[] {\"t\": 1732228201}",
      "an array of events must be the only value" },
    { "object, then array", "{\"t\": 1732228201}\n[]",
      "line 2: an array of events must be the only value" },
    { "two arrays", "[][]", "an array of events must be the only value" },
    { "error on line 3", "{\"t\": 1732228201}\n{\"t\": 1732228201}\n"
      "{\"t\": true}", "line 3 (event 2): \"t\" must be a number" },
};

static void
test_good(void)
{
    for (size_t i = 0; i < sizeof good_cases / sizeof *good_cases; i++) {
        const struct good_case *c = &good_cases[i];
        struct probe_events events;
        char *error = NULL;

        test_case(c->name);
        if (!TEST_EQ_INT(probe_events_parse(c->text, strlen(c->text),
                                            &events, &error), 0)) {
            fprintf(stderr, "    error: %s\n", error);
            free(error);
            continue;
        }
        TEST_EQ_INT(events.n, c->n);
        for (size_t j = 0; j < c->n && j < 3; j++) {
            TEST_EQ_INT(events.events[j].t_ns, c->t_ns[j]);
            TEST_EQ_STR(events.events[j].label, c->labels[j]);
        }
        probe_events_destroy(&events);
    }
    test_case(NULL);
}

static void
test_bad(void)
{
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct probe_events events = { (void *) 1, 42 };
        char *error = NULL;

        test_case(c->name);
        TEST_EQ_INT(probe_events_parse(c->text, strlen(c->text), &events,
                                       &error), EINVAL);
        TEST_CONTAINS(error, c->msg);
        /* Left alone on failure. */
        TEST_CHECK(events.events == (void *) 1 && events.n == 42);
        free(error);
    }
    test_case(NULL);
}

static void
test_precision(void)
{
    const char *text = "{\"t\": 1732228201.123456}";
    struct probe_events events;
    char *error = NULL;
    int64_t want = T_NS + 123456000, got;

    /* A double holds a Unix time to about a quarter of a microsecond. */
    test_case("sub-microsecond precision");
    TEST_EQ_INT(probe_events_parse(text, strlen(text), &events, &error), 0);
    got = events.events[0].t_ns;
    TEST_CHECK(got - want < 300 && want - got < 300);
    probe_events_destroy(&events);

    /* What ovn-controller-ext's ovn-lm/migration-events prints, made by
     * the daemon's own formatter from a port's external_ids: a change of
     * either side's format breaks this. */
    static const struct {
        const char *state;
        const char *end_label;
    } runs[] = {
        { "completed", "completed" },
        { "rolled-back", "rolled back" },
    };
    for (size_t r = 0; r < 2; r++) {
        struct smap ids = SMAP_INITIALIZER(&ids);
        struct ds reply = DS_EMPTY_INITIALIZER;

        test_case(runs[r].state);
        smap_add(&ids, MIGRATION_KEY_STATE, runs[r].state);
        smap_add(&ids, MIGRATION_KEY_T_ADD, "1732228201123");
        smap_add(&ids, MIGRATION_KEY_T_DUP, "1732228201150");
        smap_add(&ids, MIGRATION_KEY_T_ACT, "1732228201300");
        smap_add(&ids, MIGRATION_KEY_T_END, "1732228202000");
        migration_format_events(&ids, &reply);
        printf("daemon reply (%s): %s", runs[r].state, ds_cstr(&reply));
        TEST_EQ_INT(probe_events_parse(ds_cstr(&reply), reply.length,
                                       &events, &error), 0);
        if (TEST_EQ_INT(events.n, 4)) {
            static const int64_t ms[] = { 123, 150, 300, 1000 };
            const char *const labels[] = {
                "target ADD", "duplication on", "activated (RARP)",
                runs[r].end_label,
            };

            for (size_t i = 0; i < 4; i++) {
                want = T_NS + ms[i] * 1000000;
                got = events.events[i].t_ns;
                TEST_CHECK(got - want < 300 && want - got < 300);
                TEST_EQ_STR(events.events[i].label, labels[i]);
            }
        }
        probe_events_destroy(&events);
        free(error);
        error = NULL;
        ds_destroy(&reply);
        smap_destroy(&ids);
    }

    /* A migration still prepared: the events so far. */
    test_case("prepared");
    struct smap ids = SMAP_INITIALIZER(&ids);
    struct ds reply = DS_EMPTY_INITIALIZER;
    smap_add(&ids, MIGRATION_KEY_STATE, "prepared");
    smap_add(&ids, MIGRATION_KEY_T_ADD, "1732228201000");
    migration_format_events(&ids, &reply);
    TEST_EQ_INT(probe_events_parse(ds_cstr(&reply), reply.length, &events,
                                   &error), 0);
    TEST_EQ_INT(events.n, 1);
    if (events.n) {
        TEST_EQ_STR(events.events[0].label, "target ADD");
    }
    probe_events_destroy(&events);
    ds_destroy(&reply);
    smap_destroy(&ids);

    /* Not null-terminated: only 'len' bytes count. */
    test_case("length, not the null byte, ends the text");
    TEST_EQ_INT(probe_events_parse("{\"t\": 1732228201}garbage", 17,
                                   &events, &error), 0);
    TEST_EQ_INT(events.n, 1);
    probe_events_destroy(&events);
    test_case(NULL);
}

static void
test_limits(void)
{
    size_t n = PROBE_EVENTS_MAX + 1;
    char *text = malloc(n * 20 + 1), *p = text, *error = NULL;
    char label[PROBE_EVENTS_MAX_LABEL + 40];
    struct probe_events events;

    test_case("too many events");
    for (size_t i = 0; i < n; i++) {
        p += sprintf(p, "{\"t\":1732228201}\n");
    }
    TEST_EQ_INT(probe_events_parse(text, p - text, &events, &error), EINVAL);
    TEST_CONTAINS(error, "more than");
    free(error);
    free(text);

    test_case("label too long");
    p = label + sprintf(label, "{\"t\":1732228201,\"label\":\"");
    memset(p, 'x', PROBE_EVENTS_MAX_LABEL + 1);
    strcpy(p + PROBE_EVENTS_MAX_LABEL + 1, "\"}");
    TEST_EQ_INT(probe_events_parse(label, strlen(label), &events, &error),
                EINVAL);
    TEST_CONTAINS(error, "longer than");
    free(error);
    test_case(NULL);
}

static void
test_read(void)
{
    char path[] = "/tmp/test-probe-events.XXXXXX";
    struct probe_events events;
    char *error = NULL;
    FILE *f;
    int fd;

    test_case("read a file");
    fd = mkstemp(path);
    TEST_CHECK(fd >= 0);
    f = fdopen(fd, "w");
    fputs("{\"t\": 1732228201, \"label\": \"from a file\"}\n", f);
    fclose(f);
    TEST_EQ_INT(probe_events_read(path, &events, &error), 0);
    TEST_EQ_INT(events.n, 1);
    TEST_EQ_STR(events.events[0].label, "from a file");
    probe_events_destroy(&events);

    test_case("bad file names the file and the line");
    f = fopen(path, "w");
    fputs("{\"t\": 1732228201}\n{\"t\": -3}\n", f);
    fclose(f);
    TEST_EQ_INT(probe_events_read(path, &events, &error), EINVAL);
    TEST_CONTAINS(error, path);
    TEST_CONTAINS(error, "line 2");
    free(error);
    unlink(path);

    test_case("missing file");
    TEST_EQ_INT(probe_events_read(path, &events, &error), ENOENT);
    TEST_CONTAINS(error, path);
    free(error);

    probe_events_destroy(NULL);
    test_case(NULL);
}

int
main(void)
{
    test_good();
    test_bad();
    test_precision();
    test_limits();
    test_read();
    return test_summary();
}
