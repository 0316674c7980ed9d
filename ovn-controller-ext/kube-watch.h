/*
 * kube-watch: a cache of one kind of Kubernetes object kept up to date the
 * way client-go's reflector does it.
 *
 *   LIST (paged, limit=500) -> the cache and its resourceVersion;
 *   WATCH from that resourceVersion with bookmarks: ADDED, MODIFIED and
 *   DELETED change the cache, BOOKMARK moves the resourceVersion;
 *   the server ends a watch (timeoutSeconds): watch again from there;
 *   410 Gone (as a status or an ERROR event): LIST again;
 *   anything else (connection, 401, 5xx): back off (1 s doubling to 30 s,
 *   with jitter), then watch again, or LIST if nothing was listed yet.
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
char *kube_object_key(const struct cJSON *object);
const char *kube_get_str(const struct cJSON *, ...) SENTINEL(0);
const struct cJSON *kube_get(const struct cJSON *, ...) SENTINEL(0);

#endif /* kube-watch.h */
