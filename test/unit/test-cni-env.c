/*
 * test-cni-env.c: CNI environment variables and CNI_ARGS (cni-env).
 */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "cni-env.h"
#include "cni-error.h"
#include "test.h"

#define MAX_VARS 8

/* getenv() over a NULL-terminated list of "NAME=value" strings. */
static const char *
table_getenv(const char *name, void *aux)
{
    const char *const *vars = aux;
    size_t len = strlen(name);

    for (; *vars; vars++) {
        if (!strncmp(*vars, name, len) && (*vars)[len] == '=') {
            return *vars + len + 1;
        }
    }
    return NULL;
}

struct env_case {
    const char *name;
    const char *vars[MAX_VARS];
    int code;                   /* 0 for success. */
    const char *msg;            /* Part of the message, if an error. */
    enum cni_env_cmd cmd;       /* If successful. */
};

#define ALL "CNI_CONTAINERID=c1", "CNI_NETNS=/run/netns/n1", \
            "CNI_IFNAME=eth0", "CNI_PATH=/opt/cni/bin"

static const struct env_case env_cases[] = {
    { "ADD, all set", { "CNI_COMMAND=ADD", ALL }, 0, NULL,
      CNI_ENV_CMD_ADD },
    { "ADD, nothing set", { "CNI_COMMAND=ADD" }, 4,
      "CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_PATH", 0 },
    { "ADD, empty netns", { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
      "CNI_NETNS=", "CNI_IFNAME=eth0", "CNI_PATH=/p" }, 4,
      "missing: CNI_NETNS", 0 },
    { "ADD, no path", { "CNI_COMMAND=ADD", "CNI_CONTAINERID=c1",
      "CNI_NETNS=/n", "CNI_IFNAME=eth0" }, 4, "missing: CNI_PATH", 0 },
    { "CHECK, all set", { "CNI_COMMAND=CHECK", ALL }, 0, NULL,
      CNI_ENV_CMD_CHECK },
    { "CHECK, no netns", { "CNI_COMMAND=CHECK", "CNI_CONTAINERID=c1",
      "CNI_IFNAME=eth0", "CNI_PATH=/p" }, 4, "missing: CNI_NETNS", 0 },
    { "DEL, no netns", { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
      "CNI_IFNAME=eth0", "CNI_PATH=/p" }, 0, NULL, CNI_ENV_CMD_DEL },
    { "DEL, nothing set", { "CNI_COMMAND=DEL" }, 4,
      "missing: CNI_CONTAINERID, CNI_IFNAME, CNI_PATH", 0 },
    { "GC, path only", { "CNI_COMMAND=GC", "CNI_PATH=/p" }, 0, NULL,
      CNI_ENV_CMD_GC },
    { "GC, no path", { "CNI_COMMAND=GC" }, 4, "missing: CNI_PATH", 0 },
    { "GC, bad container ID not checked", { "CNI_COMMAND=GC",
      "CNI_PATH=/p", "CNI_CONTAINERID=/x", "CNI_IFNAME=a/b" }, 0, NULL,
      CNI_ENV_CMD_GC },
    { "STATUS, path only", { "CNI_COMMAND=STATUS", "CNI_PATH=/p" }, 0,
      NULL, CNI_ENV_CMD_STATUS },
    { "STATUS, no path", { "CNI_COMMAND=STATUS" }, 4, "missing: CNI_PATH",
      0 },
    { "VERSION, nothing else", { "CNI_COMMAND=VERSION" }, 0, NULL,
      CNI_ENV_CMD_VERSION },
    { "no CNI_COMMAND", { NULL }, 4, "missing: CNI_COMMAND", 0 },
    { "empty CNI_COMMAND", { "CNI_COMMAND=", ALL }, 4,
      "missing: CNI_COMMAND", 0 },
    { "unknown command passes here", { "CNI_COMMAND=FOO" }, 0, NULL,
      CNI_ENV_CMD_UNKNOWN },
    { "commands are case-sensitive", { "CNI_COMMAND=add" }, 0, NULL,
      CNI_ENV_CMD_UNKNOWN },
    { "bad container ID beats missing vars", { "CNI_COMMAND=ADD",
      "CNI_CONTAINERID=-c1" }, 4, "CNI_CONTAINERID \"-c1\"", 0 },
    { "bad ifname", { "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1",
      "CNI_IFNAME=eth0:1", "CNI_PATH=/p" }, 4, "CNI_IFNAME", 0 },
    { "container ID checked before ifname", { "CNI_COMMAND=DEL",
      "CNI_CONTAINERID=c 1", "CNI_IFNAME=.", "CNI_PATH=/p" }, 4,
      "CNI_CONTAINERID", 0 },
};

