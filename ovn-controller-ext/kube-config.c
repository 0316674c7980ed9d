/*
 * Kubernetes API access settings (see kube-config.h).
 */
#include <config.h>
#include "kube-config.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Kubeconfig files and tokens are small; anything bigger is a mistake. */
#define KUBE_CONFIG_MAX_FILE (1024 * 1024)

static char *
read_file(const char *name, size_t *lenp, char **errorp)
{
    FILE *f = fopen(name, "r");
    if (!f) {
        *errorp = xasprintf("%s: %s", name, ovs_strerror(errno));
        return NULL;
    }
    struct ds s = DS_EMPTY_INITIALIZER;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        ds_put_buffer(&s, buf, n);
        if (s.length > KUBE_CONFIG_MAX_FILE) {
            break;
        }
    }
    bool error = ferror(f);
    fclose(f);
    if (error || s.length > KUBE_CONFIG_MAX_FILE) {
        *errorp = xasprintf("%s: %s", name,
                            error ? "read error" : "file too large");
        ds_destroy(&s);
        return NULL;
    }
    *lenp = s.length;
    return ds_steal_cstr(&s);
}

/* ------------------------------------------------------------------ */
/* YAML to cJSON.                                                      */
/* ------------------------------------------------------------------ */

/* Adds 'item' to 'parent' (an object, under '*keyp', or an array); for an
 * object whose key is still missing, 'item' (a string) becomes the key. */
static bool
yaml_add(cJSON *parent, char **keyp, cJSON *item)
{
    if (cJSON_IsArray(parent)) {
        cJSON_AddItemToArray(parent, item);
        return true;
    }
    if (!*keyp) {
        if (!cJSON_IsString(item)) {
            cJSON_Delete(item);
            return false;       /* Only scalar keys. */
        }
        *keyp = xstrdup(item->valuestring);
        cJSON_Delete(item);
        return true;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(parent, *keyp);
    cJSON_AddItemToObject(parent, *keyp, item);
    free(*keyp);
    *keyp = NULL;
    return true;
}

#define YAML_MAX_DEPTH 64

cJSON *
kube_yaml_to_json(const char *yaml, size_t len, char **errorp)
{
    struct {
        cJSON *node;
        char *key;
    } stack[YAML_MAX_DEPTH];
    size_t depth = 0;
    cJSON *root = NULL;
    char *error = NULL;
    yaml_parser_t parser;
    bool done = false;

    if (!yaml_parser_initialize(&parser)) {
        *errorp = xstrdup("out of memory");
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) yaml, len);
    while (!done && !error) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            error = xasprintf("YAML error at line %zu: %s",
                              parser.problem_mark.line + 1,
                              parser.problem ? parser.problem : "?");
            break;
        }
        cJSON *item = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
        case YAML_DOCUMENT_END_EVENT:
            done = true;
            break;
        case YAML_ALIAS_EVENT:
            error = xstrdup("YAML aliases are not supported");
            break;
        case YAML_SCALAR_EVENT:
            item = cJSON_CreateString((const char *) ev.data.scalar.value);
            break;
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (depth >= YAML_MAX_DEPTH) {
                error = xstrdup("YAML nested too deeply");
                break;
            }
            item = (ev.type == YAML_SEQUENCE_START_EVENT
                    ? cJSON_CreateArray() : cJSON_CreateObject());
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            free(stack[depth].key);
            if (!depth) {
                done = true;
            }
            break;
        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_START_EVENT:
        default:
            break;
        }
        bool container = (ev.type == YAML_SEQUENCE_START_EVENT
                          || ev.type == YAML_MAPPING_START_EVENT);
        yaml_event_delete(&ev);
        if (!item || error) {
            cJSON_Delete(item);
            continue;
        }
        if (!depth) {
            if (root) {
                cJSON_Delete(item);
                break;
            }
            root = item;
            if (!container) {
                done = true;
            }
        } else if (!yaml_add(stack[depth - 1].node, &stack[depth - 1].key,
                             item)) {
            error = xstrdup("YAML mapping keys must be scalars");
            continue;
        }
        if (container) {
            stack[depth].node = item;
            stack[depth].key = NULL;
            depth++;
        }
    }
    while (depth) {
        free(stack[--depth].key);
    }
    yaml_parser_delete(&parser);
    if (error || !root) {
        cJSON_Delete(root);
        *errorp = error ? error : xstrdup("empty YAML document");
        return NULL;
    }
    *errorp = NULL;
    return root;
}

/* ------------------------------------------------------------------ */
/* Settings.                                                           */
/* ------------------------------------------------------------------ */

void
kube_config_destroy(struct kube_config *c)
{
    if (!c) {
        return;
    }
    free(c->server);
    free(c->source);
    free(c->ca_file);
    free(c->ca_data);
    free(c->token);
    free(c->token_file);
    free(c->cert_file);
    free(c->key_file);
    free(c->cert_data);
    free(c->key_data);
    memset(c, 0, sizeof *c);
}

