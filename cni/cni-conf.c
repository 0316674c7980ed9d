/*
 * cni-conf.c: network configuration and CNI versions.
 */
#include "cni-conf.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "cni-addr.h"
#include "cni-error.h"
#include "cni-json.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

const char *const cni_conf_versions[] = {
    "0.3.0", "0.3.1", "0.4.0", "1.0.0", CNI_CONF_CURRENT_VERSION,
};
const size_t cni_conf_n_versions = (sizeof cni_conf_versions
                                    / sizeof cni_conf_versions[0]);

#define MIN_MTU 68
#define MAX_MTU 65535
#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *) NULL)->sun_path)

/* Top-level keys the binary or the daemon read.  cni_conf_load() leaves
 * each at most once, spelled this way, so that the daemon sees what was
 * checked here. */
static const char *const known_keys[] = {
    "cniVersion", "name", "type", "capabilities", "ipam", "dns", "args",
    "runtimeConfig", "prevResult", "socket", "logicalSwitch", "bridge",
    "mtu", "gateway", "readyTimeout", "stateDir", "cni.dev/attachments",
    "cni.dev/valid-attachments",
};

static const char *const attachment_keys[] = {
    "cni.dev/attachments", "cni.dev/valid-attachments",
};

#define POD_ANNOTATIONS_KEY "io.kubernetes.cri.pod-annotations"

/* Returns 'cmd''s lowest acceptable cniVersion, or NULL if any supported
 * version will do. */
static const char *
min_version(enum cni_env_cmd cmd)
{
    switch (cmd) {
    case CNI_ENV_CMD_CHECK:
        return "0.4.0";
    case CNI_ENV_CMD_GC:
    case CNI_ENV_CMD_STATUS:
        return CNI_CONF_CURRENT_VERSION;
    default:
        return NULL;
    }
}

/* Parses 'conf''s "name" and checks it as the skeleton's validateConfig()
 * does: a type mismatch is a decode error, an empty or unset name or one
 * with characters outside [a-zA-Z0-9_.-] an invalid configuration. */
static struct cni_error *
parse_name(const cJSON *json, const char **namep)
{
    const cJSON *item;
    const char *name;

    if (cni_json_lookup(json, "name", cJSON_String, &item)) {
        return cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                "network configuration: \"name\" must be a "
                                "string, not %s", cni_json_type_name(item));
    }
    name = item ? item->valuestring : "";
    if (!name[0]) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "network configuration has no \"name\"");
    }
    if (!cni_env_is_valid_name(name)) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF,
                                "it must match ^[a-zA-Z0-9][a-zA-Z0-9_.-]*$",
                                "network name \"%s\" has invalid characters",
                                name);
    }
    *namep = name;
    return NULL;
}

/* Parses the network configuration in the 'len' bytes at 'buf': it must be
 * a JSON object (6 otherwise) with a valid "name" (7).  On success stores a
 * new configuration in '*confp' and returns NULL. */
struct cni_error *
cni_conf_parse(const char *buf, size_t len, struct cni_conf **confp)
{
    struct cni_error *error;
    const char *name = NULL;
    struct cni_conf *conf;
    cJSON *json;

    error = cni_json_parse(buf, len, "network configuration", &json);
    if (error) {
        return error;
    }
    /* Go decodes "null" into an empty struct: no name. */
    if (!cJSON_IsObject(json) && !cJSON_IsNull(json)) {
        error = cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                 "network configuration must be a JSON "
                                 "object, not %s", cni_json_type_name(json));
    } else {
        error = parse_name(json, &name);
    }
    if (error) {
        cJSON_Delete(json);
        return error;
    }

    conf = cni_xzalloc(sizeof *conf);
    conf->json = json;
    conf->name = name;
    *confp = conf;
    return NULL;
}

/* Frees 'conf' (NULL is fine). */
void
cni_conf_destroy(struct cni_conf *conf)
{
    if (conf) {
        cJSON_Delete(conf->json);
        cJSON_Delete(conf->runtime);
        cJSON_Delete(conf->valid_attachments);
        free(conf);
    }
}

/* Parses 's' as Go's version.ParseVersion() does: one to three '.'-separated
 * decimal integers, each with an optional sign; missing parts are 0. */
