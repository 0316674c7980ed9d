/*
 * test-cni-conf.c: network configuration, versions, plugin keys,
 * runtimeConfig and GC attachments (cni-conf).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cni-conf.h"
#include "cni-error.h"
#include "ovn-lm-proto.h"
#include "test.h"

/* A configuration with 'VER' and more keys 'EXTRA' (",\"k\":v..."). */
#define CONF(VER, EXTRA) \
    "{\"cniVersion\":\"" VER "\",\"name\":\"net1\",\"type\":\"ovn-lm\"," \
    "\"logicalSwitch\":\"ls1\"" EXTRA "}"
#define PREV ",\"prevResult\":{\"interfaces\":[{\"name\":\"eth0\"}]}"

#define ADD CNI_ENV_CMD_ADD
#define DEL CNI_ENV_CMD_DEL
#define CHECK CNI_ENV_CMD_CHECK
#define GC CNI_ENV_CMD_GC
#define STATUS CNI_ENV_CMD_STATUS

/* The stages in the plugin's order. */
static struct cni_error *
load(enum cni_env_cmd cmd, const char *text, struct cni_conf **confp)
{
    struct cni_conf *conf = NULL;
    struct cni_error *error;

    error = cni_conf_parse(text, strlen(text), &conf);
    if (!error) {
        error = cni_conf_check_version(conf, cmd);
    }
    if (!error) {
        error = cni_conf_load(conf, cmd);
    }
    if (error) {
        cni_conf_destroy(conf);
        conf = NULL;
    }
    *confp = conf;
    return error;
}

struct conf_case {
    const char *name;
    enum cni_env_cmd cmd;
    const char *text;
    int code;                   /* 0 if valid. */
    const char *msg;            /* Part of the message or details. */
};

