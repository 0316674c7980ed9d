/*
 * cni-env.c: CNI environment variables and CNI_ARGS.
 */
#include "cni-env.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cni-addr.h"
#include "cni-error.h"
#include "cni-json.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

#define CMD_BIT(CMD) (1u << (CMD))
#define ATTACH_CMDS (CMD_BIT(CNI_ENV_CMD_ADD) | CMD_BIT(CNI_ENV_CMD_CHECK) \
                     | CMD_BIT(CNI_ENV_CMD_DEL))
#define PLUGIN_CMDS (ATTACH_CMDS | CMD_BIT(CNI_ENV_CMD_GC) \
                     | CMD_BIT(CNI_ENV_CMD_STATUS))

#define MAX_IFNAME_LEN 15       /* IFNAMSIZ - 1. */
#define MAX_UNKNOWN_NAMED 8     /* Unknown CNI_ARGS keys named in errors. */

static const char *const cmd_names[] = {
    [CNI_ENV_CMD_UNKNOWN] = "",
    [CNI_ENV_CMD_ADD] = "ADD",
    [CNI_ENV_CMD_DEL] = "DEL",
    [CNI_ENV_CMD_CHECK] = "CHECK",
    [CNI_ENV_CMD_GC] = "GC",
    [CNI_ENV_CMD_STATUS] = "STATUS",
    [CNI_ENV_CMD_VERSION] = "VERSION",
};

/* The variables in the order the skeleton reads them, with the commands
 * that require each one and the check that applies when it is required.
 * CNI_COMMAND is required whatever its value. */
struct env_var {
    const char *name;
    size_t offset;              /* Of its 'char *' in struct cni_env. */
    unsigned int required;      /* CMD_BIT()s of the commands needing it. */
    struct cni_error *(*check)(const char *);
};

static const struct env_var env_vars[] = {
    { "CNI_COMMAND", offsetof(struct cni_env, command), ~0u, NULL },
    { "CNI_CONTAINERID", offsetof(struct cni_env, container_id),
      ATTACH_CMDS, cni_env_check_container_id },
    { "CNI_NETNS", offsetof(struct cni_env, netns),
      CMD_BIT(CNI_ENV_CMD_ADD) | CMD_BIT(CNI_ENV_CMD_CHECK), NULL },
    { "CNI_IFNAME", offsetof(struct cni_env, ifname),
      ATTACH_CMDS, cni_env_check_ifname },
    { "CNI_ARGS", offsetof(struct cni_env, args), 0, NULL },
    { "CNI_PATH", offsetof(struct cni_env, path), PLUGIN_CMDS, NULL },
    { "CNI_NETNS_OVERRIDE", offsetof(struct cni_env, netns_override), 0,
      NULL },
};
#define N_ENV_VARS (sizeof env_vars / sizeof env_vars[0])

static enum cni_env_cmd
cmd_from_string(const char *s)
{
    for (size_t i = 1; i < sizeof cmd_names / sizeof cmd_names[0]; i++) {
        if (!strcmp(s, cmd_names[i])) {
            return i;
        }
    }
    return CNI_ENV_CMD_UNKNOWN;
}

/* Returns the CNI_COMMAND spelling of 'cmd' ("" for unknown). */
const char *
cni_env_cmd_name(enum cni_env_cmd cmd)
{
    return cmd_names[cmd];
}

/* Reads the CNI variables through 'getenv' (called with 'aux') and checks
 * them as the Go skeleton does: a variable the command requires must be
 * set and non-empty, and CNI_CONTAINERID and CNI_IFNAME are checked when
 * required.  The first failed check wins; otherwise all missing variables
 * are named in one error (code 4).  On success fills in 'env' (release it
 * with cni_env_destroy()) and returns NULL; on failure leaves 'env'
 * untouched.  An unknown CNI_COMMAND is not an error here: the skeleton
 * reports it only after it has checked the configuration. */
struct cni_error *
cni_env_parse(cni_env_getenv_func *getenv_cb, void *aux, struct cni_env *env)
{
    const char *values[N_ENV_VARS];
    enum cni_env_cmd cmd;
    char *missing = NULL;
    struct cni_error *error = NULL;

    for (size_t i = 0; i < N_ENV_VARS; i++) {
        values[i] = getenv_cb(env_vars[i].name, aux);
        if (!values[i]) {
            values[i] = "";
        }
    }
    cmd = cmd_from_string(values[0]);

    for (size_t i = 0; i < N_ENV_VARS && !error; i++) {
        const struct env_var *var = &env_vars[i];
        bool required = var->required & CMD_BIT(cmd);

        if (!values[i][0]) {
            if (required) {
                cni_xappend(&missing, ", ", var->name);
            }
        } else if (required && var->check) {
            error = var->check(values[i]);
        }
    }
    if (!error && missing) {
        error = cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                 "required environment variables missing: "
                                 "%s", missing);
    }
    free(missing);
    if (error) {
        return error;
    }

    memset(env, 0, sizeof *env);
    env->cmd = cmd;
    for (size_t i = 0; i < N_ENV_VARS; i++) {
        char **field = (char **) ((char *) env + env_vars[i].offset);

        *field = cni_xstrdup(values[i]);
    }
    return NULL;
}