static char *
strip(char *s)
{
    size_t n = strlen(s);
    while (n && strchr(" \t\r\n", s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

/* A token goes into an HTTP header, where a CR or LF would end the header
 * and start another. */
static bool
token_is_printable(const char *t)
{
    for (const char *p = t; *p; p++) {
        if ((unsigned char) *p < 0x20 || *p == 0x7f) {
            return false;
        }
    }
    return true;
}

/* Returns the token to send, malloc'd, or NULL if there is none (then
 * '*errorp' says why if a token file could not be read). */
char *
kube_config_get_token(const struct kube_config *c, char **errorp)
{
    *errorp = NULL;
    if (c->token_file) {
        size_t len;
        char *t = read_file(c->token_file, &len, errorp);
        if (t && !strip(t)[0]) {
            free(t);
            *errorp = xasprintf("%s: empty token", c->token_file);
            return NULL;
        }
        if (t && !token_is_printable(t)) {
            free(t);
            *errorp = xasprintf("%s: token contains control characters",
                                c->token_file);
            return NULL;
        }
        return t;
    }
    return c->token ? xstrdup(c->token) : NULL;
}

char *
kube_config_in_cluster(const char *sa_dir, struct kube_config *c)
{
    memset(c, 0, sizeof *c);
    const char *host = getenv("KUBERNETES_SERVICE_HOST");
    const char *port = getenv("KUBERNETES_SERVICE_PORT");
    if (!host || !host[0] || !port || !port[0]) {
        return xstrdup("not running in a cluster: KUBERNETES_SERVICE_HOST "
                       "and KUBERNETES_SERVICE_PORT must be set");
    }
    c->server = xasprintf(strchr(host, ':') ? "https://[%s]:%s"
                          : "https://%s:%s", host, port);
    c->source = xstrdup("in-cluster");
    c->token_file = xasprintf("%s/token", sa_dir ? sa_dir
                              : KUBE_CONFIG_SA_DIR);
    c->ca_file = xasprintf("%s/ca.crt", sa_dir ? sa_dir : KUBE_CONFIG_SA_DIR);

    char *error;
    char *token = kube_config_get_token(c, &error);
    free(token);
    if (error) {
        kube_config_destroy(c);
        return error;
    }
    return NULL;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* The element of kubeconfig list 'list' (e.g. "clusters") called 'name',
 * that is, its inner object (e.g. "cluster"). */
static const cJSON *
find_named(const cJSON *root, const char *list, const char *inner,
           const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach (e, cJSON_GetObjectItemCaseSensitive(root, list)) {
        const char *n = json_str(e, "name");
        if (n && !strcmp(n, name)) {
            const cJSON *o = cJSON_GetObjectItemCaseSensitive(e, inner);
            return cJSON_IsObject(o) ? o : NULL;
        }
    }
    return NULL;
}

static char *
resolve_path(const char *base_dir, const char *path)
{
    return (path[0] == '/' || !base_dir
            ? xstrdup(path) : xasprintf("%s/%s", base_dir, path));
}

static char *
base64_decode(const char *in, size_t *lenp)
{
    struct ds clean = DS_EMPTY_INITIALIZER;
    for (const char *p = in; *p; p++) {
        if (!strchr(" \t\r\n", *p)) {
            ds_put_char(&clean, *p);
        }
    }
    /* EVP_DecodeBlock() takes '=' anywhere (as 'A') and ignores some
     * trailing characters (such as '-'): check the alphabet and the
     * padding here. */
    size_t pad = 0;
    while (pad < clean.length
           && clean.string[clean.length - pad - 1] == '=') {
        pad++;
    }
    bool ok = clean.length && !(clean.length % 4) && pad <= 2;
    for (size_t i = 0; ok && i < clean.length - pad; i++) {
        unsigned char ch = clean.string[i];
        ok = ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z')
              || (ch >= '0' && ch <= '9') || ch == '+' || ch == '/');
    }
    if (!ok) {
        ds_destroy(&clean);
        return NULL;
    }
    unsigned char *out = xmalloc(clean.length / 4 * 3 + 1);
    int n = EVP_DecodeBlock(out, (const unsigned char *) ds_cstr(&clean),
                            clean.length);
    if (n >= 0) {
        /* EVP_DecodeBlock() counts the padding as data. */
        n -= pad;
    }
    ds_destroy(&clean);
    if (n < 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *lenp = n;
    return (char *) out;
}

/* Reads "<key>" (a file) or "<key>-data" (base64) of 'o'. */
static char *
get_file_or_data(const cJSON *o, const char *key, const char *base_dir,
                 char **filep, char **datap, size_t *lenp)
{
    char *data_key = xasprintf("%s-data", key);
    const char *data = json_str(o, data_key);
    const char *file = json_str(o, key);
    char *error = NULL;

    if (data) {
        *datap = base64_decode(data, lenp);
        if (!*datap) {
            error = xasprintf("%s is not valid base64", data_key);
        }
    } else if (file) {
        *filep = resolve_path(base_dir, file);
    }
    free(data_key);
    return error;
}

char *
kube_config_from_string(const char *yaml, size_t len, const char *base_dir,
                        struct kube_config *c)
{
    char *error;

    memset(c, 0, sizeof *c);
    cJSON *root = kube_yaml_to_json(yaml, len, &error);
    if (!root) {
        return error;
    }
    if (!cJSON_IsObject(root)) {
        error = xstrdup("not a kubeconfig: not a mapping");
        goto out;
    }
    const char *ctx_name = json_str(root, "current-context");
    if (!ctx_name) {
        error = xstrdup("kubeconfig has no current-context");
        goto out;
    }
    const cJSON *ctx = find_named(root, "contexts", "context", ctx_name);
    if (!ctx) {
        error = xasprintf("kubeconfig has no context \"%s\"", ctx_name);
        goto out;
    }
    const char *cluster_name = json_str(ctx, "cluster");
    const cJSON *cluster = (cluster_name
                            ? find_named(root, "clusters", "cluster",
                                         cluster_name)
                            : NULL);
    if (!cluster) {
        error = (cluster_name
                 ? xasprintf("kubeconfig context \"%s\": no cluster \"%s\"",
                             ctx_name, cluster_name)
                 : xasprintf("kubeconfig context \"%s\" names no cluster",
                             ctx_name));
        goto out;
    }
    const char *server = json_str(cluster, "server");
    if (!server || (strncmp(server, "https://", 8)
                    && strncmp(server, "http://", 7))) {
        error = xasprintf("kubeconfig cluster \"%s\" has no http(s) server",
                          cluster_name);
        goto out;
    }
    c->server = xstrdup(server);
    size_t n = strlen(c->server);
    while (n && c->server[n - 1] == '/') {
        c->server[--n] = '\0';
    }
    const char *insecure = json_str(cluster, "insecure-skip-tls-verify");
    c->insecure = insecure && !strcmp(insecure, "true");
    error = get_file_or_data(cluster, "certificate-authority", base_dir,
                             &c->ca_file, &c->ca_data, &c->ca_data_len);
    if (error) {
        goto out;
    }

    const char *user_name = json_str(ctx, "user");
    const cJSON *user = (user_name
                         ? find_named(root, "users", "user", user_name)
                         : NULL);
    if (user_name && !user) {
        error = xasprintf("kubeconfig has no user \"%s\"", user_name);
        goto out;
    }
    if (user) {
        if (cJSON_GetObjectItemCaseSensitive(user, "exec")
            || cJSON_GetObjectItemCaseSensitive(user, "auth-provider")) {
            error = xasprintf("kubeconfig user \"%s\": exec and "
                              "auth-provider plugins are not supported",
                              user_name);
            goto out;
        }
        const char *token = json_str(user, "token");
        const char *token_file = json_str(user, "tokenFile");
        if (token && !token_is_printable(token)) {
            error = xasprintf("kubeconfig user \"%s\": token contains "
                              "control characters", user_name);
            goto out;
        } else if (token) {
            c->token = xstrdup(token);
        } else if (token_file) {
            c->token_file = resolve_path(base_dir, token_file);
        }
        error = get_file_or_data(user, "client-certificate", base_dir,
                                 &c->cert_file, &c->cert_data,
                                 &c->cert_data_len);
        if (!error) {
            error = get_file_or_data(user, "client-key", base_dir,
                                     &c->key_file, &c->key_data,
                                     &c->key_data_len);
        }
        if (error) {
            goto out;
        }
        if ((c->cert_file || c->cert_data) != (c->key_file || c->key_data)) {
            error = xasprintf("kubeconfig user \"%s\": a client certificate "
                              "needs a key and the other way round",
                              user_name);
            goto out;
        }
    }

out:
    cJSON_Delete(root);
    if (error) {
        kube_config_destroy(c);
    }
    return error;
}

char *
kube_config_from_file(const char *file_name, struct kube_config *c)
{
    char *error;
    size_t len;

    memset(c, 0, sizeof *c);
    char *yaml = read_file(file_name, &len, &error);
    if (!yaml) {
        return error;
    }
    char *copy = xstrdup(file_name);
    char *slash = strrchr(copy, '/');
    if (slash) {
        *slash = '\0';
    }
    error = kube_config_from_string(yaml, len, slash ? copy : ".", c);
    if (error) {
        char *e = xasprintf("%s: %s", file_name, error);
        free(error);
        error = e;
    } else {
        c->source = xstrdup(file_name);
    }
    free(copy);
    free(yaml);
    return error;
}
