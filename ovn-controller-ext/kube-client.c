/*
 * Kubernetes API requests over libcurl (see kube-client.h).
 */
#include <config.h>
#include "kube-client.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "kube-config.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(kube_client);

/* An error body larger than this is cut: only its start is useful. */
#define KUBE_MAX_ERROR_BODY (64 * 1024)
/* A buffered body (a list) larger than this fails the request. */
#define KUBE_MAX_BODY (256 * 1024 * 1024)

struct kube_socket {
    curl_socket_t fd;
    int what;                   /* CURL_POLL_*. */
};

struct kube_client {
    struct kube_config config;
    char *user_agent;
    CURLM *multi;
    struct ovs_list requests;   /* Contains "struct kube_request"s. */

    struct kube_socket *sockets;
    size_t n_sockets, allocated_sockets;
    long long int deadline;     /* LLONG_MAX: no timer. */
    unsigned int n_answers;     /* Responses with a 2xx status. */

    /* Readiness probe (kube_client_server_trouble()). */
    bool probing;
    unsigned int probe_fails;   /* Failed probes since probing began. */
    long long int next_probe;
    struct kube_request *probe;
};

struct kube_request {
    struct ovs_list node;       /* In kube_client's 'requests'. */
    struct kube_client *client;
    CURL *easy;
    struct curl_slist *headers;
    char *body_out;             /* What we send. */
    struct ds body;             /* What was not streamed. */
    kube_data_cb *data_cb;
    kube_done_cb *done_cb;
    kube_headers_cb *headers_cb;
    bool headers_done;          /* The final status and headers are in. */
    bool is_probe;              /* Not counted in 'n_answers'. */
    void *aux;
    char *early_error;          /* Failed before the transfer started. */
    bool aborted;
    char errbuf[CURL_ERROR_SIZE];
};

static int
socket_cb(CURL *easy OVS_UNUSED, curl_socket_t fd, int what, void *client_,
          void *socketp OVS_UNUSED)
{
    struct kube_client *c = client_;

    for (size_t i = 0; i < c->n_sockets; i++) {
        if (c->sockets[i].fd == fd) {
            if (what == CURL_POLL_REMOVE) {
                c->sockets[i] = c->sockets[--c->n_sockets];
            } else {
                c->sockets[i].what = what;
            }
            return 0;
        }
    }
    if (what != CURL_POLL_REMOVE) {
        if (c->n_sockets >= c->allocated_sockets) {
            c->sockets = x2nrealloc(c->sockets, &c->allocated_sockets,
                                    sizeof *c->sockets);
        }
        c->sockets[c->n_sockets++] = (struct kube_socket) { fd, what };
    }
    return 0;
}

static int
timer_cb(CURLM *multi OVS_UNUSED, long timeout_ms, void *client_)
{
    struct kube_client *c = client_;
    c->deadline = timeout_ms < 0 ? LLONG_MAX : time_msec() + timeout_ms;
    return 0;
}

struct kube_client *
kube_client_create(struct kube_config *config, const char *user_agent)
{
    static bool inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }

    struct kube_client *c = xzalloc(sizeof *c);
    c->config = *config;
    memset(config, 0, sizeof *config);
    c->user_agent = xstrdup(user_agent);
    ovs_list_init(&c->requests);
    c->deadline = LLONG_MAX;
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, socket_cb);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    return c;
}

const char *
kube_client_server(const struct kube_client *c)
{
    return c->config.server;
}

