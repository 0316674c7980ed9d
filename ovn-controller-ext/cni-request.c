/*
 * Parsing of the daemon-socket protocol (include/ovn-lm-proto.h).
 */
#include <config.h>
#include "cni-request.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "ovn-lm-proto.h"
#include "util.h"

static const char *const cni_command_names[] = {
    [CNI_CMD_ADD] = "ADD",
    [CNI_CMD_DEL] = "DEL",
    [CNI_CMD_CHECK] = "CHECK",
    [CNI_CMD_GC] = "GC",
    [CNI_CMD_STATUS] = "STATUS",
};

const char *
cni_command_to_string(enum cni_command cmd)
{
    return cmd < ARRAY_SIZE(cni_command_names) ? cni_command_names[cmd]
                                                : "?";
}

/* Same rule as the CNI skeleton: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$. */
static bool
valid_container_id(const char *s)
{
    if (!isalnum((unsigned char) s[0])) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (!isalnum((unsigned char) *p) && !strchr("_.-", *p)) {
            return false;
        }
    }
    return true;
}

static bool
valid_ifname(const char *s)
{
    size_t len = strlen(s);
    if (!len || len > 15 || !strcmp(s, ".") || !strcmp(s, "..")) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (*p == '/' || *p == ':' || isspace((unsigned char) *p)
            || iscntrl((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

/* A namespace path must be absolute, free of "..", and of a sane length;
 * pod-net then checks that it really is a network namespace. */
static bool
valid_netns(const char *s)
{
    if (s[0] != '/' || strlen(s) > 4096 || strstr(s, "/../")
        || (strlen(s) >= 3 && !strcmp(s + strlen(s) - 3, "/.."))) {
        return false;
    }
    for (const char *p = s; *p; p++) {
        if (iscntrl((unsigned char) *p)) {
            return false;
        }
    }
    return true;
}

static const char *
get_string(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static char *
parse_string_map(const cJSON *obj, const char *what, struct smap *out)
{
    const cJSON *item;

    if (!obj || cJSON_IsNull(obj)) {
        return NULL;
    }
    if (!cJSON_IsObject(obj)) {
        return xasprintf("%s: not an object", what);
    }
    cJSON_ArrayForEach (item, obj) {
        if (!cJSON_IsString(item) || !item->string) {
            return xasprintf("%s: value of \"%s\" is not a string", what,
                             item->string ? item->string : "");
        }
        smap_replace(out, item->string, item->valuestring);
    }
    return NULL;
}

static char *
parse_runtime(const cJSON *rt, struct cni_request *req)
{
    if (!rt || cJSON_IsNull(rt)) {
        return NULL;
    }
    if (!cJSON_IsObject(rt)) {
        return xstrdup("runtime: not an object");
    }

    const cJSON *mac = cJSON_GetObjectItemCaseSensitive(rt, "mac");
    if (mac && !cJSON_IsNull(mac)) {
        if (!cJSON_IsString(mac)
            || !eth_addr_from_string(mac->valuestring, &req->mac)) {
            return xstrdup("runtimeConfig.mac: not a MAC address");
        }
        req->has_mac = true;
    }

    const cJSON *ips = cJSON_GetObjectItemCaseSensitive(rt, "ips");
    if (ips && !cJSON_IsNull(ips)) {
        const cJSON *ip;
        if (!cJSON_IsArray(ips)) {
            return xstrdup("runtimeConfig.ips: not an array");
        }
        req->ips = xcalloc(cJSON_GetArraySize(ips) + 1, sizeof *req->ips);
        cJSON_ArrayForEach (ip, ips) {
            if (!cJSON_IsString(ip)) {
                return xstrdup("runtimeConfig.ips: not a string");
            }
            req->ips[req->n_ips++] = xstrdup(ip->valuestring);
        }
    }

    return parse_string_map(
        cJSON_GetObjectItemCaseSensitive(rt, "podAnnotations"),
        "runtimeConfig.io.kubernetes.cri.pod-annotations", &req->annotations);
}

static char *
parse_conf(const cJSON *conf, struct cni_request *req)
{
    struct cni_netconf *nc = &req->conf;
    const cJSON *item;
    const char *s;

    nc->ready_timeout = OVN_LM_DEFAULT_READY_TIMEOUT;
    if (!cJSON_IsObject(conf)) {
        return xstrdup("config: not an object");
    }

    nc->cni_version = nullable_xstrdup(get_string(conf, "cniVersion"));
    nc->network = nullable_xstrdup(get_string(conf, "name"));
    nc->logical_switch = nullable_xstrdup(get_string(conf, "logicalSwitch"));
    nc->bridge = nullable_xstrdup(get_string(conf, "bridge"));
    s = get_string(conf, "stateDir");
    nc->state_dir = xstrdup(s && s[0] == '/' && !strstr(s, "/..")
                            ? s : OVN_LM_DEFAULT_STATE_DIR);

    item = cJSON_GetObjectItemCaseSensitive(conf, "mtu");
    if (item) {
        if (!cJSON_IsNumber(item) || item->valuedouble < 68
            || item->valuedouble > 65535
            || item->valuedouble != (int) item->valuedouble) {
            return xstrdup("mtu: must be an integer from 68 to 65535");
        }
        nc->mtu = item->valueint;
    }

    s = get_string(conf, "gateway");
    if (s) {
        if (!ip_parse(s, &nc->gateway)) {
            return xasprintf("gateway: \"%s\" is not an IPv4 address", s);
        }
        nc->has_gateway = true;
    }

    item = cJSON_GetObjectItemCaseSensitive(conf, "readyTimeout");
    if (item) {
        if (!cJSON_IsNumber(item) || !(item->valuedouble > 0)
            || item->valuedouble > 3600) {
            return xstrdup("readyTimeout: must be a number of seconds "
                           "in (0, 3600]");
        }
        nc->ready_timeout = item->valuedouble;
    }

    item = cJSON_GetObjectItemCaseSensitive(conf, "prevResult");
    if (item && !cJSON_IsNull(item)) {
        if (!cJSON_IsObject(item)) {
            return xstrdup("prevResult: not an object");
        }
        req->prev_result = cJSON_Duplicate(item, true);
    }
    return NULL;
}

static char *
parse_valid(const cJSON *list, struct cni_request *req)
{
    const cJSON *item;

    if (!list || cJSON_IsNull(list)) {
        return NULL;
    }
    if (!cJSON_IsArray(list)) {
        return xstrdup("validAttachments: not an array");
    }
    req->valid = xcalloc(cJSON_GetArraySize(list) + 1, sizeof *req->valid);
    cJSON_ArrayForEach (item, list) {
        const char *cid = get_string(item, "containerID");
        const char *ifname = get_string(item, "ifname");
        if (!cid || !ifname) {
            return xstrdup("validAttachments: entries need containerID "
                           "and ifname");
        }
        struct cni_attachment_id *a = &req->valid[req->n_valid++];
        a->container_id = xstrdup(cid);
        a->ifname = xstrdup(ifname);
    }
    return NULL;
}

static char *
parse_request(const cJSON *root, struct cni_request *req)
{
    const char *s;
    char *error;

    if (!cJSON_IsObject(root)) {
        return xstrdup("request is not a JSON object");
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    /* The number itself, not its conversion to int: 1.7 is no version. */
    if (!cJSON_IsNumber(version)
        || version->valuedouble != OVN_LM_PROTO_VERSION) {
        return xasprintf("unsupported protocol version (expected %d)",
                         OVN_LM_PROTO_VERSION);
    }

    s = get_string(root, "command");
    if (!s) {
        return xstrdup("command: missing");
    }
    size_t i;
    for (i = 0; i < ARRAY_SIZE(cni_command_names); i++) {
        if (!strcmp(s, cni_command_names[i])) {
            break;
        }
    }
    if (i == ARRAY_SIZE(cni_command_names)) {
        return xasprintf("command: unknown command \"%s\"", s);
    }
    req->command = i;

    req->container_id = xstrdup(get_string(root, "containerId") ?: "");
    req->netns = xstrdup(get_string(root, "netns") ?: "");
    req->ifname = xstrdup(get_string(root, "ifname") ?: "");

    bool per_container = (req->command == CNI_CMD_ADD
                          || req->command == CNI_CMD_DEL
                          || req->command == CNI_CMD_CHECK);
    if (per_container) {
        if (!valid_container_id(req->container_id)) {
            return xasprintf("CNI_CONTAINERID: invalid container id \"%s\"",
                             req->container_id);
        }
        if (!valid_ifname(req->ifname)) {
            return xasprintf("CNI_IFNAME: invalid interface name \"%s\"",
                             req->ifname);
        }
    }
    if ((req->command == CNI_CMD_ADD || req->command == CNI_CMD_CHECK)
        && !valid_netns(req->netns)) {
        return xasprintf("CNI_NETNS: invalid namespace path \"%s\"",
                         req->netns);
    }
    if (req->command == CNI_CMD_DEL && req->netns[0]
        && !valid_netns(req->netns)) {
        /* DEL must still work; just forget a path we would not open. */
        free(req->netns);
        req->netns = xstrdup("");
    }

    error = parse_string_map(cJSON_GetObjectItemCaseSensitive(root, "args"),
                             "CNI_ARGS", &req->args);
    if (!error) {
        error = parse_runtime(cJSON_GetObjectItemCaseSensitive(root,
                                                               "runtime"),
                              req);
    }
    if (!error) {
        error = parse_conf(cJSON_GetObjectItemCaseSensitive(root, "config"),
                           req);
    }
    if (!error) {
        error = parse_valid(cJSON_GetObjectItemCaseSensitive(
                                root, "validAttachments"), req);
    }
    if (!error && !req->conf.network && req->command != CNI_CMD_STATUS) {
        error = xstrdup("name: network name missing");
    }
    return error;
}

/* An empty request, for cni_request_destroy() or to fill in. */
void
cni_request_init(struct cni_request *req)
{
    memset(req, 0, sizeof *req);
    smap_init(&req->args);
    smap_init(&req->annotations);
    smap_init(&req->labels);
}

/* Parses the 'len' bytes of 'buf' into '*req', which the caller must later
 * free with cni_request_destroy() whatever the outcome.  Returns NULL or a
 * malloc'd message naming what is wrong; then '*req' is left empty (as
 * cni_request_init() makes it), nothing of a half-parsed request in it. */
char *
cni_request_parse(const char *buf, size_t len, struct cni_request *req)
{
    cni_request_init(req);

    if (len > OVN_LM_MAX_MSG) {
        return xstrdup("request too large");
    }
    cJSON *root = cJSON_ParseWithLength(buf, len);
    if (!root) {
        return xstrdup("request is not valid JSON");
    }
    char *error = parse_request(root, req);
    cJSON_Delete(root);
    if (error) {
        cni_request_destroy(req);
        cni_request_init(req);
    }
    return error;
}

/* Moves 'src' into 'dst' (uninitialized) and leaves 'src' empty.  A plain
 * struct copy would not do: a small hmap points into itself. */
void
cni_request_move(struct cni_request *dst, struct cni_request *src)
{
    *dst = *src;
    hmap_moved(&dst->args.map);
    hmap_moved(&dst->annotations.map);
    hmap_moved(&dst->labels.map);
    cni_request_init(src);
}

void
cni_request_destroy(struct cni_request *req)
{
    if (!req) {
        return;
    }
    free(req->container_id);
    free(req->netns);
    free(req->ifname);
    smap_destroy(&req->args);
    for (size_t i = 0; i < req->n_ips; i++) {
        free(req->ips[i]);
    }
    free(req->ips);
    smap_destroy(&req->annotations);
    smap_destroy(&req->labels);
    free(req->conf.cni_version);
    free(req->conf.network);
    free(req->conf.logical_switch);
    free(req->conf.bridge);
    free(req->conf.state_dir);
    cJSON_Delete(req->prev_result);
    for (size_t i = 0; i < req->n_valid; i++) {
        free(req->valid[i].container_id);
        free(req->valid[i].ifname);
    }
    free(req->valid);
    memset(req, 0, sizeof *req);
}

/* Returns a malloc'd response carrying a CNI error. */
char *
cni_response_error(int code, const char *msg, const char *details)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *err = cJSON_AddObjectToObject(root, "error");
    cJSON_AddNumberToObject(err, "code", code);
    cJSON_AddStringToObject(err, "msg", msg ? msg : "");
    if (details && details[0]) {
        cJSON_AddStringToObject(err, "details", details);
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Returns a malloc'd response carrying 'result' (NULL for an empty one). */
char *
cni_response_result(const cJSON *result)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "result",
                          result ? cJSON_Duplicate(result, true)
                                 : cJSON_CreateObject());
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Whether 'response', made by cni_response_result() or
 * cni_response_error(), carries a result. */
bool
cni_response_is_ok(const char *response)
{
    return !strncmp(response, "{\"result\"", 9);
}