static const struct conf_case conf_cases[] = {
    /* Decoding and the network name, as the skeleton checks them. */
    { "minimal ADD", ADD, CONF("1.0.0", ""), 0, NULL },
    { "empty input", ADD, "", 6, "unexpected end" },
    { "truncated", ADD, "{\"name\":", 6, "invalid JSON" },
    { "array", ADD, "[]", 6, "must be a JSON object, not an array" },
    { "string", ADD, "\"net1\"", 6, "not a string" },
    { "null", ADD, "null", 7, "no \"name\"" },
    { "trailing garbage", ADD, CONF("1.0.0", "") "x", 6, "after" },
    { "trailing comma", ADD, "{\"name\":\"n\",}", 6, "invalid JSON" },
    { "NUL in name", ADD, "{\"name\":\"a\\u0000/b\"}", 6, "\\u0000" },
    { "no name", ADD, "{\"cniVersion\":\"1.0.0\"}", 7, "no \"name\"" },
    { "empty name", ADD, "{\"name\":\"\"}", 7, "no \"name\"" },
    { "null name", ADD, "{\"name\":null}", 7, "no \"name\"" },
    { "numeric name", ADD, "{\"name\":5}", 6, "\"name\" must be a string" },
    { "name with slash", ADD, "{\"name\":\"a/b\"}", 7, "\"a/b\"" },
    { "name starting with dot", ADD, "{\"name\":\".a\"}", 7,
      "invalid characters" },
    { "name with colon", ADD, "{\"name\":\"a:b\"}", 7, "invalid" },
    { "name with space", ADD, "{\"name\":\"a b\"}", 7, "invalid" },
    { "name with all allowed characters", ADD,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"N3t_work.1-x\","
      "\"logicalSwitch\":\"ls\"}", 0, NULL },
    { "capitalised NAME", ADD,
      "{\"cniVersion\":\"1.0.0\",\"NAME\":\"net1\",\"logicalSwitch\":\"l\"}",
      0, NULL },
    { "last name wins", ADD,
      "{\"name\":\"ok\",\"Name\":\"b/c\",\"cniVersion\":\"1.0.0\"}", 7,
      "\"b/c\"" },
    { "null name ignored", ADD,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"ok\",\"name\":null,"
      "\"logicalSwitch\":\"l\"}", 0, NULL },
    { "name checked before version", ADD,
      "{\"cniVersion\":\"9\",\"name\":\"a/b\"}", 7, "invalid" },

    /* Versions. */
    { "ADD 0.3.0", ADD, CONF("0.3.0", ""), 0, NULL },
    { "ADD 0.3.1", ADD, CONF("0.3.1", ""), 0, NULL },
    { "ADD 0.4.0", ADD, CONF("0.4.0", ""), 0, NULL },
    { "ADD 1.1.0", ADD, CONF("1.1.0", ""), 0, NULL },
    { "ADD 0.2.0", ADD, CONF("0.2.0", ""), 1,
      "config is 0.2.0, ovn-lm supports 0.3.0, 0.3.1, 0.4.0, 1.0.0, "
      "1.1.0" },
    { "ADD 0.1.0", ADD, CONF("0.1.0", ""), 1, "config is 0.1.0" },
    { "ADD without version is 0.1.0", ADD,
      "{\"name\":\"n\",\"logicalSwitch\":\"l\"}", 1, "config is 0.1.0" },
    { "ADD 1.2.0", ADD, CONF("1.2.0", ""), 1, "config is 1.2.0" },
    { "ADD 1.0", ADD, CONF("1.0", ""), 1, "config is 1.0," },
    { "ADD garbage version", ADD, CONF("abc", ""), 1, "config is abc" },
    { "numeric version", ADD, "{\"name\":\"n\",\"cniVersion\":1}", 6,
      "\"cniVersion\" must be a string" },
    { "DEL 0.3.0", DEL, CONF("0.3.0", ""), 0, NULL },
    { "DEL 0.2.0", DEL, CONF("0.2.0", ""), 1, "0.2.0" },
    { "CHECK 0.4.0", CHECK, CONF("0.4.0", PREV), 0, NULL },
    { "CHECK 1.1.0", CHECK, CONF("1.1.0", PREV), 0, NULL },
    { "CHECK 0.3.1", CHECK, CONF("0.3.1", PREV), 1,
      "does not allow CHECK" },
    { "CHECK without version", CHECK, "{\"name\":\"n\"}", 1,
      "0.1.0 does not allow CHECK" },
    { "CHECK garbage version", CHECK, CONF("abc", PREV), 6,
      "not a version" },
    { "CHECK 1.0.", CHECK, CONF("1.0.", PREV), 6, "not a version" },
    { "CHECK 1.0.0.0", CHECK, CONF("1.0.0.0", PREV), 6, "not a version" },
    { "CHECK 2.0.0", CHECK, CONF("2.0.0", PREV), 1,
      "cannot run CHECK with cniVersion 2.0.0" },
    { "CHECK 0.5.0", CHECK, CONF("0.5.0", PREV), 1, "config is 0.5.0" },
    { "CHECK +1.0.0", CHECK, CONF("+1.0.0", PREV), 1, "config is +1.0.0" },
    { "CHECK without prevResult", CHECK, CONF("1.0.0", ""), 7,
      "prevResult" },
    { "CHECK null prevResult", CHECK, CONF("1.0.0", ",\"prevResult\":null"),
      7, "prevResult" },
    { "GC 1.1.0", GC, CONF("1.1.0", ""), 0, NULL },
    { "GC 1.0.0", GC, CONF("1.0.0", ""), 1, "does not allow GC" },
    { "GC x.y", GC, CONF("x.y", ""), 6, "not a version" },
    { "STATUS 1.1.0", STATUS, CONF("1.1.0", ""), 0, NULL },
    { "STATUS 1.0.0", STATUS, CONF("1.0.0", ""), 1,
      "does not allow STATUS" },

    /* Standard keys. */
    { "numeric type", ADD, CONF("1.0.0", ",\"type\":5"), 7,
      "\"type\" must be a string, not a number" },
    { "string ipam", ADD, CONF("1.0.0", ",\"ipam\":\"x\""), 7, "\"ipam\"" },
    { "array dns", ADD, CONF("1.0.0", ",\"dns\":[]"), 7, "\"dns\"" },
    { "string args", ADD, CONF("1.0.0", ",\"args\":\"x\""), 7, "\"args\"" },
    { "string prevResult", DEL, CONF("1.0.0", ",\"prevResult\":\"x\""), 7,
      "\"prevResult\" must be an object" },
    { "array runtimeConfig", ADD, CONF("1.0.0", ",\"runtimeConfig\":[]"),
      7, "\"runtimeConfig\" must be an object" },

    /* Plugin keys. */
    { "ADD without logicalSwitch", ADD,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 7, "logicalSwitch" },
    { "DEL without logicalSwitch", DEL,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"}", 0, NULL },
    { "CHECK without logicalSwitch", CHECK,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\"" PREV "}", 0, NULL },
    { "numeric logicalSwitch", DEL,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"logicalSwitch\":1}", 7,
      "\"logicalSwitch\" must be a string" },
    { "empty logicalSwitch", ADD,
      "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"logicalSwitch\":\"\"}", 7,
      "\"logicalSwitch\"" },
    { "bridge", ADD, CONF("1.0.0", ",\"bridge\":\"br-int\""), 0, NULL },
    { "numeric bridge", ADD, CONF("1.0.0", ",\"bridge\":1"), 7,
      "\"bridge\" must be a string" },
    { "empty bridge", ADD, CONF("1.0.0", ",\"bridge\":\"\""), 7,
      "\"bridge\"" },
    { "mtu 1400", ADD, CONF("1.0.0", ",\"mtu\":1400"), 0, NULL },
    { "mtu 68", ADD, CONF("1.0.0", ",\"mtu\":68"), 0, NULL },
    { "mtu 65535", ADD, CONF("1.0.0", ",\"mtu\":65535"), 0, NULL },
    { "mtu 67", ADD, CONF("1.0.0", ",\"mtu\":67"), 7,
      "\"mtu\" must be an integer from 68 to 65535, not 67" },
    { "mtu 65536", ADD, CONF("1.0.0", ",\"mtu\":65536"), 7, "\"mtu\"" },
    { "mtu 1400.5", ADD, CONF("1.0.0", ",\"mtu\":1400.5"), 7, "\"mtu\"" },
    { "mtu string", ADD, CONF("1.0.0", ",\"mtu\":\"1400\""), 7,
      "\"mtu\" must be a number, not a string" },
    { "mtu wrong type, then right", ADD,
      CONF("1.0.0", ",\"mtu\":\"x\",\"mtu\":1400"), 7, "\"mtu\"" },
    { "gateway", ADD, CONF("1.0.0", ",\"gateway\":\"10.0.0.1\""), 0, NULL },
    { "IPv6 gateway", ADD, CONF("1.0.0", ",\"gateway\":\"fd00::1\""), 7,
      "\"gateway\" must be an IPv4 address" },
    { "bad gateway", ADD, CONF("1.0.0", ",\"gateway\":\"10.0.0\""), 7,
      "gateway" },
    { "numeric gateway", ADD, CONF("1.0.0", ",\"gateway\":1"), 7,
      "gateway" },
    { "readyTimeout 0.5", ADD, CONF("1.0.0", ",\"readyTimeout\":0.5"), 0,
      NULL },
    { "readyTimeout 0", ADD, CONF("1.0.0", ",\"readyTimeout\":0"), 7,
      "\"readyTimeout\" must be a positive number" },
    { "readyTimeout -1", ADD, CONF("1.0.0", ",\"readyTimeout\":-1"), 7,
      "readyTimeout" },
    { "readyTimeout 1e400", ADD, CONF("1.0.0", ",\"readyTimeout\":1e400"),
      7, "readyTimeout" },
    { "readyTimeout string", ADD, CONF("1.0.0", ",\"readyTimeout\":\"5\""),
      7, "\"readyTimeout\" must be a number" },
    { "relative socket", ADD, CONF("1.0.0", ",\"socket\":\"x.sock\""), 7,
      "\"socket\" must be an absolute path" },
    { "long socket", ADD, CONF("1.0.0", ",\"socket\":\"/"
      "0123456789012345678901234567890123456789012345678901234567890123456789"
      "0123456789012345678901234567890123456789\""), 7, "\"socket\"" },
    { "numeric socket", ADD, CONF("1.0.0", ",\"socket\":1"), 7, "socket" },
    { "relative stateDir", ADD, CONF("1.0.0", ",\"stateDir\":\"var\""), 7,
      "\"stateDir\" must be an absolute path" },
    { "boolean stateDir", ADD, CONF("1.0.0", ",\"stateDir\":true"), 7,
      "\"stateDir\" must be a string, not a boolean" },

    /* runtimeConfig. */
    { "runtime mac", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"mac\":\"0a:58:0a:00:00:05\"}"),
      0, NULL },
    { "runtime bad mac", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"mac\":\"0a:58\"}"), 7,
      "\"runtimeConfig.mac\" must be a MAC address" },
    { "runtime numeric Mac", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"Mac\":5}"), 7,
      "\"runtimeConfig.mac\" must be a string" },
    /* podman sends plain addresses, twice on "network reload". */
    { "runtime ips plain, duplicated", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"ips\":[\"10.0.0.5\","
           "\"10.0.0.5\"]}"), 0, NULL },
    { "runtime ips not an address", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"ips\":[\"10.0.0.x\"]}"), 7,
      "\"runtimeConfig.ips[0]\"" },
    /* DEL needs no runtimeConfig: a bad one must not leak the attachment. */
    { "DEL ignores a bad runtimeConfig", DEL,
      CONF("1.0.0", ",\"runtimeConfig\":{\"ips\":[\"10.0.0.x\"],"
           "\"mac\":\"zz\"}"), 0, NULL },
    { "runtime ips bad prefix", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"ips\":[\"10.0.0.5/24\","
           "\"10.0.0.6/33\"]}"), 7, "\"runtimeConfig.ips[1]\"" },
    { "runtime ips number", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"IPs\":[5]}"), 7,
      "runtimeConfig.ips[0]" },
    { "runtime ips string", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"ips\":\"10.0.0.5/24\"}"), 7,
      "\"runtimeConfig.ips\" must be an array" },
    { "runtime annotations not strings", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{"
           "\"io.kubernetes.cri.pod-annotations\":{\"a\":1}}"), 7,
      "values must be strings, but \"a\" is a number" },
    { "runtime annotations array", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{"
           "\"io.kubernetes.cri.pod-annotations\":[]}"), 7,
      "must be an object" },
    { "runtime other keys ignored", ADD,
      CONF("1.0.0", ",\"runtimeConfig\":{\"portMappings\":[{\"HostPort\":1}],"
           "\"Bandwidth\":\"x\",\"aliases\":5}"), 0, NULL },

    /* GC attachments. */
    { "GC attachments not array", GC,
      CONF("1.1.0", ",\"cni.dev/valid-attachments\":{}"), 7,
      "\"cni.dev/valid-attachments\" must be an array" },
    { "GC attachment not object", GC,
      CONF("1.1.0", ",\"cni.dev/attachments\":[5]"), 7,
      "\"cni.dev/attachments[0]\" must be an object, not a number" },
    { "GC attachment numeric containerID", GC,
      CONF("1.1.0", ",\"cni.dev/attachments\":[{\"containerID\":\"a\","
           "\"ifname\":\"eth0\"},{\"containerID\":5}]"), 7,
      "\"cni.dev/attachments[1].containerID\" must be a string" },
    { "GC attachment lists null", GC,
      CONF("1.1.0", ",\"cni.dev/attachments\":null,"
           "\"cni.dev/valid-attachments\":[null]"), 0, NULL },
};

