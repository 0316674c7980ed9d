/*
 * cni-server: the daemon end of the CNI socket.  A libuv pipe server that
 * reads one request per connection (until the client half-closes), hands it
 * to a callback, and writes the one response the callback later produces.
 *
 * The server owns connections; a handler owns the request it is given and
 * must call cni_server_reply() exactly once per connection, even if the
 * client is gone by then (the reply is then dropped).
 *
 * cni_server_stop() removes the socket file and stops accepting, for a
 * daemon that drains before it exits; connections already accepted carry
 * on.  cni_server_destroy() frees the server from a libuv close callback:
 * run the loop afterwards until it has nothing left.
 */
#ifndef CNI_SERVER_H
#define CNI_SERVER_H 1

#include <stddef.h>

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

#endif /* cni-server.h */