static bool
parse_version(const char *s, long long v[3])
{
    v[0] = v[1] = v[2] = 0;
    for (int i = 0; i < 3; i++) {
        bool negative = false;
        long long n = 0;

        if (*s == '+' || *s == '-') {
            negative = *s++ == '-';
        }
        if (*s < '0' || *s > '9') {
            return false;
        }
        for (; *s >= '0' && *s <= '9'; s++) {
            int digit = *s - '0';

            if (n > (LLONG_MAX - digit) / 10) {
                return false;
            }
            n = n * 10 + digit;
        }
        v[i] = negative ? -n : n;
        if (!*s) {
            return true;
        } else if (*s++ != '.') {
            return false;
        }
    }
    return false;
}

static int
compare_versions(const long long a[3], const long long b[3])
{
    for (int i = 0; i < 3; i++) {
        if (a[i] != b[i]) {
            return a[i] < b[i] ? -1 : 1;
        }
    }
    return 0;
}

static char *
supported_versions_string(void)
{
    char *s = NULL;

    for (size_t i = 0; i < cni_conf_n_versions; i++) {
        cni_xappend(&s, ", ", cni_conf_versions[i]);
    }
    return s;
}

static bool
is_supported(const char *version)
{
    for (size_t i = 0; i < cni_conf_n_versions; i++) {
        if (!strcmp(version, cni_conf_versions[i])) {
            return true;
        }
    }
    return false;
}

static struct cni_error *
incompatible(const char *version, const char *why)
{
    char *supported = supported_versions_string();
    char *details = cni_xasprintf("config is %s, ovn-lm supports %s",
                                  version, supported);
    struct cni_error *error;

    error = cni_error_create(OVN_LM_CNI_INCOMPATIBLE_VERSION, details,
                             "%s", why);
    free(details);
    free(supported);
    return error;
}

/* Applies the version rules of command 'cmd' to 'conf' and records its
 * cniVersion ("0.1.0" when unset, as in Go) in 'conf->version'.  Every
 * command needs a version ovn-lm supports (1); CHECK needs 0.4.0 or later,
 * GC and STATUS 1.1.0 or later (1), and for those a version must parse
 * (6).  Returns NULL if the command may go ahead. */
struct cni_error *
cni_conf_check_version(struct cni_conf *conf, enum cni_env_cmd cmd)
{
    const char *min = min_version(cmd);
    const char *version;
    const cJSON *item;
    struct cni_error *error;
    char *why;

    if (cni_json_lookup(conf->json, "cniVersion", cJSON_String, &item)) {
        return cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                "network configuration: \"cniVersion\" must "
                                "be a string, not %s",
                                cni_json_type_name(item));
    }
    version = item && item->valuestring[0] ? item->valuestring : "0.1.0";

    if (min) {
        long long have[3], need[3], v[3];
        bool newer_supported = false;

        parse_version(min, need);
        if (!parse_version(version, have)) {
            return cni_error_create(OVN_LM_CNI_DECODE_FAILURE, NULL,
                                    "cniVersion \"%s\" is not a version "
                                    "number", version);
        }
        if (compare_versions(have, need) < 0) {
            return cni_error_create(OVN_LM_CNI_INCOMPATIBLE_VERSION, NULL,
                                    "cniVersion %s does not allow %s: it "
                                    "needs %s or later", version,
                                    cni_env_cmd_name(cmd), min);
        }
        for (size_t i = 0; i < cni_conf_n_versions; i++) {
            parse_version(cni_conf_versions[i], v);
            if (compare_versions(v, have) >= 0) {
                newer_supported = true;
            }
        }
        if (!newer_supported) {
            why = cni_xasprintf("ovn-lm cannot run %s with cniVersion %s",
                                cni_env_cmd_name(cmd), version);
            error = incompatible(version, why);
            free(why);
            return error;
        }
    }
    if (!is_supported(version)) {
        why = cni_xasprintf("incompatible CNI version %s", version);
        error = incompatible(version, why);
        free(why);
        return error;
    }
    conf->version = version;
    return NULL;
}

/* Looks up 'key' in 'obj' (which is 'where', e.g. "runtimeConfig.", or ""
 * at the top level) expecting one of 'types', described by 'what'. */
static struct cni_error *
lookup(const cJSON *obj, const char *where, const char *key, int types,
       const char *what, const cJSON **itemp)
{
    if (cni_json_lookup(obj, key, types, itemp)) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "\"%s%s\" must be %s, not %s", where, key,
                                what, cni_json_type_name(*itemp));
    }
    return NULL;
}

static struct cni_error *
invalid_value(const char *key, const char *what, const cJSON *item)
{
    char *value = cni_json_xprint(item);
    struct cni_error *error;

    error = cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                             "\"%s\" must be %s, not %s", key, what, value);
    free(value);
    return error;
}