static void
request_free(struct kube_request *r)
{
    if (r->client->probe == r) {
        r->client->probe = NULL;
    }
    if (r->easy) {
        curl_multi_remove_handle(r->client->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->body_out);
    ds_destroy(&r->body);
    free(r->early_error);
    ovs_list_remove(&r->node);
    free(r);
}

void
kube_client_destroy(struct kube_client *c)
{
    if (!c) {
        return;
    }
    struct kube_request *r;
    LIST_FOR_EACH_SAFE (r, node, &c->requests) {
        request_free(r);
    }
    curl_multi_cleanup(c->multi);
    kube_config_destroy(&c->config);
    free(c->sockets);
    free(c->user_agent);
    free(c);
}

void
kube_request_cancel(struct kube_request *r)
{
    if (r) {
        request_free(r);
    }
}

static size_t
write_cb(char *data, size_t size, size_t nmemb, void *r_)
{
    struct kube_request *r = r_;
    size_t n = size * nmemb;
    long status = 0;

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    if (r->data_cb && status >= 200 && status < 300) {
        if (!r->data_cb(data, n, r->aux)) {
            r->aborted = true;
            return 0;
        }
        return n;
    }
    size_t limit = (status >= 200 && status < 300 ? KUBE_MAX_BODY
                    : KUBE_MAX_ERROR_BODY);
    if (r->body.length + n > limit) {
        if (limit == KUBE_MAX_BODY) {
            return 0;           /* Fails the transfer. */
        }
        n = r->body.length < limit ? limit - r->body.length : 0;
        ds_put_buffer(&r->body, data, n);
        return size * nmemb;
    }
    ds_put_buffer(&r->body, data, n);
    return n;
}

/* One header line; an empty one ends a block of headers, which is the
 * final response's unless its status is 1xx. */
static size_t
header_cb(char *data, size_t size, size_t nmemb, void *r_)
{
    struct kube_request *r = r_;
    size_t n = size * nmemb;

    if (!r->headers_done && (n == 2 || n == 1)
        && (data[0] == '\r' || data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200) {
            r->headers_done = true;
            if (status < 300 && !r->is_probe) {
                r->client->n_answers++;
                r->client->probing = false;     /* Evidently fine. */
            }
            if (r->headers_cb) {
                r->headers_cb(status, r->aux);
            }
        }
    }
    return n;
}

void
kube_request_set_headers_cb(struct kube_request *r, kube_headers_cb *cb)
{
    r->headers_cb = cb;
}

unsigned int
kube_client_n_answers(const struct kube_client *c)
{
    return c->n_answers;
}

char *
kube_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = xstrdup(e ? e : "");
    curl_free(e);
    return copy;
}

struct kube_request *
kube_client_request(struct kube_client *c, const char *method,
                    const char *path, const char *content_type,
                    const char *body, long timeout_s,
                    kube_data_cb *data_cb, kube_done_cb *done_cb, void *aux)
{
    const struct kube_config *cfg = &c->config;
    struct kube_request *r = xzalloc(sizeof *r);

    r->client = c;
    r->data_cb = data_cb;
    r->done_cb = done_cb;
    r->aux = aux;
    ds_init(&r->body);
    ovs_list_push_back(&c->requests, &r->node);

    char *error;
    char *token = kube_config_get_token(cfg, &error);
    if (error) {
        r->early_error = error;
        poll_immediate_wake();
        return r;
    }

    CURL *e = r->easy = curl_easy_init();
    char *url = xasprintf("%s%s", cfg->server, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    /* Wait for the first connection to learn whether the server speaks
     * HTTP/2 and multiplex on it, rather than open one per request. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        r->body_out = xstrdup(body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body_out);
    }

    if (cfg->insecure) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (cfg->ca_data) {
        struct curl_blob blob = { cfg->ca_data, cfg->ca_data_len,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    } else if (cfg->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, cfg->ca_file);
    }
    if (cfg->cert_data) {
        struct curl_blob blob = { cfg->cert_data, cfg->cert_data_len,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &blob);
    } else if (cfg->cert_file) {
        curl_easy_setopt(e, CURLOPT_SSLCERT, cfg->cert_file);
    }
    if (cfg->key_data) {
        struct curl_blob blob = { cfg->key_data, cfg->key_data_len,
                                  CURL_BLOB_COPY };
        curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &blob);
    } else if (cfg->key_file) {
        curl_easy_setopt(e, CURLOPT_SSLKEY, cfg->key_file);
    }

    r->headers = curl_slist_append(r->headers, "Accept: application/json");
    if (content_type) {
        char *h = xasprintf("Content-Type: %s", content_type);
        r->headers = curl_slist_append(r->headers, h);
        free(h);
    }
    if (token) {
        char *h = xasprintf("Authorization: Bearer %s", token);
        r->headers = curl_slist_append(r->headers, h);
        memset(h, 0, strlen(h));
        free(h);
        memset(token, 0, strlen(token));
        free(token);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);

    CURLMcode mc = curl_multi_add_handle(c->multi, e);
    if (mc != CURLM_OK) {
        r->early_error = xstrdup(curl_multi_strerror(mc));
        poll_immediate_wake();
    }
    return r;
}

static void
request_finish(struct kube_request *r, const char *error)
{
    long status = 0;
    if (r->easy) {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    }
    if (r->done_cb) {
        r->done_cb(status, ds_cstr(&r->body), r->body.length, error, r->aux);
    }
    request_free(r);
}

static void
probe_done(int status, const char *body OVS_UNUSED, size_t len OVS_UNUSED,
           const char *error, void *c_)
{
    struct kube_client *c = c_;

    c->probe = NULL;
    if (!c->probing) {
        return;                 /* Another request got an answer. */
    }
    if (!error && status == 200) {
        if (c->probe_fails) {
            VLOG_INFO("%s is ready again", c->config.server);
            c->n_answers++;
        }
        c->probing = false;
    } else if (!error && status == 401) {
        c->probing = false;     /* Not the server's trouble. */
    } else {
        /* 0.5 to 1 s apart for about half a minute, then 2 to 4 s. */
        int base = ++c->probe_fails < 40 ? 500 : 2000;
        c->next_probe = time_msec() + base + random_range(base + 1);
    }
}

