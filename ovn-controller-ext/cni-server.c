/*
 * The CNI socket: libuv pipe server (see cni-server.h).
 */
#include <config.h>
#include "cni-server.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "cni-request.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "ovn-lm-proto.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(cni_server);

struct cni_server {
    uv_pipe_t pipe;
    char *path;
    dev_t dev;                  /* The socket file's, as bound. */
    ino_t ino;
    bool listening;             /* 'pipe' open (not yet stopped). */
    bool pipe_closed;           /* 'pipe''s close callback ran. */
    bool destroyed;             /* Free once 'pipe' is closed. */
    cni_server_request_cb *cb;
    void *aux;
    struct ovs_list conns;      /* Contains "struct cni_server_conn"s. */
    unsigned int n_conns;
    unsigned int max_conns;     /* More are refused (CNI error 11). */
    unsigned int read_timeout_ms; /* To receive a whole request. */
};

struct cni_server_conn {
    uv_pipe_t pipe;
    uv_timer_t timer;           /* The read deadline. */
    int n_handles;              /* Open among 'pipe' and 'timer'. */
    struct ovs_list node;       /* In cni_server's 'conns'. */
    struct cni_server *server;
    char *buf;
    size_t len, allocated;
    bool oversize;              /* Past OVN_LM_MAX_MSG: read and dropped. */
    bool dispatched;            /* Handed to the callback. */
    bool closing;
    uv_write_t write_req;
    char *response;
};

static void conn_close(struct cni_server_conn *);

static void
conn_closed_cb(uv_handle_t *handle)
{
    struct cni_server_conn *conn = handle->data;

    if (--conn->n_handles > 0) {
        return;
    }
    free(conn->buf);
    free(conn->response);
    free(conn);
}

static void
conn_close(struct cni_server_conn *conn)
{
    if (conn->closing) {
        return;
    }
    conn->closing = true;
    if (conn->server) {
        ovs_list_remove(&conn->node);
        conn->server->n_conns--;
        conn->server = NULL;
    }
    uv_close((uv_handle_t *) &conn->pipe, conn_closed_cb);
    uv_close((uv_handle_t *) &conn->timer, conn_closed_cb);
}

/* Stops reading 'conn' and answers it with CNI error 'code'. */
static void
conn_refuse(struct cni_server_conn *conn, int code, const char *msg)
{
    uv_read_stop((uv_stream_t *) &conn->pipe);
    uv_timer_stop(&conn->timer);
    cni_server_reply(conn, cni_response_error(code, msg, NULL));
}

static void
alloc_cb(uv_handle_t *handle, size_t suggested, uv_buf_t *buf)
{
    struct cni_server_conn *conn = handle->data;

    if (conn->oversize) {
        /* Read what the client still sends into the same buffer, dropped:
         * it gets its answer once it half-closes, as for any request. */
        conn->len = 0;
    }
    if (conn->allocated - conn->len < 4096) {
        conn->allocated = MAX(conn->allocated * 2, 8192);
        conn->buf = xrealloc(conn->buf, conn->allocated);
    }
    *buf = uv_buf_init(conn->buf + conn->len, conn->allocated - conn->len);
}

static void
read_cb(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf OVS_UNUSED)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct cni_server_conn *conn = stream->data;

    if (nread > 0) {
        conn->len += nread;
        if (conn->len > OVN_LM_MAX_MSG && !conn->oversize) {
            VLOG_WARN_RL(&rl, "request larger than %d bytes, refused",
                         OVN_LM_MAX_MSG);
            conn->oversize = true;
        }
        return;
    } else if (nread == 0) {
        return;
    }

    uv_read_stop(stream);
    uv_timer_stop(&conn->timer);
    if (nread != UV_EOF) {
        VLOG_WARN_RL(&rl, "read error on CNI socket: %s",
                     uv_strerror(nread));
        conn_close(conn);
        return;
    }
    if (conn->oversize) {
        char *msg = xasprintf("request larger than %d bytes (the limit of "
                              "the daemon's socket protocol)",
                              OVN_LM_MAX_MSG);
        conn_refuse(conn, OVN_LM_CNI_DECODE_FAILURE, msg);
        free(msg);
        return;
    }
    conn->dispatched = true;
    conn->server->cb(conn, conn->buf ? conn->buf : "", conn->len,
                     conn->server->aux);
}

/* The socket's file mode already keeps others out; this also refuses a
 * peer whose credentials are not root's or the daemon's own, in case the
 * socket was made reachable by mistake (a bind mount, a looser mode). */