/* Checks the types of the standard keys and the plugin keys of 'conf'. */
static struct cni_error *
load_plugin_keys(struct cni_conf *conf, enum cni_env_cmd cmd)
{
    static const char *const object_keys[] = {
        "capabilities", "ipam", "dns", "args", "prevResult",
    };
    const cJSON *json = conf->json;
    struct cni_error *error;
    const cJSON *item;

    error = lookup(json, "", "type", cJSON_String, "a string", &item);
    for (size_t i = 0; !error && i < sizeof object_keys / sizeof *object_keys;
         i++) {
        error = lookup(json, "", object_keys[i], cJSON_Object, "an object",
                       &item);
    }
    if (error) {
        return error;
    }
    if (cmd == CNI_ENV_CMD_CHECK && !cni_json_get(json, "prevResult")) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "CHECK needs \"prevResult\" in the network "
                                "configuration");
    }

    error = lookup(json, "", "socket", cJSON_String, "a string", &item);
    if (error) {
        return error;
    }
    conf->socket = item ? item->valuestring : OVN_LM_DEFAULT_SOCKET;
    if (conf->socket[0] != '/' || strlen(conf->socket) >= SUN_PATH_SIZE) {
        return invalid_value("socket", "an absolute path shorter than 108 "
                             "bytes", item);
    }

    error = lookup(json, "", "stateDir", cJSON_String, "a string", &item);
    if (error) {
        return error;
    }
    conf->state_dir = item ? item->valuestring : OVN_LM_DEFAULT_STATE_DIR;
    if (conf->state_dir[0] != '/') {
        return invalid_value("stateDir", "an absolute path", item);
    }

    error = lookup(json, "", "logicalSwitch", cJSON_String, "a string",
                   &item);
    if (error) {
        return error;
    }
    if (item && !item->valuestring[0]) {
        return invalid_value("logicalSwitch", "a switch name", item);
    }
    if (!item && cmd == CNI_ENV_CMD_ADD) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "ADD needs \"logicalSwitch\" in the network "
                                "configuration");
    }

    error = lookup(json, "", "bridge", cJSON_String, "a string", &item);
    if (error) {
        return error;
    }
    if (item && !item->valuestring[0]) {
        return invalid_value("bridge", "a bridge name", item);
    }

    error = lookup(json, "", "mtu", cJSON_Number, "a number", &item);
    if (error) {
        return error;
    }
    if (item && (item->valuedouble != floor(item->valuedouble)
                 || item->valuedouble < MIN_MTU
                 || item->valuedouble > MAX_MTU)) {
        return invalid_value("mtu", "an integer from 68 to 65535", item);
    }

    error = lookup(json, "", "gateway", cJSON_String, "a string", &item);
    if (error) {
        return error;
    }
    if (item && !cni_addr_parse_ipv4(item->valuestring)) {
        return invalid_value("gateway", "an IPv4 address", item);
    }

    error = lookup(json, "", "readyTimeout", cJSON_Number, "a number",
                   &item);
    if (error) {
        return error;
    }
    conf->ready_timeout = item ? item->valuedouble
                               : OVN_LM_DEFAULT_READY_TIMEOUT;
    if (!isfinite(conf->ready_timeout) || conf->ready_timeout <= 0) {
        return invalid_value("readyTimeout", "a positive number of seconds",
                             item);
    }
    return NULL;
}

static int
compare_keys(const cJSON *a, const cJSON *b)
{
    return strcmp(a->string, b->string);
}

/* Normalises the capabilities in "runtimeConfig" into a new object in
 * '*runtimep': "mac" (canonical MAC), "ips" (CIDRs) and
 * "io.kubernetes.cri.pod-annotations" as "podAnnotations".  Keys match
 * case-insensitively because containerd capitalises them. */
