/*
 * A list+watch cache of one kind of Kubernetes object (see kube-watch.h).
 */
#include <config.h>
#include "kube-watch.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kube-client.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(kube_watch);

#define KUBE_WATCH_PAGE 500
#define KUBE_WATCH_BACKOFF_MIN_MS 1000
#define KUBE_WATCH_BACKOFF_MAX_MS 30000
/* A watch asks the server to end it after 5 to 10 minutes, as client-go
 * does, so that connections are renewed. */
#define KUBE_WATCH_TIMEOUT_S 300
/* A watch that ends cleanly more than this before its timeoutSeconds
 * failed. */
#define KUBE_WATCH_EARLY_MS 10000
/* A watch line longer than this is garbage. */
#define KUBE_WATCH_MAX_LINE (16 * 1024 * 1024)

enum kube_watch_state {
    KW_IDLE,                    /* Waiting for 'next_attempt'. */
    KW_LISTING,
    KW_WATCHING,
};

struct kube_watch {
    struct kube_client *client;
    char *name;                 /* For logs: "pods". */
    char *path;                 /* "/api/v1/pods". */
    char *selector;             /* Query parameters, or NULL. */

    enum kube_watch_state state;
    struct kube_request *req;
    long long int next_attempt;
    int backoff_ms;
    bool need_list;             /* Next attempt lists (else watches). */
    bool relist;                /* The watch saw 410: list at once. */
    bool rewatch;               /* A line did not parse: watch again. */
    int bad_lines;              /* Such lines in a row. */
    unsigned int answers;       /* The client's 2xx answers at back off. */
    long long int watch_ends;   /* When the server should end the watch. */

    struct shash objects;       /* key -> cJSON *. */
    struct shash listing;       /* A LIST in progress, page by page. */
    char *rv;                   /* Where the cache is; NULL: none yet. */
    char *cont;                 /* LIST continue token. */
    struct kube_lines lines;    /* The watch stream. */
    bool synced;
    bool live;                  /* Watch connected and answering. */
    unsigned int seqno;

    /* Statistics. */
    unsigned int n_lists, n_watches, n_events, n_relists, n_errors;
    char *last_error;
    long long int live_since;
};

static void start_list(struct kube_watch *);
static void start_watch(struct kube_watch *);

/* ------------------------------------------------------------------ */
/* Parsing.                                                            */
/* ------------------------------------------------------------------ */

static const cJSON *
kube_vget(const cJSON *j, va_list args)
{
    const char *key;
    while (j && (key = va_arg(args, const char *))) {
        j = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key)
                              : NULL;
    }
    return j;
}

/* kube_get(obj, "metadata", "labels", "app", NULL): the member at that
 * path, or NULL. */
const cJSON *
kube_get(const cJSON *j, ...)
{
    va_list args;
    va_start(args, j);
    j = kube_vget(j, args);
    va_end(args);
    return j;
}