static void
test_conf_errors(void)
{
    for (size_t i = 0; i < sizeof conf_cases / sizeof *conf_cases; i++) {
        const struct conf_case *c = &conf_cases[i];
        struct cni_conf *conf;
        struct cni_error *error;

        test_case(c->name);
        error = load(c->cmd, c->text, &conf);
        if (!c->code) {
            if (!TEST_CHECK(!error && conf)) {
                fprintf(stderr, "    error %d: %s\n", error->code,
                        error->msg);
            }
        } else if (TEST_CHECK(error)) {
            char *all = malloc(strlen(error->msg) + 3 + (error->details
                               ? strlen(error->details) : 0));

            sprintf(all, "%s; %s", error->msg,
                    error->details ? error->details : "");
            TEST_EQ_INT(error->code, c->code);
            TEST_CONTAINS(all, c->msg);
            TEST_CHECK(!conf);
            free(all);
        }
        cni_error_destroy(error);
        cni_conf_destroy(conf);
    }
    test_case(NULL);
}

static char *
print(const cJSON *json)
{
    return json ? cJSON_PrintUnformatted(json) : strdup("(null)");
}

static void
test_defaults(void)
{
    struct cni_conf *conf;

    test_case("defaults");
    TEST_CHECK(!load(DEL, "{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}",
                     &conf));
    if (conf) {
        char *s = print(conf->runtime);

        TEST_EQ_STR(conf->name, "n");
        TEST_EQ_STR(conf->version, "0.3.1");
        TEST_EQ_STR(conf->socket, OVN_LM_DEFAULT_SOCKET);
        TEST_EQ_STR(conf->state_dir, OVN_LM_DEFAULT_STATE_DIR);
        TEST_CHECK(conf->ready_timeout == OVN_LM_DEFAULT_READY_TIMEOUT);
        TEST_EQ_STR(s, "{}");
        TEST_CHECK(!conf->valid_attachments);
        free(s);
    }
    cni_conf_destroy(conf);

    test_case("explicit values");
    TEST_CHECK(!load(ADD, CONF("1.1.0", ",\"socket\":\"/run/x.sock\","
                               "\"stateDir\":\"/tmp/st\","
                               "\"readyTimeout\":2.5"), &conf));
    if (conf) {
        TEST_EQ_STR(conf->socket, "/run/x.sock");
        TEST_EQ_STR(conf->state_dir, "/tmp/st");
        TEST_CHECK(conf->ready_timeout == 2.5);
    }
    cni_conf_destroy(conf);
    cni_conf_destroy(NULL);
    test_case(NULL);
}