static struct cni_error *
load_runtime(const cJSON *json, cJSON **runtimep)
{
    static const char where[] = "runtimeConfig.";
    const cJSON *rc, *item, *elem;
    char mac[CNI_ADDR_MAC_LEN];
    struct cni_error *error;
    cJSON *runtime;
    int i;

    error = lookup(json, "", "runtimeConfig", cJSON_Object, "an object",
                   &rc);
    if (error) {
        return error;
    }
    runtime = cni_json_xobject();

    error = lookup(rc, where, "mac", cJSON_String, "a string", &item);
    if (error) {
        goto error;
    }
    if (item) {
        if (!cni_addr_parse_mac(item->valuestring, mac)) {
            error = invalid_value("runtimeConfig.mac", "a MAC address",
                                  item);
            goto error;
        }
        cni_json_xadd(runtime, "mac", cni_json_xstring(mac));
    }

    error = lookup(rc, where, "ips", cJSON_Array, "an array", &item);
    if (error) {
        goto error;
    }
    if (item) {
        i = 0;
        cJSON_ArrayForEach (elem, item) {
            /* The conventions show CIDR; podman sends plain addresses
             * (on "network reload", twice). */
            if (!cJSON_IsString(elem)
                || (!cni_addr_parse_cidr(elem->valuestring, NULL)
                    && !cni_addr_parse_ip(elem->valuestring, NULL))) {
                char *key = cni_xasprintf("runtimeConfig.ips[%d]", i);

                error = invalid_value(key, "an IP address, optionally in "
                                      "CIDR notation", elem);
                free(key);
                goto error;
            }
            i++;
        }
        cni_json_xadd(runtime, "ips", cni_json_xduplicate(item));
    }

    error = lookup(rc, where, POD_ANNOTATIONS_KEY, cJSON_Object,
                   "an object", &item);
    if (error) {
        goto error;
    }
    if (item) {
        cJSON *annotations = cni_json_xobject();

        cJSON_ArrayForEach (elem, item) {
            if (!cJSON_IsString(elem) && !cJSON_IsNull(elem)) {
                error = cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                         "\"%s%s\" values must be strings, "
                                         "but \"%s\" is %s", where,
                                         POD_ANNOTATIONS_KEY, elem->string,
                                         cni_json_type_name(elem));
                cJSON_Delete(annotations);
                goto error;
            }
            /* A map keeps the last value of a key; null decodes as "". */
            cni_json_xadd(annotations, elem->string,
                          cni_json_xstring(cJSON_IsString(elem)
                                           ? elem->valuestring : ""));
        }
        cni_json_remove_duplicates(annotations, compare_keys, true);
        cni_json_xadd(runtime, "podAnnotations", annotations);
    }

    *runtimep = runtime;
    return NULL;

error:
    cJSON_Delete(runtime);
    return error;
}

static int
compare_attachments(const cJSON *a, const cJSON *b)
{
    int cmp = strcmp(cJSON_GetObjectItem(a, "containerID")->valuestring,
                     cJSON_GetObjectItem(b, "containerID")->valuestring);

    return cmp ? cmp : strcmp(cJSON_GetObjectItem(a, "ifname")->valuestring,
                              cJSON_GetObjectItem(b, "ifname")->valuestring);
}

/* Appends element 'index' of GC attachment list 'key', 'elem', to 'list'
 * as {"containerID", "ifname"}.  A null element is skipped, as Go decodes
 * it into an empty attachment that matches nothing. */
static struct cni_error *
add_attachment(cJSON *list, const char *key, int index, const cJSON *elem)
{
    const cJSON *cid, *ifname;
    struct cni_error *error;
    cJSON *entry;
    char *where;

    if (cJSON_IsNull(elem)) {
        return NULL;
    }
    if (!cJSON_IsObject(elem)) {
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "\"%s[%d]\" must be an object, not %s", key,
                                index, cni_json_type_name(elem));
    }
    where = cni_xasprintf("%s[%d].", key, index);
    error = lookup(elem, where, "containerID", cJSON_String, "a string",
                   &cid);
    if (!error) {
        error = lookup(elem, where, "ifname", cJSON_String, "a string",
                       &ifname);
    }
    free(where);
    if (error) {
        return error;
    }
    entry = cni_json_xobject();
    cni_json_xadd(entry, "containerID",
                  cni_json_xstring(cid ? cid->valuestring : ""));
    cni_json_xadd(entry, "ifname",
                  cni_json_xstring(ifname ? ifname->valuestring : ""));
    cni_json_xappend(list, entry);
    return NULL;
}

/* Merges GC's "cni.dev/attachments" (the spec's name) and
 * "cni.dev/valid-attachments" (libcni's) into a new array of
 * {"containerID", "ifname"} objects without duplicates. */
