/*
 * test-cni-result.c: the daemon's reply (cni-client) and the conversion of
 * its ADD result to each CNI version (cni-result).
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cni-client.h"
#include "cni-error.h"
#include "cni-result.h"
#include "test.h"

/* A 1.1.0 result as the daemon sends it. */
static const char daemon_result[] =
    "{\"cniVersion\":\"1.1.0\","
    "\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"0a:58:0a:00:00:05\","
    "\"mtu\":1400,\"sandbox\":\"/run/netns/p1\",\"socketPath\":\"/s\","
    "\"pciID\":\"0000:00:01.0\"}],"
    "\"ips\":[{\"interface\":0,\"address\":\"10.0.0.5/24\","
    "\"gateway\":\"10.0.0.1\"},{\"interface\":0,\"address\":\"fd00::5/64\"},"
    "{\"address\":\"::ffff:10.0.0.6/120\"}],"
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}],"
    "\"dns\":{\"nameservers\":[\"10.0.0.10\"]}}";

#define ROUTES_DNS \
    "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}]," \
    "\"dns\":{\"nameservers\":[\"10.0.0.10\"]}}"
#define IPS_1X \
    "\"ips\":[{\"interface\":0,\"address\":\"10.0.0.5/24\"," \
    "\"gateway\":\"10.0.0.1\"},{\"interface\":0,\"address\":\"fd00::5/64\"}," \
    "{\"address\":\"::ffff:10.0.0.6/120\"}],"
#define IPS_0X \
    "\"ips\":[{\"version\":\"4\",\"interface\":0," \
    "\"address\":\"10.0.0.5/24\"," \
    "\"gateway\":\"10.0.0.1\"},{\"version\":\"6\",\"interface\":0," \
    "\"address\":\"fd00::5/64\"},{\"version\":\"4\"," \
    "\"address\":\"::ffff:10.0.0.6/120\"}],"
#define IFACES_OLD \
    "\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"0a:58:0a:00:00:05\"," \
    "\"sandbox\":\"/run/netns/p1\"}],"

struct convert_case {
    const char *version;
    const char *expected;
};

static cJSON *
parse(const char *text)
{
    cJSON *json = cJSON_Parse(text);

    if (!json) {
        fprintf(stderr, "bad test JSON: %s\n", text);
        abort();
    }
    return json;
}

static void
test_convert(void)
{
    static const struct convert_case cases[] = {
        { "1.1.0",
          "{\"cniVersion\":\"1.1.0\","
          "\"interfaces\":[{\"name\":\"eth0\",\"mac\":\"0a:58:0a:00:00:05\","
          "\"mtu\":1400,\"sandbox\":\"/run/netns/p1\",\"socketPath\":\"/s\","
          "\"pciID\":\"0000:00:01.0\"}]," IPS_1X ROUTES_DNS },
        { "1.0.0", "{\"cniVersion\":\"1.0.0\"," IFACES_OLD IPS_1X ROUTES_DNS },
        { "0.4.0", "{\"cniVersion\":\"0.4.0\"," IFACES_OLD IPS_0X ROUTES_DNS },
        { "0.3.1", "{\"cniVersion\":\"0.3.1\"," IFACES_OLD IPS_0X ROUTES_DNS },
        { "0.3.0", "{\"cniVersion\":\"0.3.0\"," IFACES_OLD IPS_0X ROUTES_DNS },
    };
    cJSON *result = parse(daemon_result);

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct cni_error *error;
        cJSON *out = NULL;

        test_case(cases[i].version);
        error = cni_result_convert(result, cases[i].version, &out);
        if (TEST_CHECK(!error)) {
            char *s = cJSON_PrintUnformatted(out);

            TEST_EQ_STR(s, cases[i].expected);
            free(s);
        }
        cni_error_destroy(error);
        cJSON_Delete(out);
    }
    cJSON_Delete(result);
    test_case(NULL);
}