/* As kube_get() for a string member; NULL if absent or not a string. */
const char *
kube_get_str(const cJSON *j, ...)
{
    va_list args;
    va_start(args, j);
    j = kube_vget(j, args);
    va_end(args);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

char *
kube_object_key(const cJSON *object)
{
    const char *name = kube_get_str(object, "metadata", "name", NULL);
    const char *ns = kube_get_str(object, "metadata", "namespace", NULL);
    if (!name || !name[0]) {
        return NULL;
    }
    return ns && ns[0] ? xasprintf("%s/%s", ns, name) : xstrdup(name);
}

/* What the cache keeps of an object: all but the field managers, which
 * are often most of it. */
static void
trim(cJSON *object)
{
    cJSON *md = cJSON_GetObjectItemCaseSensitive(object, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(md, "managedFields");
}

void
kube_event_destroy(struct kube_event *e)
{
    if (e) {
        cJSON_Delete(e->object);
        free(e->key);
        free(e->resource_version);
        free(e->message);
        memset(e, 0, sizeof *e);
    }
}

/* Parses one line of a watch stream. */
char *
kube_event_parse(const char *line, size_t len, struct kube_event *e)
{
    static const char *const types[] = {
        [KUBE_EVENT_ADDED] = "ADDED",
        [KUBE_EVENT_MODIFIED] = "MODIFIED",
        [KUBE_EVENT_DELETED] = "DELETED",
        [KUBE_EVENT_BOOKMARK] = "BOOKMARK",
        [KUBE_EVENT_ERROR] = "ERROR",
    };
    char *error = NULL;

    memset(e, 0, sizeof *e);
    cJSON *j = cJSON_ParseWithLength(line, len);
    if (!j) {
        return xstrdup("watch event is not JSON");
    }
    const char *type = kube_get_str(j, "type", NULL);
    size_t i;
    for (i = 0; i < ARRAY_SIZE(types); i++) {
        if (type && !strcmp(type, types[i])) {
            break;
        }
    }
    e->object = cJSON_DetachItemFromObjectCaseSensitive(j, "object");
    if (i == ARRAY_SIZE(types)) {
        error = xasprintf("watch event of unknown type \"%s\"",
                          type ? type : "(none)");
        goto out;
    }
    e->type = i;
    if (!cJSON_IsObject(e->object)) {
        error = xasprintf("%s watch event without an object", types[i]);
        goto out;
    }
    if (e->type == KUBE_EVENT_ERROR) {
        const cJSON *code = kube_get(e->object, "code", NULL);
        const char *msg = kube_get_str(e->object, "message", NULL);
        e->code = cJSON_IsNumber(code) ? code->valueint : 0;
        e->message = xstrdup(msg ? msg : "(no message)");
        goto out;
    }
    const char *rv = kube_get_str(e->object, "metadata", "resourceVersion",
                                  NULL);
    if (!rv || !rv[0]) {
        error = xasprintf("%s watch event without a resourceVersion",
                          types[i]);
        goto out;
    }
    e->resource_version = xstrdup(rv);
    if (e->type != KUBE_EVENT_BOOKMARK) {
        e->key = kube_object_key(e->object);
        if (!e->key) {
            error = xasprintf("%s watch event for an object without a name",
                              types[i]);
            goto out;
        }
        trim(e->object);
    }

out:
    cJSON_Delete(j);
    if (error) {
        kube_event_destroy(e);
    }
    return error;
}

/* Parses a LIST response: adds its items to 'objects' (key -> cJSON *,
 * replacing), and returns its resourceVersion and continue token. */
char *
kube_list_parse(const char *body, size_t len, struct shash *objects,
                char **resource_version, char **cont)
{
    *resource_version = *cont = NULL;
    cJSON *j = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return xstrdup("list response is not a JSON object");
    }
    const char *rv = kube_get_str(j, "metadata", "resourceVersion", NULL);
    cJSON *items = cJSON_GetObjectItemCaseSensitive(j, "items");
    if (!rv || !rv[0] || !(cJSON_IsArray(items) || cJSON_IsNull(items))) {
        cJSON_Delete(j);
        return xstrdup("list response without resourceVersion or items");
    }
    while (cJSON_IsArray(items) && cJSON_GetArraySize(items)) {
        cJSON *item = cJSON_DetachItemFromArray(items, 0);
        char *key = kube_object_key(item);
        if (!key || !cJSON_IsObject(item)) {
            free(key);
            cJSON_Delete(item);
            continue;
        }
        trim(item);
        cJSON_Delete(shash_replace_nocopy(objects, key, item));
    }
    *resource_version = xstrdup(rv);
    const char *c = kube_get_str(j, "metadata", "continue", NULL);
    *cont = c && c[0] ? xstrdup(c) : NULL;
    cJSON_Delete(j);
    return NULL;
}

/* Empties 'objects' (key -> cJSON *), freeing the objects. */
void
kube_objects_clear(struct shash *objects)
{
    struct shash_node *node;
    SHASH_FOR_EACH_SAFE (node, objects) {
        cJSON_Delete(node->data);
        shash_delete(objects, node);
    }
}

void
kube_lines_init(struct kube_lines *l)
{
    memset(l, 0, sizeof *l);
}

void
kube_lines_destroy(struct kube_lines *l)
{
    if (l) {
        free(l->buf);
        memset(l, 0, sizeof *l);
    }
}

/* Forgets what is buffered (the bytes looked at stay counted). */
void
kube_lines_clear(struct kube_lines *l)
{
    l->length = l->start = l->scanned = 0;
}

/* Appends 'n' bytes of the stream. */
void
kube_lines_put(struct kube_lines *l, const char *data, size_t n)
{
    if (l->start) {
        /* Drop the lines already returned. */
        memmove(l->buf, l->buf + l->start, l->length - l->start);
        l->length -= l->start;
        l->scanned -= l->start;
        l->start = 0;
    }
    if (l->length + n > l->allocated) {
        l->allocated = MAX(l->length + n, 2 * l->allocated);
        l->buf = xrealloc(l->buf, l->allocated);
    }
    memcpy(l->buf + l->length, data, n);
    l->length += n;
}

/* The next complete line, without its newline, in '*line' and '*len' (valid
 * until the next call); false if there is none (yet).  Only bytes not
 * looked at before are searched. */
bool
kube_lines_next(struct kube_lines *l, const char **line, size_t *len)
{
    const char *nl = memchr(l->buf + l->scanned, '\n',
                            l->length - l->scanned);
    if (!nl) {
        l->n_scanned += l->length - l->scanned;
        l->scanned = l->length;
        return false;
    }
    size_t end = nl - l->buf;
    l->n_scanned += end + 1 - l->scanned;
    *line = l->buf + l->start;
    *len = end - l->start;
    l->start = l->scanned = end + 1;
    return true;
}

/* The bytes of the line not complete yet. */
size_t
kube_lines_pending(const struct kube_lines *l)
{
    return l->length - l->start;
}

/* ------------------------------------------------------------------ */
/* The state machine.                                                  */
/* ------------------------------------------------------------------ */

struct kube_watch *
kube_watch_create(struct kube_client *client, const char *name,
                  const char *path, const char *selector)
{
    struct kube_watch *w = xzalloc(sizeof *w);
    w->client = client;
    w->name = xstrdup(name);
    w->path = xstrdup(path);
    w->selector = nullable_xstrdup(selector);
    w->state = KW_IDLE;
    w->need_list = true;
    w->next_attempt = 0;
    shash_init(&w->objects);
    shash_init(&w->listing);
    kube_lines_init(&w->lines);
    return w;
}

void
kube_watch_destroy(struct kube_watch *w)
{
    if (!w) {
        return;
    }
    kube_request_cancel(w->req);
    kube_objects_clear(&w->objects);
    shash_destroy(&w->objects);
    kube_objects_clear(&w->listing);
    shash_destroy(&w->listing);
    kube_lines_destroy(&w->lines);
    free(w->name);
    free(w->path);
    free(w->selector);
    free(w->rv);
    free(w->cont);
    free(w->last_error);
    free(w);
}

static void
set_error(struct kube_watch *w, char *error)
{
    w->n_errors++;
    free(w->last_error);
    w->last_error = error;
}

/* Try again after a growing, jittered delay; 'error' says why, for the
 * log. */
static void
retry_later(struct kube_watch *w, const char *error)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);

    w->backoff_ms = (w->backoff_ms
                     ? MIN(w->backoff_ms * 2, KUBE_WATCH_BACKOFF_MAX_MS)
                     : KUBE_WATCH_BACKOFF_MIN_MS);
    int delay = w->backoff_ms / 2 + random_range(w->backoff_ms / 2 + 1);
    VLOG_WARN_RL(&rl, "%s: %s; retrying in %d ms", w->name, error, delay);
    w->req = NULL;
    w->state = KW_IDLE;
    w->live = false;
    w->next_attempt = time_msec() + delay;
    w->need_list = w->need_list || !w->synced;
    w->answers = kube_client_n_answers(w->client);
}