void
kube_client_server_trouble(struct kube_client *c)
{
    if (!c->probing) {
        c->probing = true;
        c->probe_fails = 0;
        c->next_probe = time_msec();
    }
}

void
kube_client_run(struct kube_client *c)
{
    struct kube_request *r;
    int running;

    if (c->probing && !c->probe && time_msec() >= c->next_probe) {
        c->probe = kube_client_request(c, "GET", "/readyz", NULL, NULL, 5,
                                       NULL, probe_done, c);
        c->probe->is_probe = true;
    }

    LIST_FOR_EACH_SAFE (r, node, &c->requests) {
        if (r->early_error) {
            char *error = r->early_error;
            r->early_error = NULL;
            request_finish(r, error);
            free(error);
        }
    }

    if (c->n_sockets) {
        size_t n = c->n_sockets;
        struct pollfd *pfds = xmalloc(n * sizeof *pfds);
        for (size_t i = 0; i < n; i++) {
            pfds[i].fd = c->sockets[i].fd;
            pfds[i].events = ((c->sockets[i].what & CURL_POLL_IN
                               ? POLLIN : 0)
                              | (c->sockets[i].what & CURL_POLL_OUT
                                 ? POLLOUT : 0));
            pfds[i].revents = 0;
        }
        if (poll(pfds, n, 0) > 0) {
            for (size_t i = 0; i < n; i++) {
                int ev = ((pfds[i].revents & POLLIN ? CURL_CSELECT_IN : 0)
                          | (pfds[i].revents & POLLOUT ? CURL_CSELECT_OUT : 0)
                          | (pfds[i].revents & (POLLERR | POLLHUP)
                             ? CURL_CSELECT_ERR : 0));
                if (ev) {
                    curl_multi_socket_action(c->multi, pfds[i].fd, ev,
                                             &running);
                }
            }
        }
        free(pfds);
    }
    if (time_msec() >= c->deadline) {
        c->deadline = LLONG_MAX;
        curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }

    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **) &r);
        const char *error = NULL;
        if (r->aborted) {
            error = "aborted";
        } else if (rc != CURLE_OK) {
            error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
        }
        request_finish(r, error);
    }
}

void
kube_client_wait(struct kube_client *c)
{
    struct kube_request *r;

    LIST_FOR_EACH (r, node, &c->requests) {
        if (r->early_error) {
            poll_immediate_wake();
        }
    }
    for (size_t i = 0; i < c->n_sockets; i++) {
        int what = c->sockets[i].what;
        short events = ((what & CURL_POLL_IN ? POLLIN : 0)
                        | (what & CURL_POLL_OUT ? POLLOUT : 0));
        if (events) {
            poll_fd_wait(c->sockets[i].fd, events);
        }
    }
    if (c->deadline != LLONG_MAX) {
        poll_timer_wait_until(c->deadline);
    }
    if (c->probing && !c->probe) {
        poll_timer_wait_until(c->next_probe);
    }
}