static bool
peer_is_trusted(struct cni_server_conn *conn)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct ucred cred;
    socklen_t len = sizeof cred;
    uv_os_fd_t fd;

    /* uv_fileno() returns its error and leaves errno alone. */
    int error = uv_fileno((uv_handle_t *) &conn->pipe, &fd);
    if (error) {
        VLOG_WARN_RL(&rl, "cannot read the peer's credentials: %s",
                     uv_strerror(error));
        return false;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
        VLOG_WARN_RL(&rl, "cannot read the peer's credentials: %s",
                     ovs_strerror(errno));
        return false;
    }
    if (cred.uid != 0 && cred.uid != geteuid()) {
        VLOG_WARN_RL(&rl, "refused CNI connection from pid %d uid %u",
                     (int) cred.pid, (unsigned int) cred.uid);
        return false;
    }
    return true;
}

/* The client did not send a whole request (and half-close) in time. */
static void
read_timeout_cb(uv_timer_t *timer)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct cni_server_conn *conn = timer->data;
    unsigned int ms = conn->server ? conn->server->read_timeout_ms : 0;

    VLOG_WARN_RL(&rl, "CNI connection closed: no complete request within "
                 "%u ms (%"PRIuSIZE" bytes read)", ms, conn->len);
    char *msg = xasprintf("no complete request within %u ms (the client "
                          "must shut down its write side after the "
                          "request)", ms);
    conn_refuse(conn, OVN_LM_CNI_IO_FAILURE, msg);
    free(msg);
}

static void
connection_cb(uv_stream_t *listener, int status)
{
    static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 5);
    struct cni_server *server = listener->data;

    if (status < 0) {
        VLOG_WARN_RL(&rl, "accept failed: %s", uv_strerror(status));
        return;
    }

    struct cni_server_conn *conn = xzalloc(sizeof *conn);
    uv_pipe_init(listener->loop, &conn->pipe, 0);
    conn->pipe.data = conn;
    uv_timer_init(listener->loop, &conn->timer);
    conn->timer.data = conn;
    conn->n_handles = 2;
    bool full = server->n_conns >= server->max_conns;
    if (!full) {
        conn->server = server;
        ovs_list_push_back(&server->conns, &conn->node);
        server->n_conns++;
    }

    int error = uv_accept(listener, (uv_stream_t *) &conn->pipe);
    if (!error && !peer_is_trusted(conn)) {
        conn_close(conn);
        return;
    }
    if (!error && full) {
        /* Not counted and not read: answered at once, then closed. */
        VLOG_WARN_RL(&rl, "CNI connection refused: %u connections open "
                     "(the limit)", server->max_conns);
        char *msg = xasprintf("ovn-controller-ext has %u CNI connections "
                              "open, its limit: try again later",
                              server->max_conns);
        conn_refuse(conn, OVN_LM_CNI_TRY_AGAIN_LATER, msg);
        free(msg);
        return;
    }
    if (!error) {
        error = uv_timer_start(&conn->timer, read_timeout_cb,
                               server->read_timeout_ms, 0);
    }
    if (!error) {
        error = uv_read_start((uv_stream_t *) &conn->pipe, alloc_cb, read_cb);
    }
    if (error) {
        VLOG_WARN_RL(&rl, "CNI connection failed: %s", uv_strerror(error));
        conn_close(conn);
    }
}

static void
server_free(struct cni_server *server)
{
    free(server->path);
    free(server);
}

static void
server_closed_cb(uv_handle_t *handle)
{
    struct cni_server *server = handle->data;

    server->pipe_closed = true;
    if (server->destroyed) {
        server_free(server);
    }
}

/* Creates a server listening on the unix socket 'path' (replacing a stale
 * socket file), with file mode 'mode'.  Returns 0 or a positive errno. */
int
cni_server_create(uv_loop_t *loop, const char *path, unsigned int mode,
                  cni_server_request_cb *cb, void *aux,
                  struct cni_server **serverp)
{
    struct cni_server *server = xzalloc(sizeof *server);
    int error;

    *serverp = NULL;
    server->path = xstrdup(path);
    server->cb = cb;
    server->aux = aux;
    server->max_conns = CNI_SERVER_MAX_CONNS;
    server->read_timeout_ms = CNI_SERVER_READ_TIMEOUT_MS;
    ovs_list_init(&server->conns);
    uv_pipe_init(loop, &server->pipe, 0);
    server->pipe.data = server;