/* Something failed ('error', which this takes): try again later. */
static void
back_off(struct kube_watch *w, char *error)
{
    retry_later(w, error);
    set_error(w, error);
}

/* Whether a request that ended so failed for want of a working server
 * rather than for itself. */
static bool
server_trouble(int status, const char *error)
{
    return ((error && strcmp(error, "aborted"))
            || status >= 500 || status == 403 || status == 429);
}

/* The error in a Status response 'body', for logs. */
static char *
status_error(const char *what, int status, const char *body,
             const char *error)
{
    if (error) {
        return xasprintf("%s failed: %s", what, error);
    }
    cJSON *j = cJSON_Parse(body);
    const char *msg = kube_get_str(j, "message", NULL);
    char *s = xasprintf("%s failed: HTTP %d%s%s", what, status,
                        msg ? ": " : "", msg ? msg : "");
    cJSON_Delete(j);
    return s;
}

/* The path of a LIST, or of a watch that asks the server to end it after
 * 'timeout_s' seconds. */
static char *
make_path(const struct kube_watch *w, bool watch, int timeout_s)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "%s?", w->path);
    if (w->selector) {
        ds_put_format(&s, "%s&", w->selector);
    }
    if (watch) {
        ds_put_format(&s, "watch=1&allowWatchBookmarks=true&"
                      "resourceVersion=%s&timeoutSeconds=%d", w->rv,
                      timeout_s);
    } else {
        ds_put_format(&s, "limit=%d", KUBE_WATCH_PAGE);
        if (w->cont) {
            char *c = kube_escape(w->cont);
            ds_put_format(&s, "&continue=%s", c);
            free(c);
        }
    }
    return ds_steal_cstr(&s);
}

