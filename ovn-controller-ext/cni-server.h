/*
 * cni-server: the daemon end of the CNI socket.  A libuv pipe server that
 * reads one request per connection (until the client half-closes), hands it
 * to a callback, and writes the one response the callback later produces.
 *
 * The server owns connections; a handler owns the request it is given and
 * must call cni_server_reply() exactly once per connection, even if the
 * client is gone by then (the reply is then dropped).
 *
 * Limits: at most CNI_SERVER_MAX_CONNS connections at once (one more is
 * answered CNI error 11 and closed), and CNI_SERVER_READ_TIMEOUT_MS for a
 * client to send its whole request and half-close (else CNI error 5 and
 * close).  A request over OVN_LM_MAX_MSG is read to its end without being
 * kept and answered CNI error 6.
 *
 * cni_server_stop() removes the socket file and stops accepting, for a
 * daemon that drains before it exits; connections already accepted carry
 * on.  cni_server_destroy() frees the server from a libuv close callback:
 * run the loop afterwards until it has nothing left.
 */
#ifndef CNI_SERVER_H
#define CNI_SERVER_H 1

#include <stddef.h>

#define CNI_SERVER_MAX_CONNS 128
#define CNI_SERVER_READ_TIMEOUT_MS 10000

struct uv_loop_s;
struct cni_server;
struct cni_server_conn;

/* Called with the raw request bytes.  'conn' stays valid until
 * cni_server_reply() is called on it. */
typedef void cni_server_request_cb(struct cni_server_conn *conn,
                                   const char *buf, size_t len, void *aux);

int cni_server_create(struct uv_loop_s *, const char *path,
                      unsigned int mode, cni_server_request_cb *, void *aux,
                      struct cni_server **);
void cni_server_stop(struct cni_server *);
void cni_server_destroy(struct cni_server *);
void cni_server_reply(struct cni_server_conn *, char *response);
unsigned int cni_server_n_conns(const struct cni_server *);
void cni_server_set_limits(struct cni_server *, unsigned int max_conns,
                           unsigned int read_timeout_ms);

#endif /* cni-server.h */