    /* A socket file left by a previous run would make bind() fail. */
    struct stat st;
    if (!lstat(path, &st) && S_ISSOCK(st.st_mode)) {
        unlink(path);
    }

    /* Bind with a restrictive umask so the socket never exists with looser
     * permissions than 'mode', even briefly. */
    mode_t old_umask = umask(0777 & ~mode);
    error = uv_pipe_bind(&server->pipe, path);
    umask(old_umask);
    if (!error && chmod(path, mode)) {
        error = -errno;
    }
    if (!error && stat(path, &st)) {
        error = -errno;
    }
    if (!error) {
        server->dev = st.st_dev;
        server->ino = st.st_ino;
        error = uv_listen((uv_stream_t *) &server->pipe, 128, connection_cb);
    }
    if (error) {
        VLOG_ERR("%s: cannot listen: %s", path, uv_strerror(error));
        /* libuv still refers to the handle until its close callback: the
         * server is freed there, by the caller's next uv_run(). */
        server->destroyed = true;
        uv_close((uv_handle_t *) &server->pipe, server_closed_cb);
        return -error;
    }
    server->listening = true;
    VLOG_INFO("listening for CNI requests on %s", path);
    *serverp = server;
    return 0;
}

/* Removes the socket file if it is still the one this server bound: a
 * daemon started while this one drains may have bound a new one there. */
static void
server_unlink(struct cni_server *server)
{
    struct stat st;

    if (!lstat(server->path, &st) && S_ISSOCK(st.st_mode)
        && st.st_dev == server->dev && st.st_ino == server->ino) {
        unlink(server->path);
    }
}

/* Stops taking connections: removes the socket file, so that clients fail
 * to connect at once (ENOENT) instead of queueing, and closes the
 * listening socket.  Connections already accepted go on: their requests
 * are read, dispatched and answered as usual.  Call from outside libuv's
 * callbacks: it runs the loop once to accept what the listen queue still
 * holds, connections the clients think are made. */
void
cni_server_stop(struct cni_server *server)
{
    if (!server || !server->listening) {
        return;
    }
    server_unlink(server);
    uv_run(server->pipe.loop, UV_RUN_NOWAIT);
    server->listening = false;
    uv_close((uv_handle_t *) &server->pipe, server_closed_cb);
    VLOG_INFO("%s: no longer accepting CNI connections (%u open)",
              server->path, server->n_conns);
}


/* Stops listening (if cni_server_stop() did not) and drops connections
 * that were not dispatched.  Dispatched connections stay alive until
 * replied to.  The memory goes in a close callback, so the caller must run
 * the loop afterwards. */
void
cni_server_destroy(struct cni_server *server)
{
    struct cni_server_conn *conn;

    if (!server) {
        return;
    }
    LIST_FOR_EACH_SAFE (conn, node, &server->conns) {
        ovs_list_remove(&conn->node);
        server->n_conns--;
        conn->server = NULL;
        if (!conn->dispatched) {
            conn_close(conn);
        }
    }
    if (server->listening) {
        server_unlink(server);
        server->listening = false;
    }
    server->destroyed = true;
    if (!uv_is_closing((uv_handle_t *) &server->pipe)) {
        uv_close((uv_handle_t *) &server->pipe, server_closed_cb);
    } else if (server->pipe_closed) {
        server_free(server);
    }
    /* Otherwise server_closed_cb() frees it. */
}

static void
write_cb(uv_write_t *req, int status OVS_UNUSED)
{
    conn_close(req->data);
}

/* Sends 'response' (malloc'd, taken over; NULL to just close) on 'conn' and
 * closes it. */
void
cni_server_reply(struct cni_server_conn *conn, char *response)
{
    if (!response || conn->closing) {
        free(response);
        conn_close(conn);
        return;
    }
    conn->response = response;
    conn->write_req.data = conn;
    uv_buf_t buf = uv_buf_init(response, strlen(response));
    if (uv_write(&conn->write_req, (uv_stream_t *) &conn->pipe, &buf, 1,
                 write_cb)) {
        conn_close(conn);
    }
}

/* Changes the connection cap and the read deadline (for tests; the
 * defaults are CNI_SERVER_MAX_CONNS and CNI_SERVER_READ_TIMEOUT_MS). */
void
cni_server_set_limits(struct cni_server *server, unsigned int max_conns,
                      unsigned int read_timeout_ms)
{
    server->max_conns = max_conns;
    server->read_timeout_ms = read_timeout_ms;
}

unsigned int
cni_server_n_conns(const struct cni_server *server)
{
    return server ? server->n_conns : 0;
}