static bool
same_version(const cJSON *a, const cJSON *b)
{
    const char *x = kube_get_str(a, "metadata", "resourceVersion", NULL);
    const char *y = kube_get_str(b, "metadata", "resourceVersion", NULL);
    return x && y && !strcmp(x, y);
}

/* Replaces the cache by the list just made; returns how many objects
 * changed, appeared or went. */
static size_t
replace_cache(struct kube_watch *w)
{
    size_t kept = 0, same = 0;
    struct shash_node *node;

    SHASH_FOR_EACH (node, &w->listing) {
        const cJSON *old = shash_find_data(&w->objects, node->name);
        if (old) {
            kept++;
            same += same_version(old, node->data);
        }
    }
    size_t changed = ((shash_count(&w->listing) - same)
                      + (shash_count(&w->objects) - kept));
    kube_objects_clear(&w->objects);
    shash_swap(&w->objects, &w->listing);
    return changed;
}

static void
list_done(int status, const char *body, size_t len, const char *error,
          void *w_)
{
    struct kube_watch *w = w_;
    char *rv, *cont;

    w->req = NULL;
    if (!error && status == 200) {
        w->backoff_ms = 0;      /* The server answers. */
    }
    if (error || status != 200) {
        if (status == 410 && w->cont) {
            /* The continue token expired: from the start. */
            free(w->cont);
            w->cont = NULL;
            kube_objects_clear(&w->listing);
        }
        if (server_trouble(status, error)) {
            kube_client_server_trouble(w->client);
        }
        back_off(w, status_error("list", status, body, error));
        return;
    }
    char *perr = kube_list_parse(body, len, &w->listing, &rv, &cont);
    if (perr) {
        kube_objects_clear(&w->listing);
        free(w->cont);
        w->cont = NULL;
        back_off(w, perr);
        return;
    }
    free(w->cont);
    w->cont = cont;
    if (cont) {
        free(rv);
        start_list(w);          /* Next page. */
        return;
    }

    /* The whole list: it replaces the cache.  A relist (after 410, as
     * after every API server restart) that changes nothing leaves the
     * seqno alone, so users do not look again. */
    size_t changed = replace_cache(w);
    free(w->rv);
    w->rv = rv;
    w->n_lists++;
    if (changed || !w->synced) {
        w->seqno++;
    }
    w->synced = true;
    w->need_list = false;
    VLOG_INFO("%s: listed %zu at resourceVersion %s, %zu changed", w->name,
              shash_count(&w->objects), w->rv, changed);
    start_watch(w);
}