/* Frees the strings in 'env' (NULL is fine); 'env' itself is the caller's. */
void
cni_env_destroy(struct cni_env *env)
{
    if (env) {
        for (size_t i = 0; i < N_ENV_VARS; i++) {
            char **field = (char **) ((char *) env + env_vars[i].offset);

            free(*field);
            *field = NULL;
        }
    }
}

static bool
is_alnum(char c)
{
    return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9'));
}

/* Returns true if 's' matches ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$, the CNI rule
 * for container IDs and network names.  Such a name can serve as a file
 * name: it is never "." or "..", and has no '/' or ':'. */
bool
cni_env_is_valid_name(const char *s)
{
    if (!is_alnum(s[0])) {
        return false;
    }
    for (s++; *s; s++) {
        if (!is_alnum(*s) && *s != '_' && *s != '.' && *s != '-') {
            return false;
        }
    }
    return true;
}

/* Checks the container ID 'id' (CNI_CONTAINERID).  Returns NULL if it is
 * valid, otherwise an error to report. */
struct cni_error *
cni_env_check_container_id(const char *id)
{
    if (!id[0]) {
        return cni_error_create(OVN_LM_CNI_UNKNOWN_CONTAINER, NULL,
                                "CNI_CONTAINERID is empty");
    }
    if (!cni_env_is_valid_name(id)) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                "it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
                                "CNI_CONTAINERID \"%s\" has invalid "
                                "characters", id);
    }
    return NULL;
}

/* Returns true if 's' holds a character Go's unicode.IsSpace() accepts:
 * ASCII white space, or the UTF-8 encoding of U+0085, U+00A0, U+1680,
 * U+2000..U+200A, U+2028, U+2029, U+202F, U+205F or U+3000.  A UTF-8 lead
 * byte is never a continuation byte, so matching the byte sequences
 * anywhere finds exactly the runes a decoder would. */
static bool
has_white_space(const char *s)
{
    static const char *const seqs[] = {
        "\xc2\x85", "\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\xa8",
        "\xe2\x80\xa9", "\xe2\x80\xaf", "\xe2\x81\x9f", "\xe3\x80\x80",
    };

    for (const char *p = s; *p; p++) {
        unsigned char c = *p;

        if (c == ' ' || (c >= '\t' && c <= '\r')) {
            return true;
        }
        if (c == 0xe2 && (unsigned char) p[1] == 0x80
            && (unsigned char) p[2] >= 0x80
            && (unsigned char) p[2] <= 0x8a) {
            return true;        /* U+2000..U+200A. */
        }
    }
    for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
        if (strstr(s, seqs[i])) {
            return true;
        }
    }
    return false;
}

/* Checks the interface name 'ifname' (CNI_IFNAME) by the kernel's rules as
 * the skeleton applies them: 1 to 15 bytes, not "." or "..", no '/', ':'
 * or white space.  Returns NULL if it is valid, otherwise an error. */
struct cni_error *
cni_env_check_ifname(const char *ifname)
{
    size_t len = strlen(ifname);

    if (!len) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                "CNI_IFNAME is empty");
    }
    if (len > MAX_IFNAME_LEN) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                "interface names have at most 15 bytes",
                                "CNI_IFNAME \"%s\" is too long (%zu bytes)",
                                ifname, len);
    }
    if (!strcmp(ifname, ".") || !strcmp(ifname, "..")) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                "CNI_IFNAME must not be \".\" or \"..\"");
    }
    if (strpbrk(ifname, "/:") || has_white_space(ifname)) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                "CNI_IFNAME \"%s\" must not contain '/', "
                                "':' or white space", ifname);
    }
    return NULL;
}

static void
set_arg(cJSON *args, const char *key, const char *value)
{
    cJSON_DeleteItemFromObjectCaseSensitive(args, key);
    if (value) {
        cni_json_xadd(args, key, cni_json_xstring(value));
    }
}

