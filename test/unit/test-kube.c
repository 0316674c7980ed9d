/*
 * test-kube.c: the daemon's Kubernetes client parsers -- YAML, kubeconfig,
 * in-cluster settings and tokens (kube-config), watch events and LIST
 * responses (kube-watch), the watch stream's line splitting, and one
 * watch against a scripted HTTP server on 127.0.0.1 (a line that does not
 * parse restarts the watch; a quiet watch is up once its headers are in).
 */
#include <config.h>
#include <cjson/cJSON.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kube-client.h"
#include "kube-config.h"
#include "kube-watch.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "timeval.h"
#include "test.h"
#include "util.h"

static char tmp_dir[] = "/tmp/test-kube-XXXXXX";

/* A file under 'tmp_dir' (malloc'd). */
static char *
tmp_path(const char *name)
{
    size_t len = strlen(tmp_dir) + strlen(name) + 2;
    char *path = malloc(len);

    snprintf(path, len, "%s/%s", tmp_dir, name);
    return path;
}

/* Writes 'text' to 'name' under 'tmp_dir', replacing it. */
static void
write_tmp(const char *name, const char *text)
{
    char *path = tmp_path(name);
    FILE *f = fopen(path, "w");

    if (!f || fputs(text, f) == EOF || fclose(f)) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    free(path);
}

static void
remove_tmp(const char *name)
{
    char *path = tmp_path(name);
    unlink(path);
    free(path);
}

/* ------------------------------------------------------------------ */
/* YAML to JSON.                                                       */
/* ------------------------------------------------------------------ */

struct yaml_case {
    const char *name;
    const char *yaml;
    const char *json;           /* Expected, unformatted; NULL: error. */
    const char *error;          /* Part of the error. */
};

static const struct yaml_case yaml_cases[] = {
    { "map", "a: 1\nb: two\n", "{\"a\":\"1\",\"b\":\"two\"}", NULL },
    { "list", "- x\n- y\n", "[\"x\",\"y\"]", NULL },
    { "nested",
      "a:\n  b: [1, {c: d}]\n  e:\n  - f: g\n    h: []\n  - {}\n",
      "{\"a\":{\"b\":[\"1\",{\"c\":\"d\"}],"
      "\"e\":[{\"f\":\"g\",\"h\":[]},{}]}}",
      NULL },
    { "quoted scalars",
      "a: \"x: y\"\nb: 'it''s'\nc: \"tab\\there\"\nd: \"\"\n"
      "'e f': \"\\u00e9\"\n",
      "{\"a\":\"x: y\",\"b\":\"it's\",\"c\":\"tab\\there\",\"d\":\"\","
      "\"e f\":\"\xc3\xa9\"}", NULL },
    { "not typed", "t: true\nn: null\ni: 007\nf: 1.5\ne:\n",
      "{\"t\":\"true\",\"n\":\"null\",\"i\":\"007\",\"f\":\"1.5\",\"e\":\"\"}",
      NULL },
    { "literal block scalar", "k: |\n  line1\n  line2\nnext: x\n",
      "{\"k\":\"line1\\nline2\\n\",\"next\":\"x\"}", NULL },
    { "folded block scalar", "k: >-\n  one\n  two\n",
      "{\"k\":\"one two\"}", NULL },
    { "comments and document markers", "# hello\n---\na: b # c\n...\n",
      "{\"a\":\"b\"}", NULL },
    { "duplicate key: the last wins", "a: 1\na: 2\n", "{\"a\":\"2\"}", NULL },
    { "scalar document", "hello\n", "\"hello\"", NULL },
    { "anchor without alias", "a: &x 1\n", "{\"a\":\"1\"}", NULL },
    { "JSON is YAML", "{\"a\": [1, \"b\"]}", "{\"a\":[\"1\",\"b\"]}",
      NULL },
    { "alias", "a: &x 1\nb: *x\n", NULL, "aliases are not supported" },
    { "merge key", "base: &b {x: 1}\nd:\n  <<: *b\n", NULL, "aliases" },
    { "unclosed flow", "a: [1, 2\n", NULL, "YAML error at line" },
    { "bad indentation", "a:\n  b: 1\n c: 2\n", NULL, "YAML error" },
    { "tab indentation", "a:\n\tb: 1\n", NULL, "YAML error" },
    { "mapping in a scalar", "a: b: c\n", NULL, "YAML error at line 1" },
    { "unterminated quote", "a: \"b\n", NULL, "YAML error" },
    { "NUL byte", "a: b\0c", NULL, "YAML error" },
    { "complex key", "? [a]\n: b\n", NULL, "keys must be scalars" },
    { "empty", "", NULL, "empty YAML document" },
    { "only a comment", "# nothing\n", NULL, "empty YAML document" },
};

static void
test_yaml(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(yaml_cases); i++) {
        const struct yaml_case *c = &yaml_cases[i];
        size_t len = strlen(c->yaml);
        char *error;

        test_case(c->name);
        if (!strcmp(c->name, "NUL byte")) {
            len = 6;
        }
        cJSON *j = kube_yaml_to_json(c->yaml, len, &error);
        if (c->json) {
            TEST_EQ_STR(error, NULL);
            char *s = j ? cJSON_PrintUnformatted(j) : NULL;
            TEST_EQ_STR(s, c->json);
            free(s);
        } else {
            TEST_CHECK(!j);
            TEST_CONTAINS(error, c->error);
        }
        cJSON_Delete(j);
        free(error);
    }

    /* Nesting: a bounded stack. */
    char deep[300];
    char *error;

    test_case("nested 64 deep");
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    cJSON *j = kube_yaml_to_json(deep, 128, &error);
    TEST_CHECK(cJSON_IsArray(j));
    TEST_EQ_STR(error, NULL);
    cJSON_Delete(j);
    free(error);

    test_case("nested 65 deep");
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    j = kube_yaml_to_json(deep, 130, &error);
    TEST_CHECK(!j);
    TEST_CONTAINS(error, "nested too deeply");
    free(error);

    test_case("unclosed nesting 150 deep");
    memset(deep, '[', 150);
    j = kube_yaml_to_json(deep, 150, &error);
    TEST_CHECK(!j);
    TEST_CONTAINS(error, "nested too deeply");
    free(error);
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* Kubeconfig.                                                         */
/* ------------------------------------------------------------------ */