static void
start_list(struct kube_watch *w)
{
    char *path = make_path(w, false, 0);
    w->state = KW_LISTING;
    w->req = kube_client_request(w->client, "GET", path, NULL, NULL, 60,
                                 NULL, list_done, w);
    free(path);
}

static void
apply_event(struct kube_watch *w, struct kube_event *e)
{
    free(w->rv);
    w->rv = e->resource_version;
    e->resource_version = NULL;
    w->n_events++;
    w->bad_lines = 0;
    if (!w->live) {
        w->live = true;
        w->live_since = time_msec();
    }

    switch (e->type) {
    case KUBE_EVENT_ADDED:
    case KUBE_EVENT_MODIFIED:
        cJSON_Delete(shash_replace(&w->objects, e->key, e->object));
        e->object = NULL;
        w->seqno++;
        break;
    case KUBE_EVENT_DELETED:
        cJSON_Delete(shash_find_and_delete(&w->objects, e->key));
        w->seqno++;
        break;
    case KUBE_EVENT_BOOKMARK:
    case KUBE_EVENT_ERROR:
    default:
        break;
    }
}

/* The watch's 200 and headers: it is established, even if no event ever
 * comes. */
static void
watch_headers(int status, void *w_)
{
    struct kube_watch *w = w_;

    if (status == 200) {
        if (!w->live) {
            w->live = true;
            w->live_since = time_msec();
        }
        w->backoff_ms = 0;
    }
}

static bool
watch_data(const char *data, size_t n, void *w_)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 30);
    struct kube_watch *w = w_;
    const char *line;
    size_t len;

    if (!w->live) {
        watch_headers(200, w);
    }
    kube_lines_put(&w->lines, data, n);
    while (kube_lines_next(&w->lines, &line, &len)) {
        if (!len) {
            continue;
        }
        struct kube_event e;
        char *error = kube_event_parse(line, len, &e);
        if (error) {
            /* Skipping it could lose a change until the next relist:
             * watch again from the last event that parsed. */
            VLOG_WARN_RL(&rl, "%s: %s; watching again from "
                         "resourceVersion %s", w->name, error, w->rv);
            set_error(w, error);
            w->bad_lines++;
            w->rewatch = true;
            kube_lines_clear(&w->lines);
            return false;
        }
        if (e.type == KUBE_EVENT_ERROR) {
            bool gone = e.code == 410;
            set_error(w, xasprintf("watch ERROR %d: %s", e.code, e.message));
            VLOG_INFO("%s: watch ended by the server: %d %s", w->name,
                      e.code, e.message);
            kube_event_destroy(&e);
            w->relist = gone;
            kube_lines_clear(&w->lines);
            return false;
        }
        apply_event(w, &e);
        kube_event_destroy(&e);
    }
    if (kube_lines_pending(&w->lines) > KUBE_WATCH_MAX_LINE) {
        set_error(w, xstrdup("watch event too long"));
        kube_lines_clear(&w->lines);
        return false;
    }
    return true;
}

static void
watch_done(int status, const char *body, size_t len OVS_UNUSED,
           const char *error, void *w_)
{
    struct kube_watch *w = w_;

    w->req = NULL;
    kube_lines_clear(&w->lines);
    if (w->rewatch) {
        w->rewatch = false;
        w->live = false;
        if (w->bad_lines == 1) {
            start_watch(w);
        } else {
            if (w->bad_lines >= 3) {
                w->bad_lines = 0;
                w->need_list = true;
            }
            retry_later(w, w->last_error);
        }
    } else if (w->relist || status == 410) {
        /* Our resourceVersion is too old: start over. */
        w->relist = false;
        w->n_relists++;
        w->live = false;
        w->need_list = true;
        w->seqno++;
        VLOG_INFO("%s: resourceVersion %s is gone: listing again", w->name,
                  w->rv);
        start_list(w);
    } else if (!error && status == 200
               && time_msec() >= w->watch_ends - KUBE_WATCH_EARLY_MS) {
        /* The server ended the watch (timeoutSeconds): carry on. */
        start_watch(w);
    } else if (!error && status == 200) {
        /* Ended long before its time: the server is going away (libcurl
         * 7.88 also reports some of the streams of an HTTP/2 connection
         * that closed under them so). */
        w->seqno++;
        kube_client_server_trouble(w->client);
        back_off(w, xasprintf("watch ended by the server %lld s early",
                              (w->watch_ends - time_msec()) / 1000));
    } else {
        w->seqno++;
        if (server_trouble(status, error)) {
            kube_client_server_trouble(w->client);
        }
        back_off(w, status_error("watch", status, body, error));
    }
}