/* Parses one "KEY=VALUE" pair of CNI_ARGS (modified in place) into 'args'.
 * Returns NULL or an error.  Counts unknown keys in '*n_unknownp' and
 * lists the first few in '*unknownp'. */
static struct cni_error *
parse_arg_pair(char *pair, cJSON *args, bool *ignore_unknown,
               char **unknownp, size_t *n_unknownp)
{
    static const char *const string_keys[] = {
        "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_INFRA_CONTAINER_ID",
        "K8S_POD_UID",
    };
    char mac[CNI_ADDR_MAC_LEN];
    char *eq = strchr(pair, '=');
    const char *key, *value;

    if (!eq || strchr(eq + 1, '=')) {
        return cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                "CNI_ARGS is a list of KEY=VALUE pairs "
                                "separated by ';'",
                                "CNI_ARGS has an invalid pair \"%s\"", pair);
    }
    *eq = '\0';
    key = pair;
    value = eq + 1;

    if (!strcmp(key, "IgnoreUnknown")) {
        if (!strcasecmp(value, "1") || !strcasecmp(value, "true")) {
            *ignore_unknown = true;
        } else if (!strcasecmp(value, "0") || !strcasecmp(value, "false")) {
            *ignore_unknown = false;
        } else {
            return cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                    "expected 1, 0, true or false",
                                    "CNI_ARGS: IgnoreUnknown has an invalid "
                                    "value \"%s\"", value);
        }
    } else if (!strcmp(key, "IP")) {
        /* An empty value means "no address", as with Go's net.IP. */
        if (value[0] && !cni_addr_parse_ip(value, NULL)) {
            return cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                    "CNI_ARGS: IP \"%s\" is not an IP "
                                    "address", value);
        }
        set_arg(args, key, value[0] ? value : NULL);
    } else if (!strcmp(key, "MAC")) {
        if (value[0] && !cni_addr_parse_mac(value, mac)) {
            return cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                    "expected six hex pairs such as "
                                    "0a:58:0a:00:00:05",
                                    "CNI_ARGS: MAC \"%s\" is not a MAC "
                                    "address", value);
        }
        set_arg(args, key, value[0] ? mac : NULL);
    } else {
        for (size_t i = 0; i < sizeof string_keys / sizeof *string_keys;
             i++) {
            if (!strcmp(key, string_keys[i])) {
                set_arg(args, key, value);
                return NULL;
            }
        }
        /* Name the first few only: the message must stay readable. */
        if ((*n_unknownp)++ < MAX_UNKNOWN_NAMED) {
            cni_xappend(unknownp, ", ", key);
        }
    }
    return NULL;
}

/* Parses CNI_ARGS 'args' ("K=V;K2=V2", "" for none) as the Go code does:
 * every ';'-separated part must hold exactly one '=', keys are
 * case-sensitive, the last value of a key wins, and unknown keys are an
 * error unless IgnoreUnknown is 1 or true (any case).  The known keys are
 * IgnoreUnknown, K8S_POD_NAMESPACE, K8S_POD_NAME,
 * K8S_POD_INFRA_CONTAINER_ID, K8S_POD_UID, IP (an IP address) and MAC.
 * On success stores an object of the known keys except IgnoreUnknown in
 * '*argsp' (MAC in canonical form; an empty IP or MAC is left out) and
 * returns NULL; otherwise returns an error (code 4). */
struct cni_error *
cni_env_parse_args(const char *args, cJSON **argsp)
{
    cJSON *obj = cni_json_xobject();
    struct cni_error *error = NULL;
    bool ignore_unknown = false;
    char *unknown = NULL;
    size_t n_unknown = 0;
    char *copy = cni_xstrdup(args);

    if (copy[0]) {
        char *pair = copy;

        for (;;) {
            char *semi = strchr(pair, ';');

            if (semi) {
                *semi = '\0';
            }
            error = parse_arg_pair(pair, obj, &ignore_unknown, &unknown,
                                   &n_unknown);
            if (error || !semi) {
                break;
            }
            pair = semi + 1;
        }
    }
    if (!error && n_unknown && !ignore_unknown) {
        error = cni_error_create(OVN_LM_CNI_INVALID_ENV,
                                 "set IgnoreUnknown=1 to ignore unknown "
                                 "keys",
                                 "CNI_ARGS has unknown keys: %s%s", unknown,
                                 (n_unknown > MAX_UNKNOWN_NAMED
                                  ? ", ..." : ""));
    }
    free(unknown);
    free(copy);
    if (error) {
        cJSON_Delete(obj);
        return error;
    }
    *argsp = obj;
    return NULL;
}