static void
test_env(void)
{
    for (size_t i = 0; i < sizeof env_cases / sizeof *env_cases; i++) {
        const struct env_case *c = &env_cases[i];
        struct cni_env env = { .cmd = CNI_ENV_CMD_UNKNOWN };
        struct cni_error *error;

        test_case(c->name);
        error = cni_env_parse(table_getenv, (void *) c->vars, &env);
        if (!c->code) {
            if (TEST_CHECK(!error)) {
                TEST_EQ_INT(env.cmd, c->cmd);
            } else {
                fprintf(stderr, "    error: %s\n", error->msg);
            }
        } else if (TEST_CHECK(error)) {
            TEST_EQ_INT(error->code, c->code);
            TEST_CONTAINS(error->msg, c->msg);
            /* Untouched on failure. */
            TEST_CHECK(!env.command);
        }
        cni_error_destroy(error);
        cni_env_destroy(&env);
    }
    test_case(NULL);
}

static void
test_env_values(void)
{
    const char *vars[] = {
        "CNI_COMMAND=DEL", "CNI_CONTAINERID=c1", "CNI_IFNAME=eth0",
        "CNI_PATH=/p", "CNI_ARGS=K8S_POD_NAME=p", NULL,
    };
    struct cni_env env;

    TEST_CHECK(!cni_env_parse(table_getenv, vars, &env));
    TEST_EQ_STR(env.command, "DEL");
    TEST_EQ_STR(env.container_id, "c1");
    TEST_EQ_STR(env.netns, "");
    TEST_EQ_STR(env.ifname, "eth0");
    TEST_EQ_STR(env.args, "K8S_POD_NAME=p");
    TEST_EQ_STR(env.path, "/p");
    TEST_EQ_STR(env.netns_override, "");
    TEST_EQ_STR(cni_env_cmd_name(env.cmd), "DEL");
    cni_env_destroy(&env);
    cni_env_destroy(NULL);
}

struct id_case {
    const char *value;
    int code;                   /* 0 if valid. */
};