static void
start_watch(struct kube_watch *w)
{
    int timeout_s = (KUBE_WATCH_TIMEOUT_S
                     + (int) random_range(KUBE_WATCH_TIMEOUT_S));
    char *path = make_path(w, true, timeout_s);
    w->watch_ends = time_msec() + timeout_s * 1000LL;
    w->state = KW_WATCHING;
    w->n_watches++;
    w->req = kube_client_request(w->client, "GET", path, NULL, NULL,
                                 2 * KUBE_WATCH_TIMEOUT_S + 60,
                                 watch_data, watch_done, w);
    kube_request_set_headers_cb(w->req, watch_headers);
    free(path);
}

void
kube_watch_run(struct kube_watch *w)
{
    if (w->state == KW_IDLE
        && (time_msec() >= w->next_attempt
            || (w->n_errors
                && kube_client_n_answers(w->client) != w->answers))) {
        if (w->need_list || !w->rv) {
            start_list(w);
        } else {
            start_watch(w);
        }
    }
}

void
kube_watch_wait(struct kube_watch *w)
{
    if (w->state == KW_IDLE) {
        poll_timer_wait_until(w->next_attempt);
    }
}

bool
kube_watch_has_synced(const struct kube_watch *w)
{
    return w->synced;
}

bool
kube_watch_is_live(const struct kube_watch *w)
{
    /* A watch that is (re)connecting counts: the list or the last event
     * was recent, and a watch that fails to connect backs off at once. */
    return w->synced && w->state == KW_WATCHING;
}

unsigned int
kube_watch_seqno(const struct kube_watch *w)
{
    return w->seqno;
}

const cJSON *
kube_watch_get(const struct kube_watch *w, const char *ns, const char *name)
{
    char *key = ns && ns[0] ? xasprintf("%s/%s", ns, name) : xstrdup(name);
    const cJSON *o = shash_find_data(&w->objects, key);
    free(key);
    return o;
}

const struct shash *
kube_watch_objects(const struct kube_watch *w)
{
    return &w->objects;
}

const char *
kube_watch_name(const struct kube_watch *w)
{
    return w->name;
}

void
kube_watch_get_stats(const struct kube_watch *w, struct kube_watch_stats *st)
{
    st->n_lists = w->n_lists;
    st->n_watches = w->n_watches;
    st->n_events = w->n_events;
    st->n_relists = w->n_relists;
    st->n_errors = w->n_errors;
}

void
kube_watch_format(const struct kube_watch *w, struct ds *s)
{
    static const char *const states[] = {
        [KW_IDLE] = "backing off", [KW_LISTING] = "listing",
        [KW_WATCHING] = "watching",
    };
    const char *state = states[w->state];
    if (w->state == KW_WATCHING && !w->live) {
        state = "connecting";
    } else if (w->state == KW_IDLE && !w->n_errors) {
        state = "starting";
    }
    ds_put_format(s, "%s: %s, %s, %zu objects, resourceVersion %s, "
                  "lists %u, watches %u, events %u, relists %u, errors %u",
                  w->name, state, w->synced ? "synced" : "not synced",
                  shash_count(&w->objects), w->rv ? w->rv : "-",
                  w->n_lists, w->n_watches, w->n_events, w->n_relists,
                  w->n_errors);
    if (w->last_error) {
        ds_put_format(s, ", last error: %s", w->last_error);
    }
    if (w->live) {
        ds_put_format(s, ", live for %lld s",
                      (time_msec() - w->live_since) / 1000);
    }
}