static struct cni_error *
load_attachments(const cJSON *json, cJSON **listp)
{
    cJSON *list = cni_json_xarray();
    struct cni_error *error = NULL;

    for (size_t k = 0; k < 2 && !error; k++) {
        const cJSON *array, *elem;
        int i = 0;

        error = lookup(json, "", attachment_keys[k], cJSON_Array,
                       "an array", &array);
        if (error) {
            break;
        }
        cJSON_ArrayForEach (elem, array) {
            error = add_attachment(list, attachment_keys[k], i++, elem);
            if (error) {
                break;
            }
        }
    }
    if (error) {
        cJSON_Delete(list);
        return error;
    }
    cni_json_remove_duplicates(list, compare_attachments, false);
    *listp = list;
    return NULL;
}

/* Checks the rest of 'conf' for command 'cmd' (after
 * cni_conf_check_version()): the types of the standard keys; the plugin
 * keys of ovn-lm-proto.h (7 if one has the wrong type or is out of range;
 * "logicalSwitch" is required for ADD only); "prevResult" for CHECK (7);
 * "runtimeConfig"; and for GC the still-valid attachments.  Fills in the
 * fields of 'conf' that cni_conf_load() owns, with defaults for unset
 * keys, and returns NULL on success. */
struct cni_error *
cni_conf_load(struct cni_conf *conf, enum cni_env_cmd cmd)
{
    cJSON *runtime = NULL, *attachments = NULL;
    struct cni_error *error;

    error = load_plugin_keys(conf, cmd);
    if (!error) {
        error = load_runtime(conf->json, &runtime);
        if (error && cmd == CNI_ENV_CMD_DEL) {
            /* DEL needs none of it, and refusing a DEL would leak the
             * attachment: ignore what the runtime got wrong. */
            cni_error_destroy(error);
            error = NULL;
            runtime = cni_json_xobject();
        }
    }
    if (!error && cmd == CNI_ENV_CMD_GC) {
        error = load_attachments(conf->json, &attachments);
    }
    if (error) {
        cJSON_Delete(runtime);
        return error;
    }
    cJSON_Delete(conf->runtime);
    conf->runtime = runtime;
    cJSON_Delete(conf->valid_attachments);
    conf->valid_attachments = attachments;

    /* Everything is checked: only now drop the duplicates the checks had
     * to see.  The members that conf->name and friends point to stay. */
    cni_json_canonicalize(conf->json, known_keys,
                          sizeof known_keys / sizeof *known_keys);
    return NULL;
}

/* Returns the "cniVersion" string in the 'len' bytes at 'buf', if they
 * parse as a JSON object that has one, otherwise NULL.  '*jsonp' receives
 * the tree to free.  Lenient on purpose: this only picks the version for
 * output. */
static const char *
peek_version(const char *buf, size_t len, cJSON **jsonp)
{
    const cJSON *item;

    *jsonp = cJSON_ParseWithLength(buf, len);
    item = cni_json_get(*jsonp, "cniVersion");
    return cJSON_IsString(item) && item->valuestring[0]
           ? item->valuestring : NULL;
}

/* Returns the cniVersion to stamp on an error, given the network
 * configuration in the 'len' bytes at 'buf': its own if ovn-lm supports
 * it, otherwise the current version.  Never NULL, static storage. */
const char *
cni_conf_error_version(const char *buf, size_t len)
{
    const char *result = CNI_CONF_CURRENT_VERSION;
    const char *version;
    cJSON *json;

    version = peek_version(buf, len, &json);
    for (size_t i = 0; version && i < cni_conf_n_versions; i++) {
        if (!strcmp(version, cni_conf_versions[i])) {
            result = cni_conf_versions[i];
        }
    }
    cJSON_Delete(json);
    return result;
}

/* Returns the VERSION answer, as one line of JSON without newline, for
 * the input in the 'len' bytes at 'buf': its "cniVersion" (any string, or
 * the current version if there is none) and the supported versions. */
char *
cni_conf_version_info(const char *buf, size_t len)
{
    cJSON *info = cni_json_xobject();
    cJSON *versions = cni_json_xarray();
    const char *version;
    cJSON *json;
    char *s;

    version = peek_version(buf, len, &json);
    cni_json_xadd(info, "cniVersion",
                  cni_json_xstring(version ? version
                                           : CNI_CONF_CURRENT_VERSION));
    for (size_t i = 0; i < cni_conf_n_versions; i++) {
        cni_json_xappend(versions, cni_json_xstring(cni_conf_versions[i]));
    }
    cni_json_xadd(info, "supportedVersions", versions);
    s = cni_json_xprint(info);
    cJSON_Delete(info);
    cJSON_Delete(json);
    return s;
}