struct runtime_case {
    const char *name;
    const char *runtime_config;
    const char *expected;
};

static void
test_runtime(void)
{
    static const struct runtime_case cases[] = {
        { "none", "", "{}" },
        { "empty", ",\"runtimeConfig\":{}", "{}" },
        { "mac", ",\"runtimeConfig\":{\"mac\":\"0A:58:0A:00:00:05\"}",
          "{\"mac\":\"0a:58:0a:00:00:05\"}" },
        { "containerd capitalisation",
          ",\"runtimeConfig\":{\"Mac\":\"0a-58-0a-00-00-05\","
          "\"IPs\":[\"10.0.0.5/24\",\"fd00::5/64\"],"
          "\"IO.Kubernetes.CRI.Pod-Annotations\":{\"ovn-lm/migrate\":\"true\"}"
          ",\"HostPort\":80}",
          "{\"mac\":\"0a:58:0a:00:00:05\",\"ips\":[\"10.0.0.5/24\","
          "\"fd00::5/64\"],\"podAnnotations\":"
          "{\"ovn-lm/migrate\":\"true\"}}" },
        { "last duplicate wins",
          ",\"runtimeConfig\":{\"mac\":\"0a:58:0a:00:00:05\","
          "\"MAC\":\"0a:58:0a:00:00:06\"}",
          "{\"mac\":\"0a:58:0a:00:00:06\"}" },
        { "null mac ignored",
          ",\"runtimeConfig\":{\"mac\":\"0a:58:0a:00:00:05\",\"mac\":null}",
          "{\"mac\":\"0a:58:0a:00:00:05\"}" },
        { "annotations deduplicated, null is empty",
          ",\"runtimeConfig\":{\"io.kubernetes.cri.pod-annotations\":"
          "{\"a\":\"1\",\"b\":null,\"a\":\"2\"}}",
          "{\"podAnnotations\":{\"b\":\"\",\"a\":\"2\"}}" },
        { "empty ips", ",\"runtimeConfig\":{\"ips\":[]}", "{\"ips\":[]}" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *text = malloc(strlen(cases[i].runtime_config) + 200);
        struct cni_error *error;
        struct cni_conf *conf;

        test_case(cases[i].name);
        sprintf(text, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\","
                "\"logicalSwitch\":\"l\"%s}", cases[i].runtime_config);
        error = load(ADD, text, &conf);
        if (TEST_CHECK(!error)) {
            char *s = print(conf->runtime);

            TEST_EQ_STR(s, cases[i].expected);
            free(s);
        } else {
            fprintf(stderr, "    error: %s\n", error->msg);
        }
        cni_error_destroy(error);
        cni_conf_destroy(conf);
        free(text);
    }
    test_case(NULL);
}

static void
test_attachments(void)
{
    struct cni_conf *conf;
    char *s;

    test_case("GC merges both keys");
    TEST_CHECK(!load(GC, CONF("1.1.0",
        ",\"cni.dev/valid-attachments\":[{\"containerID\":\"a\","
        "\"ifname\":\"eth0\"},{\"containerID\":\"b\",\"ifname\":\"eth0\"}],"
        "\"cni.dev/attachments\":[{\"containerID\":\"a\",\"ifname\":\"eth0\"},"
        "{\"ContainerID\":\"c\",\"IFNAME\":\"net1\"},{}]"), &conf));
    if (conf) {
        s = print(conf->valid_attachments);
        TEST_EQ_STR(s, "[{\"containerID\":\"a\",\"ifname\":\"eth0\"},"
                       "{\"containerID\":\"c\",\"ifname\":\"net1\"},"
                       "{\"containerID\":\"\",\"ifname\":\"\"},"
                       "{\"containerID\":\"b\",\"ifname\":\"eth0\"}]");
        free(s);
    }
    cni_conf_destroy(conf);

    test_case("GC without attachments");
    TEST_CHECK(!load(GC, CONF("1.1.0", ""), &conf));
    if (conf) {
        s = print(conf->valid_attachments);
        TEST_EQ_STR(s, "[]");
        free(s);
    }
    cni_conf_destroy(conf);
    test_case(NULL);
}

static void
test_canonical_config(void)
{
    struct cni_conf *conf;

    /* What the daemon gets is what was checked: one spelling per key. */
    test_case("canonical config");
    TEST_CHECK(!load(ADD, "{\"CNIVersion\":\"1.0.0\",\"Name\":\"n\","
                     "\"logicalswitch\":\"old\",\"LogicalSwitch\":\"ls\","
                     "\"MTU\":1400,\"custom\":1}", &conf));
    if (conf) {
        char *s = print(conf->json);

        TEST_EQ_STR(s, "{\"custom\":1,\"cniVersion\":\"1.0.0\","
                       "\"name\":\"n\",\"logicalSwitch\":\"ls\","
                       "\"mtu\":1400}");
        TEST_EQ_STR(conf->name, "n");
        TEST_EQ_STR(conf->version, "1.0.0");
        free(s);
    }
    cni_conf_destroy(conf);
    test_case(NULL);
}

struct version_case {
    const char *input;
    const char *info_version;   /* VERSION answer's cniVersion. */
    const char *error_version;  /* cniVersion stamped on errors. */
};

static void
test_versions(void)
{
    static const struct version_case cases[] = {
        { "{\"cniVersion\":\"1.0.0\"}", "1.0.0", "1.0.0" },
        { "{\"cniVersion\":\"0.3.1\",\"name\":\"n\"}", "0.3.1", "0.3.1" },
        { "{\"CNIVersion\":\"0.4.0\"}", "0.4.0", "0.4.0" },
        { "{\"cniVersion\":\"0.2.0\"}", "0.2.0", "1.1.0" },
        { "{\"cniVersion\":\"9.9.9\"}", "9.9.9", "1.1.0" },
        { "{\"cniVersion\":\"\"}", "1.1.0", "1.1.0" },
        { "{\"cniVersion\":5}", "1.1.0", "1.1.0" },
        { "{}", "1.1.0", "1.1.0" },
        { "", "1.1.0", "1.1.0" },
        { "not json", "1.1.0", "1.1.0" },
        { "[\"1.0.0\"]", "1.1.0", "1.1.0" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct version_case *c = &cases[i];
        char *info, *expected;

        test_case(c->input);
        info = cni_conf_version_info(c->input, strlen(c->input));
        expected = malloc(200);
        sprintf(expected, "{\"cniVersion\":\"%s\",\"supportedVersions\":"
                "[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}",
                c->info_version);
        TEST_EQ_STR(info, expected);
        TEST_EQ_STR(cni_conf_error_version(c->input, strlen(c->input)),
                    c->error_version);
        free(expected);
        free(info);
    }
    test_case(NULL);
}

int
main(void)
{
    test_conf_errors();
    test_defaults();
    test_runtime();
    test_attachments();
    test_canonical_config();
    test_versions();
    return test_summary();
}
