/*
 * Unit tests for the daemon's CNI socket (ovn-controller-ext/cni-server.c):
 * a request is answered; a client that never half-closes is cut at the
 * read deadline with a CNI error, and the loop sleeps meanwhile (no busy
 * loop); an oversize request gets a CNI error naming the limit; the
 * connection past the cap gets "try again later".
 *
 * The server runs in this thread's libuv loop; each client is a thread
 * that does plain blocking socket calls and wakes the loop when done.
 */
#include <config.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include "cni-request.h"
#include "cni-server.h"
#include "ovn-lm-proto.h"
#include "test.h"
#include "util.h"

#define MAX_CONNS 4
#define READ_TIMEOUT_MS 300

static char sock_path[108];
static uv_loop_t loop;
static uv_async_t wake;
static volatile int clients_done;
static int n_dispatched;

/* The daemon's callback: answers every request with an empty result. */
static void
request_cb(struct cni_server_conn *conn, const char *buf OVS_UNUSED,
           size_t len OVS_UNUSED, void *aux OVS_UNUSED)
{
    n_dispatched++;
    cni_server_reply(conn, cni_response_result(NULL));
}

static int
client_connect(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    if (fd < 0 || connect(fd, (struct sockaddr *) &sun, sizeof sun)) {
        perror("connect");
        exit(EXIT_FAILURE);
    }
    return fd;
}

/* Reads until EOF (or an error); returns the malloc'd bytes. */
static char *
client_read_all(int fd)
{
    size_t len = 0, allocated = 4096;
    char *buf = malloc(allocated);

    for (;;) {
        if (allocated - len < 1024) {
            allocated *= 2;
            buf = realloc(buf, allocated);
        }
        ssize_t n = read(fd, buf + len, allocated - len - 1);
        if (n <= 0) {
            break;
        }
        len += n;
    }
    buf[len] = '\0';
    return buf;
}

static void
client_write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n <= 0) {
            perror("write");
            return;
        }
        buf += n;
        len -= n;
    }
}

/* The CNI error code in 'response', or -1 if it carries none. */
static int
error_code(const char *response, char **msgp)
{
    cJSON *root = cJSON_Parse(response);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "msg");
    int c = cJSON_IsNumber(code) ? code->valueint : -1;

    *msgp = strdup(cJSON_IsString(msg) ? msg->valuestring : "");
    cJSON_Delete(root);
    return c;
}

/* Runs 'fn' in a client thread while the loop serves; returns how many
 * times the loop woke up meanwhile. */
static int
run_client(void *(*fn)(void *), void *arg)
{
    pthread_t thread;
    int iterations = 0;

    clients_done = 0;
    pthread_create(&thread, NULL, fn, arg);
    while (!__atomic_load_n(&clients_done, __ATOMIC_ACQUIRE)) {
        uv_run(&loop, UV_RUN_ONCE);
        iterations++;
    }
    pthread_join(thread, NULL);
    /* Let close callbacks run. */
    uv_run(&loop, UV_RUN_NOWAIT);
    return iterations;
}

static void
client_finish(void)
{
    __atomic_store_n(&clients_done, 1, __ATOMIC_RELEASE);
    uv_async_send(&wake);
}

static void
wake_cb(uv_async_t *async OVS_UNUSED)
{
}

/* ------------------------------------------------------------------ */

struct result {
    char *response;
    char *responses[MAX_CONNS + 1];
};

static void *
client_request(void *r_)
{
    struct result *r = r_;
    int fd = client_connect();
    const char req[] = "{\"version\": 1}";

    client_write_all(fd, req, strlen(req));
    shutdown(fd, SHUT_WR);
    r->response = client_read_all(fd);
    close(fd);
    client_finish();
    return NULL;
}

/* Connects, sends a little, never half-closes: waits for the server. */
static void *
client_idle(void *r_)
{
    struct result *r = r_;
    int fd = client_connect();

    client_write_all(fd, "{\"vers", 6);
    r->response = client_read_all(fd);
    close(fd);
    client_finish();
    return NULL;
}