/* A kubeconfig whose current context "ctx" uses cluster "c" with
 * 'CLUSTER' (indented lines "    key: value\n") and user "u" with 'USER'
 * (same). */
#define KUBECONFIG(CLUSTER, USER) \
    "apiVersion: v1\n" \
    "kind: Config\n" \
    "current-context: ctx\n" \
    "contexts:\n" \
    "- name: other\n" \
    "  context: {cluster: other, user: other}\n" \
    "- name: ctx\n" \
    "  context:\n" \
    "    cluster: c\n" \
    "    user: u\n" \
    "    namespace: kube-system\n" \
    "clusters:\n" \
    "- name: other\n" \
    "  cluster: {server: \"https://other:1\"}\n" \
    "- name: c\n" \
    "  cluster:\n" \
    CLUSTER \
    "users:\n" \
    "- name: other\n" \
    "  user: {token: other}\n" \
    "- name: u\n" \
    "  user:\n" \
    USER
#define SERVER "    server: https://k8s.example.com:6443\n"
#define NOUSER "    {}\n"

static char *
parse_config(const char *yaml, const char *base_dir, struct kube_config *c)
{
    /* Exactly 'len' bytes, so that ASan sees a read past the end. */
    size_t len = strlen(yaml);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, yaml, len);
    char *error = kube_config_from_string(copy, len, base_dir, c);
    free(copy);
    return error;
}