static void
test_container_id(void)
{
    static const struct id_case cases[] = {
        { "c1", 0 },
        { "a", 0 },
        { "0", 0 },
        { "A-b_c.d", 0 },
        { "3f1ea6b2c0de4b8ba6a1d8c5e9f0a7b63f1ea6b2c0de4b8ba6a1d8c5e9f0a7b6",
          0 },
        { "", 3 },
        { "-abc", 4 },
        { "_abc", 4 },
        { ".abc", 4 },
        { ".", 4 },
        { "..", 4 },
        { "a/b", 4 },
        { "a:b", 4 },
        { "a b", 4 },
        { "ab\n", 4 },
        { "a\tb", 4 },
        { "caf\xc3\xa9", 4 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct cni_error *error;

        test_case(cases[i].value);
        error = cni_env_check_container_id(cases[i].value);
        TEST_EQ_INT(error ? error->code : 0, cases[i].code);
        if (error) {
            TEST_CONTAINS(error->msg, "CNI_CONTAINERID");
        }
        TEST_EQ_INT(cni_env_is_valid_name(cases[i].value), !cases[i].code);
        cni_error_destroy(error);
    }
    test_case(NULL);
}

static void
test_ifname(void)
{
    static const struct id_case cases[] = {
        { "eth0", 0 },
        { "abcdefghijklmno", 0 },       /* 15 bytes. */
        { "abcdefghijklmnop", 4 },      /* 16 bytes. */
        { "net1.100", 0 },
        { "...", 0 },
        { ".e", 0 },
        { "caf\xc3\xa9", 0 },
        { "a\xe2\x80\x8b" "b", 0 },     /* U+200B is not white space. */
        { "", 4 },
        { ".", 4 },
        { "..", 4 },
        { "a/b", 4 },
        { "/", 4 },
        { "a:b", 4 },
        { "a b", 4 },
        { " ", 4 },
        { "a\tb", 4 },
        { "a\nb", 4 },
        { "a\vb", 4 },
        { "a\fb", 4 },
        { "a\rb", 4 },
        { "a\xc2\x85", 4 },             /* U+0085. */
        { "a\xc2\xa0" "b", 4 },         /* U+00A0. */
        { "a\xe1\x9a\x80", 4 },         /* U+1680. */
        { "a\xe2\x80\x83" "b", 4 },     /* U+2003. */
        { "a\xe2\x80\x8a", 4 },         /* U+200A. */
        { "a\xe2\x80\xa8", 4 },         /* U+2028. */
        { "a\xe2\x80\xaf", 4 },         /* U+202F. */
        { "a\xe2\x81\x9f", 4 },         /* U+205F. */
        { "a\xe3\x80\x80", 4 },         /* U+3000. */
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct cni_error *error;

        test_case(cases[i].value);
        error = cni_env_check_ifname(cases[i].value);
        TEST_EQ_INT(error ? error->code : 0, cases[i].code);
        if (error) {
            TEST_CONTAINS(error->msg, "CNI_IFNAME");
        }
        cni_error_destroy(error);
    }
    test_case(NULL);
}

struct args_case {
    const char *args;
    const char *json;           /* Expected object, NULL if an error. */
    const char *msg;            /* Part of the error message. */
};

static void
test_args(void)
{
    static const struct args_case cases[] = {
        { "", "{}", NULL },
        { "K8S_POD_NAME=p", "{\"K8S_POD_NAME\":\"p\"}", NULL },
        { "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;"
          "K8S_POD_INFRA_CONTAINER_ID=c1;K8S_POD_UID=u-1",
          "{\"K8S_POD_NAMESPACE\":\"ns\",\"K8S_POD_NAME\":\"p\","
          "\"K8S_POD_INFRA_CONTAINER_ID\":\"c1\",\"K8S_POD_UID\":\"u-1\"}",
          NULL },
        { "K8S_POD_NAME=a;K8S_POD_NAME=b", "{\"K8S_POD_NAME\":\"b\"}",
          NULL },
        { "K8S_POD_NAME=", "{\"K8S_POD_NAME\":\"\"}", NULL },

        /* IgnoreUnknown, parsed like Go's UnmarshallableBool. */
        { "IgnoreUnknown=1;FOO=bar", "{}", NULL },
        { "IgnoreUnknown=true;FOO=bar", "{}", NULL },
        { "IgnoreUnknown=True;FOO=bar", "{}", NULL },
        { "IgnoreUnknown=TRUE;FOO=bar", "{}", NULL },
        { "FOO=bar;IgnoreUnknown=1", "{}", NULL },
        { "IgnoreUnknown=1;FOO=", "{}", NULL },
        { "IgnoreUnknown=1;=x", "{}", NULL },
        { "IgnoreUnknown=0;FOO=bar", NULL, "unknown keys: FOO" },
        { "IgnoreUnknown=false;FOO=bar", NULL, "unknown keys: FOO" },
        { "IgnoreUnknown=1;IgnoreUnknown=0;FOO=bar", NULL, "FOO" },
        { "IgnoreUnknown=0", "{}", NULL },
        { "IgnoreUnknown=yes", NULL, "IgnoreUnknown" },
        { "IgnoreUnknown=", NULL, "IgnoreUnknown" },
        { "ignoreunknown=1;FOO=x", NULL, "unknown keys: ignoreunknown, FOO" },
        { "FOO=bar", NULL, "unknown keys: FOO" },
        { "k8s_pod_name=p", NULL, "unknown keys: k8s_pod_name" },
        { "A=1;B=2;C=3;D=4;E=5;F=6;G=7;H=8;I=9", NULL,
          "A, B, C, D, E, F, G, H, ..." },

        /* Pairs. */
        { "K8S_POD_NAME", NULL, "invalid pair \"K8S_POD_NAME\"" },
        { "K8S_POD_NAME=a=b", NULL, "invalid pair \"K8S_POD_NAME=a=b\"" },
        { "K8S_POD_NAME=a;", NULL, "invalid pair \"\"" },
        { ";K8S_POD_NAME=a", NULL, "invalid pair \"\"" },
        { "K8S_POD_NAME=a;;K8S_POD_UID=b", NULL, "invalid pair" },
        { "FOO=1;BAR", NULL, "invalid pair \"BAR\"" },
        { "IgnoreUnknown=1;BAR", NULL, "invalid pair \"BAR\"" },

        /* IP and MAC. */
        { "IP=10.0.0.5", "{\"IP\":\"10.0.0.5\"}", NULL },
        { "IP=fd00::5", "{\"IP\":\"fd00::5\"}", NULL },
        { "IP=", "{}", NULL },
        { "IP=10.0.0.5;IP=", "{}", NULL },
        { "IP=10.0.0.256", NULL, "IP \"10.0.0.256\"" },
        { "IP=10.0.0.5/24", NULL, "IP \"10.0.0.5/24\"" },
        { "IP=010.0.0.5", NULL, "IP" },
        { "IP=fe80::1%eth0", NULL, "IP" },
        { "IgnoreUnknown=1;IP=x", NULL, "IP \"x\"" },
        { "MAC=0A:58:0A:00:00:05", "{\"MAC\":\"0a:58:0a:00:00:05\"}", NULL },
        { "MAC=0a-58-0a-00-00-05", "{\"MAC\":\"0a:58:0a:00:00:05\"}", NULL },
        { "MAC=0a58.0a00.0005", "{\"MAC\":\"0a:58:0a:00:00:05\"}", NULL },
        { "MAC=", "{}", NULL },
        { "MAC=0a:58:0a:00:00", NULL, "MAC \"0a:58:0a:00:00\"" },
        { "MAC=0a:58:0a:00:00:zz", NULL, "MAC" },
        { "MAC=0a:58-0a:00:00:05", NULL, "MAC" },
        { "MAC=0a:58:0a:00:00:05:06:07", NULL, "MAC" },
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const struct args_case *c = &cases[i];
        struct cni_error *error;
        cJSON *args = NULL;

        test_case(c->args);
        error = cni_env_parse_args(c->args, &args);
        if (c->json) {
            if (TEST_CHECK(!error)) {
                char *s = cJSON_PrintUnformatted(args);

                TEST_EQ_STR(s, c->json);
                free(s);
            } else {
                fprintf(stderr, "    error: %s\n", error->msg);
            }
        } else if (TEST_CHECK(error)) {
            TEST_EQ_INT(error->code, 4);
            TEST_CONTAINS(error->msg, "CNI_ARGS");
            TEST_CONTAINS(error->msg, c->msg);
            TEST_CHECK(!args);
        }
        cni_error_destroy(error);
        cJSON_Delete(args);
    }
    test_case(NULL);
}

int
main(void)
{
    test_env();
    test_env_values();
    test_container_id();
    test_ifname();
    test_args();
    return test_summary();
}