static void
test_convert_minimal(void)
{
    static const struct convert_case cases[] = {
        /* No cniVersion from the daemon: it is set anyway. */
        { "1.1.0", "{\"cniVersion\":\"1.1.0\"}" },
        { "0.3.1", "{\"cniVersion\":\"0.3.1\"}" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *result = parse("{}");
        struct cni_error *error;
        cJSON *out = NULL;

        test_case(cases[i].version);
        error = cni_result_convert(result, cases[i].version, &out);
        if (TEST_CHECK(!error)) {
            char *s = cJSON_PrintUnformatted(out);

            TEST_EQ_STR(s, cases[i].expected);
            free(s);
        }
        cJSON_Delete(out);
        cJSON_Delete(result);
    }

    /* Duplicate keys: the first one, which is the one checked, counts. */
    test_case("duplicates");
    cJSON *result = parse("{\"ips\":[{\"address\":\"10.0.0.5/24\","
                          "\"address\":\"x\"}],\"ips\":[{\"address\":5}]}");
    cJSON *out = NULL;
    TEST_CHECK(!cni_result_convert(result, "0.4.0", &out));
    if (out) {
        char *s = cJSON_PrintUnformatted(out);

        TEST_EQ_STR(s, "{\"cniVersion\":\"0.4.0\",\"ips\":[{\"version\":"
                       "\"4\",\"address\":\"10.0.0.5/24\"}]}");
        free(s);
    }
    cJSON_Delete(out);
    cJSON_Delete(result);
    test_case(NULL);
}

struct bad_case {
    const char *result;
    const char *msg;
};

static void
test_convert_bad(void)
{
    static const struct bad_case cases[] = {
        { "[]", "result is not an object" },
        { "{\"interfaces\":{}}", "\"interfaces\" is not an array" },
        { "{\"interfaces\":[5]}", "\"interfaces[0]\" is not an object" },
        { "{\"interfaces\":[{\"mac\":\"x\"}]}", "\"interfaces[0].name\"" },
        { "{\"interfaces\":[{\"name\":5}]}", "\"interfaces[0].name\"" },
        { "{\"ips\":[{\"address\":\"10.0.0.5/24\"},{}]}",
          "\"ips[1].address\"" },
        { "{\"ips\":[{\"address\":\"10.0.0.5\"}]}", "\"ips[0].address\"" },
        { "{\"ips\":[{\"address\":\"10.0.0.5/24\",\"gateway\":\"x\"}]}",
          "\"ips[0].gateway\"" },
        { "{\"ips\":\"10.0.0.5/24\"}", "\"ips\" is not an array" },
        { "{\"routes\":[{\"gw\":\"10.0.0.1\"}]}", "\"routes[0].dst\"" },
        { "{\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"0.0.0.0/0\"}]}",
          "\"routes[0].gw\"" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cJSON *result = parse(cases[i].result);
        struct cni_error *error;
        cJSON *out = NULL;

        test_case(cases[i].result);
        error = cni_result_convert(result, "1.0.0", &out);
        if (TEST_CHECK(error)) {
            TEST_EQ_INT(error->code, 5);
            TEST_CONTAINS(error->msg, cases[i].msg);
            TEST_CHECK(!out);
        }
        cni_error_destroy(error);
        cJSON_Delete(out);
        cJSON_Delete(result);
    }
    test_case(NULL);
}

struct reply_case {
    const char *reply;
    int rc;                     /* 0 or EPROTO. */
    const char *result;         /* Expected result, if any. */
    int code;                   /* Expected error code, if any. */
    const char *msg;            /* Part of the error message. */
    const char *details;        /* Expected details. */
};

static void
test_reply(void)
{
    static const struct reply_case cases[] = {
        { "{\"result\":{}}", 0, "{}", 0, NULL, NULL },
        { "{\"result\":{\"ips\":[]},\"extra\":1}", 0, "{\"ips\":[]}", 0,
          NULL, NULL },
        { "{\"error\":{\"code\":100,\"msg\":\"address in use\","
          "\"details\":\"10.0.0.5 belongs to p2\"}}", 0, NULL, 100,
          "address in use", "10.0.0.5 belongs to p2" },
        { "{\"error\":{\"code\":7,\"msg\":\"bad\"}}", 0, NULL, 7, "bad",
          NULL },
        { "{\"error\":{\"code\":51,\"msg\":\"m\",\"details\":null}}", 0, NULL,
          51, "m", NULL },
        { "", EPROTO, NULL, 5, "invalid reply from the daemon", NULL },
        { "{\"result\":{}", EPROTO, NULL, 5, "invalid JSON", NULL },
        { "[]", EPROTO, NULL, 5, "\"result\" or \"error\"", NULL },
        { "{}", EPROTO, NULL, 5, "\"result\" or \"error\"", NULL },
        { "{\"result\":{},\"error\":{\"code\":1,\"msg\":\"m\"}}", EPROTO,
          NULL, 5, "\"result\" or \"error\"", NULL },
        { "{\"result\":[]}", EPROTO, NULL, 5, "not an object", NULL },
        { "{\"result\":null}", EPROTO, NULL, 5, "not an object", NULL },
        { "{\"error\":{\"code\":0,\"msg\":\"m\"}}", EPROTO, NULL, 5,
          "\"code\"", NULL },
        { "{\"error\":{\"code\":1.5,\"msg\":\"m\"}}", EPROTO, NULL, 5,
          "\"code\"", NULL },
        { "{\"error\":{\"code\":1e300,\"msg\":\"m\"}}", EPROTO, NULL, 5,
          "\"code\"", NULL },
        { "{\"error\":{\"code\":\"7\",\"msg\":\"m\"}}", EPROTO, NULL, 5,
          "\"code\"", NULL },
        { "{\"error\":{\"code\":7}}", EPROTO, NULL, 5, "\"msg\"", NULL },
        { "{\"error\":{\"code\":7,\"msg\":\"m\",\"details\":5}}", EPROTO,
          NULL, 5, "\"details\"", NULL },
        { "{\"error\":\"boom\"}", EPROTO, NULL, 5, "\"code\"", NULL },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct reply_case *c = &cases[i];
        struct cni_error *error = NULL;
        cJSON *result = NULL;
        int rc;

        test_case(c->reply);
        rc = cni_client_parse_reply(c->reply, strlen(c->reply), &result,
                                    &error);
        TEST_EQ_INT(rc, c->rc);
        if (c->result) {
            char *s = result ? cJSON_PrintUnformatted(result) : NULL;

            TEST_CHECK(!error);
            TEST_EQ_STR(s, c->result);
            free(s);
        } else if (TEST_CHECK(error)) {
            TEST_CHECK(!result);
            TEST_EQ_INT(error->code, c->code);
            TEST_CONTAINS(error->msg, c->msg);
            if (!rc) {
                TEST_EQ_STR(error->details, c->details);
            }
        }
        cni_error_destroy(error);
        cJSON_Delete(result);
    }
    test_case(NULL);
}

static void
test_error_json(void)
{
    struct cni_error *error = cni_error_create(7, "more", "bad %s", "mtu");
    char *s = cni_error_to_json(error, "1.0.0");

    TEST_EQ_STR(s, "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"bad mtu\","
                   "\"details\":\"more\"}");
    free(s);
    cni_error_destroy(error);

    error = cni_error_create(11, "", "x \"y\"");
    s = cni_error_to_json(error, "0.3.1");
    TEST_EQ_STR(s, "{\"cniVersion\":\"0.3.1\",\"code\":11,"
                   "\"msg\":\"x \\\"y\\\"\"}");
    free(s);
    cni_error_destroy(error);
    cni_error_destroy(NULL);
}

int
main(void)
{
    test_convert();
    test_convert_minimal();
    test_convert_bad();
    test_reply();
    test_error_json();
    return test_summary();
}