static void
test_config_ok(void)
{
    struct kube_config c;
    char *error, *token;

    test_case("token");
    error = parse_config(KUBECONFIG("    server: https://h:6443//\n",
                                    "    token: abc.def\n"), "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.server, "https://h:6443");
    TEST_EQ_STR(c.token, "abc.def");
    TEST_EQ_STR(c.token_file, NULL);
    TEST_EQ_STR(c.ca_file, NULL);
    TEST_CHECK(!c.ca_data && !c.cert_file && !c.key_file && !c.cert_data
               && !c.key_data);
    TEST_CHECK(!c.insecure);
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "abc.def");
    TEST_EQ_STR(error, NULL);
    free(token);
    kube_config_destroy(&c);
    TEST_CHECK(!c.server && !c.token);
    kube_config_destroy(NULL);

    test_case("token and tokenFile: the token wins");
    error = parse_config(KUBECONFIG(SERVER, "    token: t\n"
                                    "    tokenFile: tok\n"), "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.token, "t");
    TEST_EQ_STR(c.token_file, NULL);
    kube_config_destroy(&c);

    test_case("tokenFile relative to base_dir");
    write_tmp("tok", "from-file\n\n");
    error = parse_config(KUBECONFIG(SERVER, "    tokenFile: tok\n"),
                         tmp_dir, &c);
    TEST_EQ_STR(error, NULL);
    char *path = tmp_path("tok");
    TEST_EQ_STR(c.token_file, path);
    free(path);
    TEST_EQ_STR(c.token, NULL);
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "from-file");
    TEST_EQ_STR(error, NULL);
    free(token);
    kube_config_destroy(&c);

    test_case("absolute tokenFile and certificate-authority");
    error = parse_config(KUBECONFIG(SERVER "    certificate-authority: "
                                    "/etc/ca.crt\n",
                                    "    tokenFile: /run/tok\n"),
                         "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.token_file, "/run/tok");
    TEST_EQ_STR(c.ca_file, "/etc/ca.crt");
    kube_config_destroy(&c);

    test_case("certificate-authority relative to base_dir");
    error = parse_config(KUBECONFIG(SERVER "    certificate-authority: "
                                    "pki/ca.crt\n", NOUSER),
                         "/base/dir", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.ca_file, "/base/dir/pki/ca.crt");
    TEST_EQ_STR(c.ca_data, NULL);
    TEST_EQ_STR(c.token, NULL);
    kube_config_destroy(&c);

    test_case("certificate-authority with no base_dir");
    error = parse_config(KUBECONFIG(SERVER "    certificate-authority: "
                                    "ca.crt\n", NOUSER), NULL, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.ca_file, "ca.crt");
    kube_config_destroy(&c);

    /* Base64 with two, one and no '=', binary bytes, and line breaks. */
    static const struct {
        const char *name;
        const char *b64;
        const char *bytes;
        size_t len;
    } b64_cases[] = {
        { "certificate-authority-data, 2 pad", "AAH+/1BFTQ==",
          "\x00\x01\xfe\xffPEM", 7 },
        { "certificate-authority-data, 1 pad", "AAH+/1A=",
          "\x00\x01\xfe\xffP", 5 },
        { "certificate-authority-data, no pad", "AAH+/1BF",
          "\x00\x01\xfe\xffPE", 6 },
        { "certificate-authority-data, folded", "\"AAH+\\n /1BF TQ==\"",
          "\x00\x01\xfe\xffPEM", 7 },
        { "certificate-authority-data, PEM",
          "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVEl"
          "GSUNBVEUtLS0tLQo=",
          "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
          59 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(b64_cases); i++) {
        char yaml[1024];

        test_case(b64_cases[i].name);
        snprintf(yaml, sizeof yaml,
                 KUBECONFIG(SERVER "    certificate-authority: ignored\n"
                            "    certificate-authority-data: %s\n", NOUSER),
                 b64_cases[i].b64);
        error = parse_config(yaml, "/base", &c);
        TEST_EQ_STR(error, NULL);
        TEST_EQ_STR(c.ca_file, NULL);
        if (TEST_CHECK(c.ca_data)
            && TEST_EQ_INT(c.ca_data_len, b64_cases[i].len)) {
            TEST_CHECK(!memcmp(c.ca_data, b64_cases[i].bytes,
                               b64_cases[i].len));
            TEST_EQ_INT(c.ca_data[c.ca_data_len], '\0');
        }
        kube_config_destroy(&c);
    }

    test_case("client certificate and key data");
    error = parse_config(KUBECONFIG(SERVER,
                                    "    client-certificate-data: Q0VSVA==\n"
                                    "    client-key-data: S0VZ\n"),
                         "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_INT(c.cert_data_len, 4);
    TEST_EQ_STR(c.cert_data, "CERT");
    TEST_EQ_INT(c.key_data_len, 3);
    TEST_EQ_STR(c.key_data, "KEY");
    TEST_CHECK(!c.cert_file && !c.key_file && !c.token && !c.token_file);
    kube_config_destroy(&c);

    test_case("client certificate and key files");
    error = parse_config(KUBECONFIG(SERVER,
                                    "    client-certificate: u.crt\n"
                                    "    client-key: /keys/u.key\n"),
                         "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.cert_file, "/base/u.crt");
    TEST_EQ_STR(c.key_file, "/keys/u.key");
    TEST_CHECK(!c.cert_data && !c.key_data);
    kube_config_destroy(&c);

    test_case("certificate file and key data");
    error = parse_config(KUBECONFIG(SERVER,
                                    "    client-certificate: u.crt\n"
                                    "    client-key-data: S0VZ\n"),
                         "/base", &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.cert_file, "/base/u.crt");
    TEST_EQ_STR(c.key_data, "KEY");
    kube_config_destroy(&c);

    test_case("insecure");
    error = parse_config(KUBECONFIG("    server: http://127.0.0.1:8080/\n"
                                    "    insecure-skip-tls-verify: true\n",
                                    NOUSER), NULL, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.server, "http://127.0.0.1:8080");
    TEST_CHECK(c.insecure);
    kube_config_destroy(&c);

    test_case("not insecure");
    error = parse_config(KUBECONFIG(SERVER
                                    "    insecure-skip-tls-verify: false\n",
                                    NOUSER), NULL, &c);
    TEST_EQ_STR(error, NULL);
    TEST_CHECK(!c.insecure);
    kube_config_destroy(&c);

    test_case("context without a user");
    error = parse_config("current-context: a\n"
                         "contexts: [{name: a, context: {cluster: b}}]\n"
                         "clusters: [{name: b, cluster: "
                         "{server: 'https://[fd00::1]:6443'}}]\n",
                         NULL, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.server, "https://[fd00::1]:6443");
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, NULL);
    TEST_EQ_STR(error, NULL);
    kube_config_destroy(&c);

    test_case("from a file");
    write_tmp("kubeconfig",
              KUBECONFIG(SERVER "    certificate-authority: ca.crt\n",
                         "    tokenFile: tok\n"));
    path = tmp_path("kubeconfig");
    error = kube_config_from_file(path, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.source, path);
    TEST_EQ_STR(c.server, "https://k8s.example.com:6443");
    char *ca = tmp_path("ca.crt");
    TEST_EQ_STR(c.ca_file, ca);
    free(ca);
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "from-file");
    TEST_EQ_STR(error, NULL);
    free(token);
    kube_config_destroy(&c);
    free(path);
    remove_tmp("kubeconfig");
    remove_tmp("tok");
    test_case(NULL);
}

struct config_error_case {
    const char *name;
    const char *yaml;
    const char *error;          /* Part of the error. */
    const char *error2;         /* Another part, or NULL. */
};

static const struct config_error_case config_error_cases[] = {
    { "not a mapping", "- a\n- b\n", "not a mapping", NULL },
    { "a scalar", "kubeconfig\n", "not a mapping", NULL },
    { "YAML error", "current-context: [\n", "YAML error", NULL },
    { "empty", "", "empty YAML document", NULL },
    { "no current-context", "apiVersion: v1\nkind: Config\n",
      "no current-context", NULL },
    { "empty current-context", "current-context: ''\n",
      "no current-context", NULL },
    { "unknown context",
      "current-context: nope\n"
      "contexts: [{name: yes, context: {cluster: c}}]\n",
      "no context \"nope\"", NULL },
    { "contexts not a list", "current-context: c\ncontexts: c\n",
      "no context \"c\"", NULL },
    { "context not a mapping",
      "current-context: c\ncontexts: [{name: c, context: c}]\n",
      "no context \"c\"", NULL },
    { "unknown cluster",
      "current-context: c\n"
      "contexts: [{name: c, context: {cluster: ghost}}]\n"
      "clusters: [{name: other, cluster: {server: 'https://h'}}]\n",
      "\"ghost\"", "context \"c\"" },
    { "context without a cluster",
      "current-context: c\ncontexts: [{name: c, context: {user: u}}]\n",
      "context \"c\"", "no cluster" },
    { "unknown user",
      "current-context: c\n"
      "contexts: [{name: c, context: {cluster: c, user: ghost-user}}]\n"
      "clusters: [{name: c, cluster: {server: 'https://h'}}]\n"
      "users: [{name: u, user: {token: t}}]\n",
      "no user \"ghost-user\"", NULL },
    { "user not a mapping",
      KUBECONFIG(SERVER, "    token\n"), "no user \"u\"", NULL },
    { "no server",
      KUBECONFIG("    insecure-skip-tls-verify: true\n", NOUSER),
      "cluster \"c\"", "server" },
    { "non-http server",
      KUBECONFIG("    server: ftp://k8s.example.com\n", NOUSER),
      "cluster \"c\"", "http(s)" },
    { "server without a scheme",
      KUBECONFIG("    server: k8s.example.com:6443\n", NOUSER),
      "cluster \"c\"", "http(s)" },
    { "bad base64: alphabet",
      KUBECONFIG(SERVER "    certificate-authority-data: 'AAH*/1BF'\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: length",
      KUBECONFIG(SERVER "    certificate-authority-data: AAH+/1B\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: padding inside",
      KUBECONFIG(SERVER "    certificate-authority-data: AA==AAAA\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: three pads",
      KUBECONFIG(SERVER "    certificate-authority-data: AAAA====\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: all padding",
      KUBECONFIG(SERVER "    certificate-authority-data: '===='\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: trailing dashes",
      KUBECONFIG(SERVER "    certificate-authority-data: AAAA----\n",
                 NOUSER),
      "certificate-authority-data", "base64" },
    { "bad base64: client-key-data",
      KUBECONFIG(SERVER, "    client-certificate-data: Q0VSVA==\n"
                 "    client-key-data: 'S0V!'\n"),
      "client-key-data", "base64" },
    { "bad base64: client-certificate-data",
      KUBECONFIG(SERVER, "    client-certificate-data: Q\n"
                 "    client-key-data: S0VZ\n"),
      "client-certificate-data", "base64" },
    { "certificate without a key",
      KUBECONFIG(SERVER, "    client-certificate: u.crt\n"),
      "user \"u\"", "needs a key" },
    { "certificate data without a key",
      KUBECONFIG(SERVER, "    client-certificate-data: Q0VSVA==\n"),
      "user \"u\"", "needs a key" },
    { "key without a certificate",
      KUBECONFIG(SERVER, "    client-key: u.key\n"),
      "user \"u\"", "needs a key" },
    { "exec plugin",
      KUBECONFIG(SERVER, "    exec:\n"
                 "      apiVersion: client.authentication.k8s.io/v1\n"
                 "      command: aws\n"
                 "      args: [eks, get-token]\n"),
      "user \"u\"", "exec" },
    { "auth-provider plugin",
      KUBECONFIG(SERVER, "    auth-provider:\n      name: gcp\n"),
      "user \"u\"", "auth-provider" },
    { "token with a line break",
      KUBECONFIG(SERVER, "    token: |\n      abc\n      def\n"),
      "user \"u\"", "control characters" },
    { "token with a CR",
      KUBECONFIG(SERVER, "    token: \"abc\\r\\nX-Evil: 1\"\n"),
      "user \"u\"", "control characters" },
};

static void
test_config_errors(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(config_error_cases); i++) {
        const struct config_error_case *ec = &config_error_cases[i];
        struct kube_config c;

        test_case(ec->name);
        char *error = parse_config(ec->yaml, "/base", &c);
        TEST_CONTAINS(error, ec->error);
        if (ec->error2) {
            TEST_CONTAINS(error, ec->error2);
        }
        /* On error, nothing is left to free. */
        TEST_CHECK(!c.server && !c.ca_file && !c.ca_data && !c.token
                   && !c.token_file && !c.cert_file && !c.cert_data
                   && !c.key_file && !c.key_data && !c.source);
        free(error);
    }

    struct kube_config c;
    char *path = tmp_path("no-such-kubeconfig");

    test_case("missing file");
    char *error = kube_config_from_file(path, &c);
    TEST_CONTAINS(error, path);
    TEST_CONTAINS(error, "No such file");
    TEST_EQ_STR(c.server, NULL);
    free(error);

    test_case("an error in a file names it");
    write_tmp("bad-kubeconfig", "kind: Config\n");
    free(path);
    path = tmp_path("bad-kubeconfig");
    error = kube_config_from_file(path, &c);
    TEST_CONTAINS(error, path);
    TEST_CONTAINS(error, "no current-context");
    TEST_EQ_STR(c.source, NULL);
    free(error);
    free(path);
    remove_tmp("bad-kubeconfig");
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* In-cluster settings and tokens.                                     */
/* ------------------------------------------------------------------ */

static void
test_in_cluster(void)
{
    char *sa = tmp_path("sa");
    struct kube_config c;
    char *error, *token;

    if (mkdir(sa, 0700)) {
        perror(sa);
        exit(1);
    }

    test_case("in-cluster without the environment");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    error = kube_config_in_cluster(sa, &c);
    TEST_CONTAINS(error, "KUBERNETES_SERVICE_HOST");
    TEST_EQ_STR(c.server, NULL);
    free(error);

    test_case("in-cluster without a port");
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "", 1);
    error = kube_config_in_cluster(sa, &c);
    TEST_CONTAINS(error, "KUBERNETES_SERVICE_PORT");
    free(error);

    test_case("in-cluster without a token");
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    error = kube_config_in_cluster(sa, &c);
    TEST_CONTAINS(error, "sa/token");
    TEST_CONTAINS(error, "No such file");
    TEST_CHECK(!c.server && !c.token_file && !c.ca_file && !c.source);
    free(error);

    test_case("in-cluster with an empty token");
    write_tmp("sa/token", " \n");
    error = kube_config_in_cluster(sa, &c);
    TEST_CONTAINS(error, "sa/token");
    TEST_CONTAINS(error, "empty token");
    free(error);

    test_case("in-cluster with a token in two lines");
    write_tmp("sa/token", "abc\ndef\n");
    error = kube_config_in_cluster(sa, &c);
    TEST_CONTAINS(error, "sa/token");
    TEST_CONTAINS(error, "control characters");
    free(error);

    test_case("in-cluster");
    write_tmp("sa/token", "eyJhbGciOi.payload.sig\n");
    write_tmp("sa/ca.crt", "-----BEGIN CERTIFICATE-----\n");
    error = kube_config_in_cluster(sa, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.server, "https://10.96.0.1:443");
    TEST_EQ_STR(c.source, "in-cluster");
    char *path = tmp_path("sa/token");
    TEST_EQ_STR(c.token_file, path);
    free(path);
    path = tmp_path("sa/ca.crt");
    TEST_EQ_STR(c.ca_file, path);
    free(path);
    TEST_CHECK(!c.token && !c.ca_data && !c.insecure);
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "eyJhbGciOi.payload.sig");
    TEST_EQ_STR(error, NULL);
    free(token);

    /* The kubelet rotates the token: each use reads it again. */
    test_case("token rotation");
    write_tmp("sa/token", "second-token\r\n");
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "second-token");
    TEST_EQ_STR(error, NULL);
    free(token);
    write_tmp("sa/token", "third-token");
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, "third-token");
    free(token);

    test_case("rotated token gone");
    remove_tmp("sa/token");
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, NULL);
    TEST_CONTAINS(error, "sa/token");
    free(error);

    test_case("rotated token empty");
    write_tmp("sa/token", "");
    token = kube_config_get_token(&c, &error);
    TEST_EQ_STR(token, NULL);
    TEST_CONTAINS(error, "empty token");
    free(error);
    kube_config_destroy(&c);

    test_case("in-cluster, IPv6");
    write_tmp("sa/token", "t6\n");
    setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
    error = kube_config_in_cluster(sa, &c);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(c.server, "https://[fd00:10:96::1]:6443");
    kube_config_destroy(&c);

    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    remove_tmp("sa/token");
    remove_tmp("sa/ca.crt");
    rmdir(sa);
    free(sa);
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* Watch events.                                                       */
/* ------------------------------------------------------------------ */

static char *
parse_event(const char *line, struct kube_event *e)
{
    size_t len = strlen(line);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, line, len);
    char *error = kube_event_parse(copy, len, e);
    free(copy);
    return error;
}

#define POD_MD(NS) \
    "\"metadata\":{\"name\":\"virt-launcher-vm1-x\"," NS \
    "\"resourceVersion\":\"1234\",\"labels\":{\"kubevirt.io\":\"vl\"}," \
    "\"managedFields\":[{\"manager\":\"kubelet\"}]}"
#define EVENT(TYPE, OBJ) "{\"type\":\"" TYPE "\",\"object\":{" OBJ "}}"

static void
test_events(void)
{
    static const struct {
        const char *type;
        enum kube_event_type t;
    } types[] = {
        { "ADDED", KUBE_EVENT_ADDED },
        { "MODIFIED", KUBE_EVENT_MODIFIED },
        { "DELETED", KUBE_EVENT_DELETED },
    };
    struct kube_event e;
    char *error;

    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        char line[512];

        test_case(types[i].type);
        snprintf(line, sizeof line,
                 EVENT("%s", "\"kind\":\"Pod\","
                       POD_MD("\"namespace\":\"default\",")
                       ",\"spec\":{\"nodeName\":\"n1\"}"),
                 types[i].type);
        error = parse_event(line, &e);
        TEST_EQ_STR(error, NULL);
        TEST_EQ_INT(e.type, types[i].t);
        TEST_EQ_STR(e.key, "default/virt-launcher-vm1-x");
        TEST_EQ_STR(e.resource_version, "1234");
        TEST_EQ_STR(kube_get_str(e.object, "spec", "nodeName", NULL), "n1");
        TEST_EQ_STR(kube_get_str(e.object, "metadata", "labels",
                                 "kubevirt.io", NULL), "vl");
        TEST_CHECK(kube_get(e.object, "metadata", NULL));
        TEST_CHECK(!kube_get(e.object, "metadata", "managedFields", NULL));
        TEST_EQ_STR(e.message, NULL);
        kube_event_destroy(&e);
        TEST_CHECK(!e.object && !e.key && !e.resource_version);
    }

    test_case("cluster-scoped");
    error = parse_event(EVENT("ADDED", "\"kind\":\"Node\","
                              POD_MD("\"namespace\":\"\",")), &e);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(e.key, "virt-launcher-vm1-x");
    kube_event_destroy(&e);
    error = parse_event(EVENT("MODIFIED", POD_MD("")), &e);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(e.key, "virt-launcher-vm1-x");
    kube_event_destroy(&e);

    test_case("BOOKMARK");
    error = parse_event(EVENT("BOOKMARK", "\"kind\":\"Pod\",\"metadata\":"
                              "{\"resourceVersion\":\"5000\",\"annotations\":"
                              "{\"k8s.io/initial-events-end\":\"true\"}}"),
                        &e);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_INT(e.type, KUBE_EVENT_BOOKMARK);
    TEST_EQ_STR(e.resource_version, "5000");
    TEST_EQ_STR(e.key, NULL);
    kube_event_destroy(&e);

    test_case("ERROR 410");
    error = parse_event(EVENT("ERROR", "\"kind\":\"Status\",\"apiVersion\":"
                              "\"v1\",\"metadata\":{},\"status\":\"Failure\","
                              "\"message\":\"too old resource version: 1 "
                              "(2)\",\"reason\":\"Expired\",\"code\":410"),
                        &e);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_INT(e.type, KUBE_EVENT_ERROR);
    TEST_EQ_INT(e.code, 410);
    TEST_EQ_STR(e.message, "too old resource version: 1 (2)");
    TEST_EQ_STR(e.key, NULL);
    TEST_EQ_STR(e.resource_version, NULL);
    TEST_EQ_STR(kube_get_str(e.object, "reason", NULL), "Expired");
    kube_event_destroy(&e);

    test_case("ERROR without code or message");
    error = parse_event(EVENT("ERROR", "\"code\":\"410\""), &e);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_INT(e.code, 0);
    TEST_EQ_STR(e.message, "(no message)");
    kube_event_destroy(&e);

    test_case("ERROR with a huge code");
    error = parse_event(EVENT("ERROR", "\"code\":1e300"), &e);
    TEST_EQ_STR(error, NULL);
    kube_event_destroy(&e);

    static const struct {
        const char *name;
        const char *line;
        const char *error;
    } bad[] = {
        { "missing resourceVersion",
          EVENT("ADDED", "\"metadata\":{\"name\":\"a\"}"),
          "ADDED watch event without a resourceVersion" },
        { "empty resourceVersion",
          EVENT("DELETED", "\"metadata\":{\"name\":\"a\","
                "\"resourceVersion\":\"\"}"),
          "DELETED watch event without a resourceVersion" },
        { "numeric resourceVersion",
          EVENT("MODIFIED", "\"metadata\":{\"name\":\"a\","
                "\"resourceVersion\":12}"), "resourceVersion" },
        { "BOOKMARK without resourceVersion", EVENT("BOOKMARK", ""),
          "BOOKMARK watch event without a resourceVersion" },
        { "no name",
          EVENT("ADDED", "\"metadata\":{\"namespace\":\"ns\","
                "\"resourceVersion\":\"1\"}"), "without a name" },
        { "empty name",
          EVENT("ADDED", "\"metadata\":{\"name\":\"\","
                "\"resourceVersion\":\"1\"}"), "without a name" },
        { "unknown type", EVENT("SYNC", POD_MD("")),
          "unknown type \"SYNC\"" },
        { "lower-case type", EVENT("added", POD_MD("")),
          "unknown type \"added\"" },
        { "no type", "{\"object\":{}}", "unknown type \"(none)\"" },
        { "numeric type", "{\"type\":1,\"object\":{}}", "unknown type" },
        { "no object", "{\"type\":\"ADDED\"}", "ADDED watch event without "
          "an object" },
        { "object not an object", "{\"type\":\"ERROR\",\"object\":[]}",
          "ERROR watch event without an object" },
        { "not JSON", "HTTP/1.1 500 Internal Server Error",
          "not JSON" },
        { "truncated", "{\"type\":\"ADDED\",\"object\":{\"metadata\":",
          "not JSON" },
        { "empty", "", "not JSON" },
        { "an array", "[" EVENT("ADDED", POD_MD("")) "]",
          "unknown type \"(none)\"" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        test_case(bad[i].name);
        error = parse_event(bad[i].line, &e);
        TEST_CONTAINS(error, bad[i].error);
        TEST_CHECK(!e.object && !e.key && !e.resource_version
                   && !e.message);
        free(error);
        kube_event_destroy(&e);
    }

    /* Only 'len' bytes count. */
    test_case("length");
    const char *line = EVENT("ADDED", POD_MD(""));
    error = kube_event_parse(line, strlen(line) - 1, &e);
    TEST_CONTAINS(error, "not JSON");
    free(error);
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* LIST responses.                                                     */
/* ------------------------------------------------------------------ */

static char *
parse_list(const char *body, struct shash *objects, char **rv, char **cont)
{
    size_t len = strlen(body);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, body, len);
    char *error = kube_list_parse(copy, len, objects, rv, cont);
    free(copy);
    return error;
}

#define ITEM(NS, NAME, RV) \
    "{\"metadata\":{\"name\":\"" NAME "\"," NS "\"resourceVersion\":\"" RV \
    "\",\"managedFields\":[{\"manager\":\"m\"}]}}"
#define LIST(MD, ITEMS) \
    "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{" MD "}," \
    "\"items\":" ITEMS "}"

static void
test_list(void)
{
    struct shash objects = SHASH_INITIALIZER(&objects);
    char *rv, *cont, *error;
    const cJSON *o;

    test_case("two items, continue");
    error = parse_list(LIST("\"resourceVersion\":\"100\",\"continue\":"
                            "\"eyJ2Ijoi\",\"remainingItemCount\":3",
                            "[" ITEM("\"namespace\":\"default\",", "a", "90")
                            "," ITEM("", "node-1", "91") "]"),
                       &objects, &rv, &cont);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(rv, "100");
    TEST_EQ_STR(cont, "eyJ2Ijoi");
    TEST_EQ_INT(shash_count(&objects), 2);
    o = shash_find_data(&objects, "default/a");
    TEST_EQ_STR(kube_get_str(o, "metadata", "resourceVersion", NULL), "90");
    TEST_CHECK(o && !kube_get(o, "metadata", "managedFields", NULL));
    o = shash_find_data(&objects, "node-1");
    TEST_EQ_STR(kube_get_str(o, "metadata", "resourceVersion", NULL), "91");
    free(rv);
    free(cont);

    /* The next page replaces "default/a" (the old one is freed: ASan). */
    test_case("replacing");
    error = parse_list(LIST("\"resourceVersion\":\"101\",\"continue\":\"\"",
                            "[" ITEM("\"namespace\":\"default\",", "a", "95")
                            "," ITEM("\"namespace\":\"default\",", "a", "96")
                            "," ITEM("\"namespace\":\"other\",", "a", "97")
                            "]"),
                       &objects, &rv, &cont);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(rv, "101");
    TEST_EQ_STR(cont, NULL);
    TEST_EQ_INT(shash_count(&objects), 3);
    o = shash_find_data(&objects, "default/a");
    TEST_EQ_STR(kube_get_str(o, "metadata", "resourceVersion", NULL), "96");
    o = shash_find_data(&objects, "other/a");
    TEST_EQ_STR(kube_get_str(o, "metadata", "resourceVersion", NULL), "97");
    free(rv);
    free(cont);
    kube_objects_clear(&objects);

    test_case("items null");
    error = parse_list(LIST("\"resourceVersion\":\"7\"", "null"), &objects,
                       &rv, &cont);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(rv, "7");
    TEST_EQ_STR(cont, NULL);
    TEST_EQ_INT(shash_count(&objects), 0);
    free(rv);

    test_case("items empty");
    error = parse_list(LIST("\"resourceVersion\":\"8\"", "[]"), &objects,
                       &rv, &cont);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_STR(rv, "8");
    TEST_EQ_INT(shash_count(&objects), 0);
    free(rv);

    test_case("items without a name are skipped");
    error = parse_list(LIST("\"resourceVersion\":\"9\"",
                            "[{\"metadata\":{\"namespace\":\"ns\"}},"
                            "{\"metadata\":{\"name\":\"\"}},{},null,42,"
                            "\"x\",[{\"metadata\":{\"name\":\"arr\"}}],"
                            ITEM("\"namespace\":\"ns\",", "ok", "3") "]"),
                       &objects, &rv, &cont);
    TEST_EQ_STR(error, NULL);
    TEST_EQ_INT(shash_count(&objects), 1);
    TEST_CHECK(shash_find_data(&objects, "ns/ok"));
    free(rv);
    kube_objects_clear(&objects);

    static const struct {
        const char *name;
        const char *body;
    } bad[] = {
        { "missing resourceVersion", LIST("", "[" ITEM("", "a", "1") "]") },
        { "empty resourceVersion",
          LIST("\"resourceVersion\":\"\"", "[]") },
        { "numeric resourceVersion", LIST("\"resourceVersion\":5", "[]") },
        { "missing items", "{\"metadata\":{\"resourceVersion\":\"1\"}}" },
        { "items an object", LIST("\"resourceVersion\":\"1\"", "{}") },
        { "no metadata", "{\"items\":[]}" },
        { "not an object", "[]" },
        { "not JSON", "<html>" },
        { "empty", "" },
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        test_case(bad[i].name);
        rv = cont = (char *) "unset";
        error = parse_list(bad[i].body, &objects, &rv, &cont);
        TEST_CHECK(error != NULL);
        TEST_CONTAINS(error, "list response");
        TEST_CHECK(!rv && !cont);
        TEST_EQ_INT(shash_count(&objects), 0);
        free(error);
    }
    shash_destroy(&objects);
    test_case(NULL);
}

static void
test_keys(void)
{
    cJSON *j = cJSON_Parse("{\"metadata\":{\"name\":\"n\",\"namespace\":"
                           "\"ns\",\"labels\":{\"a\":\"b\",\"c\":3}},"
                           "\"list\":[1]}");
    char *key;

    test_case("kube_object_key");
    key = kube_object_key(j);
    TEST_EQ_STR(key, "ns/n");
    free(key);
    TEST_EQ_STR(kube_object_key(NULL), NULL);
    TEST_EQ_STR(kube_object_key(cJSON_GetObjectItem(j, "list")), NULL);

    test_case("kube_get");
    TEST_EQ_STR(kube_get_str(j, "metadata", "labels", "a", NULL), "b");
    TEST_EQ_STR(kube_get_str(j, "metadata", "labels", "c", NULL), NULL);
    TEST_CHECK(cJSON_IsNumber(kube_get(j, "metadata", "labels", "c", NULL)));
    TEST_CHECK(kube_get(j, NULL) == j);
    TEST_CHECK(!kube_get(j, "metadata", "labels", "a", "deeper", NULL));
    TEST_CHECK(!kube_get(j, "list", "0", NULL));
    TEST_CHECK(!kube_get(NULL, "metadata", NULL));
    TEST_EQ_STR(kube_get_str(j, "nope", "name", NULL), NULL);
    cJSON_Delete(j);
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* The watch stream's lines.                                           */
/* ------------------------------------------------------------------ */

static void
test_lines(void)
{
    struct kube_lines l;
    const char *line;
    size_t len;

    test_case("lines in one chunk, empty lines kept");
    kube_lines_init(&l);
    kube_lines_put(&l, "ab\n\ncd\nef", 9);
    TEST_CHECK(kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(len, 2);
    TEST_CHECK(!memcmp(line, "ab", 2));
    TEST_CHECK(kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(len, 0);
    TEST_CHECK(kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(len, 2);
    TEST_CHECK(!memcmp(line, "cd", 2));
    TEST_CHECK(!kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(kube_lines_pending(&l), 2);
    kube_lines_put(&l, "g\n", 2);
    TEST_CHECK(kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(len, 3);
    TEST_CHECK(!memcmp(line, "efg", 3));
    TEST_EQ_INT(kube_lines_pending(&l), 0);

    /* A 1 MB line in 1-byte... 100-byte chunks: every byte is looked at
     * once, not once per chunk (which was quadratic up to the limit). */
    test_case("a long line in small chunks is scanned once");
    kube_lines_clear(&l);
    l.n_scanned = 0;
    size_t total = 0, chunk = 0;
    char buf[100];
    memset(buf, 'x', sizeof buf);
    while (total < 1024 * 1024) {
        chunk = chunk % sizeof buf + 1;
        kube_lines_put(&l, buf, chunk);
        total += chunk;
        TEST_CHECK(!kube_lines_next(&l, &line, &len));
    }
    kube_lines_put(&l, "\nz", 2);
    total += 2;
    TEST_CHECK(kube_lines_next(&l, &line, &len));
    TEST_EQ_INT(len, total - 2);
    TEST_CHECK(!kube_lines_next(&l, &line, &len));
    printf("scanned %llu bytes for %zu fed\n", l.n_scanned, total);
    TEST_EQ_INT(l.n_scanned, total);
    TEST_EQ_INT(kube_lines_pending(&l), 1);
    kube_lines_destroy(&l);
    kube_lines_destroy(NULL);
    test_case(NULL);
}

/* ------------------------------------------------------------------ */
/* One watch against a scripted server on 127.0.0.1.                   */
/* ------------------------------------------------------------------ */

struct fake_server {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mutex;
    char *requests[8];          /* Request lines seen. */
    int n_requests;
    bool end_watch;             /* End the quiet watch cleanly, now. */
};

static void
send_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return;
        }
        s += k;
        n -= k;
    }
}

static void
send_chunk(int fd, const char *s, size_t n)
{
    char head[32];
    snprintf(head, sizeof head, "%zx\r\n", n);
    send_all(fd, head, strlen(head));
    send_all(fd, s, n);
    send_all(fd, "\r\n", 2);
}

/* Reads one request's headers; false at the end of the connection. */
static bool
read_request(int fd, char *buf, size_t size)
{
    size_t n = 0;
    while (n + 1 < size) {
        ssize_t k = recv(fd, buf + n, 1, 0);
        if (k <= 0) {
            return false;
        }
        n++;
        buf[n] = '\0';
        if (n >= 4 && !strcmp(buf + n - 4, "\r\n\r\n")) {
            return true;
        }
    }
    return false;
}

#define WATCH_HEADERS "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" \
    "Transfer-Encoding: chunked\r\n\r\n"

/* The script: LIST at rv 10; the watch from 10 gets an ADDED at rv 11
 * in 7-byte chunks, then a line that is not JSON, and stays open; any
 * later watch gets its headers and nothing else (a quiet watch). */
static void
serve_one(struct fake_server *s, int fd, const char *req)
{
    if (!strstr(req, "watch=1")) {
        const char *body = "{\"kind\":\"PodList\",\"metadata\":"
            "{\"resourceVersion\":\"10\"},\"items\":[{\"metadata\":"
            "{\"name\":\"a\",\"namespace\":\"n\",\"resourceVersion\":"
            "\"5\"}}]}";
        char head[160];
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Type: "
                 "application/json\r\nContent-Length: %zu\r\n\r\n",
                 strlen(body));
        send_all(fd, head, strlen(head));
        send_all(fd, body, strlen(body));
        return;
    }
    send_all(fd, WATCH_HEADERS, strlen(WATCH_HEADERS));
    if (strstr(req, "resourceVersion=10&")) {
        const char *ev = "{\"type\":\"ADDED\",\"object\":{\"metadata\":"
            "{\"name\":\"b\",\"namespace\":\"n\",\"resourceVersion\":"
            "\"11\"}}}\n{\"type\":\"MODIFIED\",\"object\":{\"metada\n";
        for (size_t i = 0; i < strlen(ev); i += 7) {
            send_chunk(fd, ev + i, MIN(7, strlen(ev) - i));
            usleep(1000);
        }
    }
    /* Hold the watch until the client goes, or end it cleanly when told
     * (as a server that goes away may, long before timeoutSeconds). */
    for (;;) {
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        char c;
        if (poll(&pfd, 1, 20) > 0 && recv(fd, &c, 1, 0) <= 0) {
            return;
        }
        pthread_mutex_lock(&s->mutex);
        bool end = s->end_watch;
        s->end_watch = false;
        pthread_mutex_unlock(&s->mutex);
        if (end) {
            send_all(fd, "0\r\n\r\n", 5);
            return;
        }
    }
}

static void *
fake_server_main(void *s_)
{
    struct fake_server *s = s_;
    int fd;

    while ((fd = accept(s->fd, NULL, NULL)) >= 0) {
        char req[4096];
        while (read_request(fd, req, sizeof req)) {
            pthread_mutex_lock(&s->mutex);
            if (s->n_requests < (int) ARRAY_SIZE(s->requests)) {
                s->requests[s->n_requests++] = xmemdup0(
                    req, strcspn(req, "\r"));
            }
            pthread_mutex_unlock(&s->mutex);
            serve_one(s, fd, req);
        }
        close(fd);
    }
    return NULL;
}

static int
fake_server_n_requests(struct fake_server *s)
{
    pthread_mutex_lock(&s->mutex);
    int n = s->n_requests;
    pthread_mutex_unlock(&s->mutex);
    return n;
}

struct watch_test {
    struct kube_client *client;
    struct kube_watch *watch;
    struct fake_server *server;
};

static bool
watch_status_has(const struct watch_test *t, const char *what)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    kube_watch_format(t->watch, &s);
    bool has = strstr(ds_cstr(&s), what) != NULL;
    ds_destroy(&s);
    return has;
}

/* Runs the client and the watch until 'n' requests were made and the
 * watch's status has 'what', or 5 s. */
static bool
run_until(struct watch_test *t, int n, const char *what)
{
    long long int deadline = time_msec() + 5000;
    while (fake_server_n_requests(t->server) < n
           || !watch_status_has(t, what)) {
        if (time_msec() >= deadline) {
            return false;
        }
        kube_client_run(t->client);
        kube_watch_run(t->watch);
        kube_client_wait(t->client);
        kube_watch_wait(t->watch);
        poll_timer_wait(20);    /* The server thread's progress. */
        poll_block();
    }
    return true;
}

static void
test_watch_restart(void)
{
    struct fake_server s = { .mutex = PTHREAD_MUTEX_INITIALIZER };
    struct sockaddr_in sin = { .sin_family = AF_INET };
    socklen_t slen = sizeof sin;

    test_case("scripted server on 127.0.0.1");
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    s.fd = socket(AF_INET, SOCK_STREAM, 0);
    if (!TEST_CHECK(s.fd >= 0
                    && !bind(s.fd, (struct sockaddr *) &sin, sizeof sin)
                    && !listen(s.fd, 8)
                    && !getsockname(s.fd, (struct sockaddr *) &sin,
                                    &slen))) {
        return;
    }
    s.port = ntohs(sin.sin_port);
    pthread_create(&s.thread, NULL, fake_server_main, &s);

    struct kube_config cfg = { .server = xasprintf("http://127.0.0.1:%d",
                                                   s.port),
                               .source = xstrdup("test") };
    struct watch_test t = { .server = &s };
    t.client = kube_client_create(&cfg, "test-kube");
    t.watch = kube_watch_create(t.client, "pods", "/api/v1/pods", NULL);

    test_case("a line that does not parse: watch again from the last "
              "good resourceVersion");
    TEST_CHECK(run_until(&t, 3, ": watching,"));
    pthread_mutex_lock(&s.mutex);
    TEST_CONTAINS(s.requests[0], "GET /api/v1/pods?limit=500 ");
    TEST_CONTAINS(s.requests[1], "watch=1&allowWatchBookmarks=true&"
                  "resourceVersion=10&");
    TEST_CONTAINS(s.requests[2], "watch=1&allowWatchBookmarks=true&"
                  "resourceVersion=11&");
    pthread_mutex_unlock(&s.mutex);
    TEST_CHECK(kube_watch_get(t.watch, "n", "b") != NULL);
    TEST_EQ_INT(shash_count(kube_watch_objects(t.watch)), 2);
    TEST_CHECK(watch_status_has(&t, "last error: watch event is not JSON"));

    struct kube_watch_stats st;
    kube_watch_get_stats(t.watch, &st);
    TEST_EQ_INT(st.n_lists, 1);
    TEST_EQ_INT(st.n_events, 1);
    TEST_EQ_INT(st.n_errors, 1);
    TEST_EQ_INT(st.n_relists, 0);

    /* The third watch gets headers and no byte of body, ever. */
    test_case("a quiet watch is up once its headers are in");
    TEST_CHECK(run_until(&t, 3, "live for"));
    TEST_CHECK(!watch_status_has(&t, "connecting"));
    TEST_CHECK(kube_watch_is_live(t.watch));
    TEST_CHECK(kube_client_n_answers(t.client) >= 3);

    /* A clean end minutes before timeoutSeconds: the server is going
     * away (libcurl also reports some HTTP/2 streams of a connection that
     * closed so): a failure, not a watch to resume at once. */
    test_case("a watch ended long before its time is a failure");
    pthread_mutex_lock(&s.mutex);
    s.end_watch = true;
    pthread_mutex_unlock(&s.mutex);
    TEST_CHECK(run_until(&t, 4, "last error: watch ended by the server"));
    TEST_CHECK(run_until(&t, 5, ": watching,"));
    kube_watch_get_stats(t.watch, &st);
    TEST_EQ_INT(st.n_errors, 2);
    pthread_mutex_lock(&s.mutex);
    /* The server's trouble: /readyz asked (200 at once: no wake-up), and
     * the watch again after its backoff. */
    TEST_CONTAINS(s.requests[3], "GET /readyz ");
    TEST_CONTAINS(s.requests[4], "watch=1&allowWatchBookmarks=true&"
                  "resourceVersion=11&");
    pthread_mutex_unlock(&s.mutex);

    kube_watch_destroy(t.watch);
    kube_client_destroy(t.client);
    shutdown(s.fd, SHUT_RDWR);
    pthread_join(s.thread, NULL);
    close(s.fd);
    for (int i = 0; i < s.n_requests; i++) {
        free(s.requests[i]);
    }
    test_case(NULL);
}

int
main(void)
{
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_yaml();
    test_config_ok();
    test_config_errors();
    test_in_cluster();
    test_events();
    test_list();
    test_keys();
    test_lines();
    test_watch_restart();
    rmdir(tmp_dir);
    return test_summary();
}
