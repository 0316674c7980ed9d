/*
 * kube-watch: a cache of one kind of Kubernetes object kept up to date the
 * way client-go's reflector does it.
 *
 *   LIST (paged, limit=500) -> the cache and its resourceVersion;
 *   WATCH from that resourceVersion with bookmarks: ADDED, MODIFIED and
 *   DELETED change the cache, BOOKMARK moves the resourceVersion;
 *   the server ends a watch (timeoutSeconds): watch again from there;
 *   it ends one cleanly long before that (a server going away; libcurl
 *   7.88 also reports some streams of a closed HTTP/2 connection so): a
 *   failure, as below;
 *   410 Gone (as a status or an ERROR event): LIST again (a restarted
 *   API server answers every older resourceVersion so); the new list
 *   replaces the cache by difference, and the seqno changes only if an
 *   object did;
 *   a line that does not parse: watch again from the last event that
 *   did, at once the first time, then backing off, and LIST after 3 in a
 *   row;
 *   anything else (connection, HTTP/2 stream reset, 401, 403, 5xx): back
 *   off (1 s doubling to 30 s, with jitter), then watch again, or LIST if
 *   nothing was listed yet.
 *
 * The backoff starts again from 1 s once a LIST succeeds or a watch is
 * established (its 200 and headers are in: a quiet watch sends nothing
 * else for minutes), and a watch that backs off tries again at once when
 * another request to the same server gets a 2xx answer: the server is
 * back, so all the watches come back together after it restarts.
 *
 * The cache stays as it was while the watch is down: users ask
 * kube_watch_is_live() before acting on what is not there any more.
 */
#ifndef KUBE_WATCH_H
#define KUBE_WATCH_H 1

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

struct cJSON;
struct ds;
struct kube_client;
struct kube_watch;
struct shash;

struct kube_watch *kube_watch_create(struct kube_client *, const char *name,
                                     const char *path, const char *selector);
void kube_watch_destroy(struct kube_watch *);
void kube_watch_run(struct kube_watch *);
void kube_watch_wait(struct kube_watch *);

bool kube_watch_has_synced(const struct kube_watch *);
bool kube_watch_is_live(const struct kube_watch *);
unsigned int kube_watch_seqno(const struct kube_watch *);
const struct cJSON *kube_watch_get(const struct kube_watch *,
                                   const char *ns, const char *name);
const struct shash *kube_watch_objects(const struct kube_watch *);
void kube_watch_format(const struct kube_watch *, struct ds *);

struct kube_watch_stats {
    unsigned int n_lists, n_watches, n_events, n_relists, n_errors;
};
const char *kube_watch_name(const struct kube_watch *);
void kube_watch_get_stats(const struct kube_watch *,
                          struct kube_watch_stats *);

/* Parsing, exposed for tests and fuzzing. */
enum kube_event_type {
    KUBE_EVENT_ADDED,
    KUBE_EVENT_MODIFIED,
    KUBE_EVENT_DELETED,
    KUBE_EVENT_BOOKMARK,
    KUBE_EVENT_ERROR,
};
struct kube_event {
    enum kube_event_type type;
    struct cJSON *object;       /* Owned. */
    char *key;                  /* "namespace/name" or "name"; not for
                                 * ERROR. */
    char *resource_version;     /* Not for ERROR. */
    int code;                   /* ERROR: the Status's code. */
    char *message;              /* ERROR: the Status's message. */
};
char *kube_event_parse(const char *line, size_t len, struct kube_event *);
void kube_event_destroy(struct kube_event *);
char *kube_list_parse(const char *body, size_t len, struct shash *objects,
                      char **resource_version, char **cont);
void kube_objects_clear(struct shash *objects);

/* A watch stream cut into lines, each byte looked at once however the
 * stream is chunked. */
struct kube_lines {
    char *buf;
    size_t length, allocated;
    size_t start;               /* The first line not returned yet. */
    size_t scanned;             /* buf[start, scanned) has no newline. */
    unsigned long long int n_scanned;   /* Bytes looked at, in all. */
};
void kube_lines_init(struct kube_lines *);
void kube_lines_destroy(struct kube_lines *);
void kube_lines_clear(struct kube_lines *);
void kube_lines_put(struct kube_lines *, const char *data, size_t n);
bool kube_lines_next(struct kube_lines *, const char **line, size_t *len);
size_t kube_lines_pending(const struct kube_lines *);
char *kube_object_key(const struct cJSON *object);
const char *kube_get_str(const struct cJSON *, ...) SENTINEL(0);
const struct cJSON *kube_get(const struct cJSON *, ...) SENTINEL(0);

#endif /* kube-watch.h */