static void *
client_oversize(void *r_)
{
    struct result *r = r_;
    int fd = client_connect();
    size_t len = OVN_LM_MAX_MSG + 1;
    char *big = malloc(len);

    memset(big, ' ', len);
    client_write_all(fd, big, len);
    free(big);
    shutdown(fd, SHUT_WR);
    r->response = client_read_all(fd);
    close(fd);
    client_finish();
    return NULL;
}

/* MAX_CONNS idle connections, then one more, which must be refused at
 * once; then one of the first is served, once the cap is not reached. */
static void *
client_cap(void *r_)
{
    struct result *r = r_;
    int fds[MAX_CONNS];

    for (int i = 0; i < MAX_CONNS; i++) {
        fds[i] = client_connect();
    }
    int extra = client_connect();
    r->responses[MAX_CONNS] = client_read_all(extra);
    close(extra);

    /* The first ones are still open: one finishes its request. */
    client_write_all(fds[0], "{}", 2);
    shutdown(fds[0], SHUT_WR);
    r->responses[0] = client_read_all(fds[0]);
    for (int i = 0; i < MAX_CONNS; i++) {
        close(fds[i]);
    }
    client_finish();
    return NULL;
}

int
main(void)
{
    struct cni_server *server;
    struct result r;
    char *msg;

    signal(SIGPIPE, SIG_IGN);   /* As the daemon (fatal_ignore_sigpipe()). */
    snprintf(sock_path, sizeof sock_path, "/tmp/test-cni-server-%ld.sock",
             (long) getpid());
    uv_loop_init(&loop);
    uv_async_init(&loop, &wake, wake_cb);
    if (cni_server_create(&loop, sock_path, 0600, request_cb, NULL,
                          &server)) {
        fprintf(stderr, "cannot create the server on %s\n", sock_path);
        return 1;
    }
    cni_server_set_limits(server, MAX_CONNS, READ_TIMEOUT_MS);

    test_case("request");
    memset(&r, 0, sizeof r);
    run_client(client_request, &r);
    TEST_EQ_STR(r.response, "{\"result\":{}}");
    TEST_EQ_INT(n_dispatched, 1);
    TEST_EQ_INT(cni_server_n_conns(server), 0);
    free(r.response);

    test_case("read deadline");
    memset(&r, 0, sizeof r);
    int iterations = run_client(client_idle, &r);
    TEST_EQ_INT(error_code(r.response, &msg), OVN_LM_CNI_IO_FAILURE);
    TEST_CONTAINS(msg, "no complete request within 300 ms");
    /* Waiting for the deadline, the loop wakes for the accept, the bytes,
     * the timer and the client's end: a handful, not a busy loop. */
    printf("loop iterations while an idle client waited %d ms: %d\n",
           READ_TIMEOUT_MS, iterations);
    TEST_CHECK(iterations < 20);
    TEST_EQ_INT(n_dispatched, 1);
    TEST_EQ_INT(cni_server_n_conns(server), 0);
    free(msg);
    free(r.response);

    test_case("oversize");
    memset(&r, 0, sizeof r);
    run_client(client_oversize, &r);
    TEST_EQ_INT(error_code(r.response, &msg), OVN_LM_CNI_DECODE_FAILURE);
    TEST_CONTAINS(msg, "larger than 1048576 bytes");
    TEST_EQ_INT(n_dispatched, 1);
    TEST_EQ_INT(cni_server_n_conns(server), 0);
    free(msg);
    free(r.response);

    test_case("connection cap");
    memset(&r, 0, sizeof r);
    run_client(client_cap, &r);
    TEST_EQ_INT(error_code(r.responses[MAX_CONNS], &msg),
                OVN_LM_CNI_TRY_AGAIN_LATER);
    TEST_CONTAINS(msg, "4 CNI connections open");
    free(msg);
    TEST_EQ_STR(r.responses[0], "{\"result\":{}}");
    free(r.responses[0]);
    free(r.responses[MAX_CONNS]);
    /* The other three are cut at their deadline (or when they closed). */
    for (int i = 0; i < 50 && cni_server_n_conns(server); i++) {
        uv_run(&loop, UV_RUN_ONCE);
    }
    TEST_EQ_INT(cni_server_n_conns(server), 0);

    cni_server_destroy(server);
    uv_close((uv_handle_t *) &wake, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    TEST_EQ_INT(uv_loop_close(&loop), 0);
    return test_summary();
}
