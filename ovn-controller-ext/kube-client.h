/*
 * kube-client: HTTP requests to the Kubernetes API with libcurl's multi
 * interface, driven from the daemon's poll loop (kube_client_run() and
 * kube_client_wait(), no thread).  TLS, the CA, client certificates and the
 * bearer token come from a struct kube_config.
 *
 * A request's body is either buffered and handed over when it ends or, for
 * watches, streamed in chunks as it arrives.  Callbacks run from
 * kube_client_run() only.
 *
 * libcurl negotiates HTTP/2 over TLS when the server offers it (ALPN), as
 * kube-apiserver does, and then multiplexes every request on one
 * connection: a server that goes away fails them all at once ("stream
 * ... was not closed cleanly"), each through its done callback.
 */
#ifndef KUBE_CLIENT_H
#define KUBE_CLIENT_H 1

#include <stdbool.h>
#include <stddef.h>

struct kube_client;
struct kube_config;
struct kube_request;
struct ds;

/* A chunk of a 2xx response's body; return false to abort the request
 * (its done callback then runs with 'error' "aborted"). */
typedef bool kube_data_cb(const char *data, size_t n, void *aux);

/* The end of a request: 'status' is the HTTP status (0 if none came),
 * 'body' what was not streamed (NUL-terminated), 'error' non-NULL if the
 * transfer failed.  The request is freed after this returns. */
typedef void kube_done_cb(int status, const char *body, size_t len,
                          const char *error, void *aux);

/* The final response's status line and headers are in, before any of its
 * body (a quiet watch may send none for minutes). */
typedef void kube_headers_cb(int status, void *aux);

struct kube_client *kube_client_create(struct kube_config *,
                                       const char *user_agent);
void kube_client_destroy(struct kube_client *);
void kube_client_run(struct kube_client *);
void kube_client_wait(struct kube_client *);
const char *kube_client_server(const struct kube_client *);

struct kube_request *kube_client_request(struct kube_client *,
                                         const char *method,
                                         const char *path,
                                         const char *content_type,
                                         const char *body,
                                         long timeout_s,
                                         kube_data_cb *, kube_done_cb *,
                                         void *aux);
void kube_request_cancel(struct kube_request *);
void kube_request_set_headers_cb(struct kube_request *, kube_headers_cb *);

/* How many responses with a 2xx status the server has given so far: a
 * change says that it answers again. */
unsigned int kube_client_n_answers(const struct kube_client *);

/* A request failed for want of a working server (no connection, 5xx, or
 * 403 from a server that has not loaded its RBAC roles yet): the client
 * asks /readyz every 0.5 to 1 s (after about 30 s, every 2 to 4 s) until it
 * answers 200 or 401, or another request gets a 2xx.  A 200 after a failed
 * probe counts as an answer, so that the watches backing off try again at
 * once rather than up to their backoff after the server is back; a 200 at
 * the first probe (the server is fine, the request was refused for
 * itself) does not. */
void kube_client_server_trouble(struct kube_client *);

char *kube_escape(const char *);

#endif /* kube-client.h */
