/*
 * cni-client.c: the socket side of the CNI binary.
 */
#include "cni-client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cni-error.h"
#include "cni-json.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

#ifndef MIN
#define MIN(A, B) ((A) < (B) ? (A) : (B))
#endif

static long long
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Waits until 'fd' has 'events' or 'deadline' (now_ms() time) passes.
 * Returns 0 or ETIMEDOUT. */
static int
wait_fd(int fd, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        struct pollfd pfd = { .fd = fd, .events = events };
        int n;

        if (left <= 0) {
            return ETIMEDOUT;
        }
        n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int) left);
        if (n > 0) {
            return 0;
        } else if (n < 0 && errno != EINTR) {
            return errno;
        }
    }
}

static int
connect_socket(const char *path, long long deadline, int *fdp)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    long long left = deadline - now_ms();
    struct timeval tv;
    int fd;

    if (strlen(path) >= sizeof sun.sun_path) {
        return ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    /* A unix socket connect() waits for room in a full listen queue for
     * up to the send timeout; bound it by our deadline. */
    left = left > 0 ? left : 1;
    tv.tv_sec = left / 1000;
    tv.tv_usec = (left % 1000) * 1000;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *) &sun, sizeof sun) < 0) {
        int error = errno == EAGAIN || errno == EINPROGRESS
                    ? ETIMEDOUT : errno;

        close(fd);
        return error;
    }
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
        int error = errno;

        close(fd);
        return error;
    }
    *fdp = fd;
    return 0;
}

static int
send_all(int fd, const char *buf, size_t len, long long deadline,
         bool *sentp)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n > 0) {
            *sentp = true;
            buf += n;
            len -= n;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int error = wait_fd(fd, POLLOUT, deadline);

            if (error) {
                return error;
            }
        } else if (n < 0 && errno != EINTR) {
            return errno;
        }
    }
    return 0;
}

/* Reads until EOF.  Returns 0 with the data (NUL-terminated for
 * convenience) in '*bufp' and '*lenp', ENODATA if the daemon closed the
 * connection without a word, EMSGSIZE past OVN_LM_MAX_MSG bytes. */
static int
recv_all(int fd, long long deadline, char **bufp, size_t *lenp)
{
    size_t len = 0, cap = 4096;
    char *buf = cni_xmalloc(cap + 1);
    int error = 0;

    for (;;) {
        ssize_t n;

        if (len == cap) {
            if (cap > OVN_LM_MAX_MSG) {
                error = EMSGSIZE;
                break;
            }
            cap *= 2;
            buf = cni_xrealloc(buf, cap + 1);
        }
        n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) {
            len += n;
            if (len > OVN_LM_MAX_MSG) {
                error = EMSGSIZE;
                break;
            }
        } else if (!n) {
            error = len ? 0 : ENODATA;
            break;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            error = wait_fd(fd, POLLIN, deadline);
            if (error) {
                break;
            }
        } else if (errno != EINTR) {
            error = errno;
            break;
        }
    }
    if (error) {
        free(buf);
        return error;
    }
    buf[len] = '\0';
    *bufp = buf;
    *lenp = len;
    return 0;
}

/* Sends the 'request_len' bytes of 'request' to the daemon listening on
 * 'socket_path', shuts down the sending side and reads the reply until
 * EOF, all within 'timeout' seconds.  Returns 0 and stores the reply
 * (NUL-terminated, free() it) in '*replyp' and '*reply_lenp'.  Otherwise
 * returns an errno value: whatever connect() said, ETIMEDOUT, ENODATA
 * (EOF without a reply), EMSGSIZE (reply over OVN_LM_MAX_MSG), ...  In
 * every case '*sentp' tells whether any byte of the request left, i.e.
 * whether the daemon may have acted on it. */
int
cni_client_transact(const char *socket_path, const char *request,
                    size_t request_len, double timeout,
                    char **replyp, size_t *reply_lenp, bool *sentp)
{
    /* A billion seconds is forever enough, and keeps the sums small. */
    long long deadline = now_ms() + (long long) (MIN(timeout, 1e9) * 1000);
    int fd = -1;
    int error;

    *sentp = false;
    error = connect_socket(socket_path, deadline, &fd);
    if (error) {
        return error;
    }
    error = send_all(fd, request, request_len, deadline, sentp);
    if (!error && shutdown(fd, SHUT_WR) < 0) {
        error = errno;
    }
    if (!error) {
        error = recv_all(fd, deadline, replyp, reply_lenp);
    }
    close(fd);
    return error;
}

static struct cni_error *
bad_reply(const char *why)
{
    return cni_error_create(OVN_LM_CNI_IO_FAILURE,
                            "the reply of ovn-controller-ext does not follow "
                            "the ovn-lm protocol",
                            "invalid reply from the daemon: %s", why);
}

/* Parses the daemon's reply in the 'len' bytes at 'buf'.  A well-formed
 * reply is a JSON object with exactly one of "result" (an object) and
 * "error" (an object with a positive integer "code", a string "msg" and
 * optionally a string "details").  Returns 0 for a well-formed reply, and
 * stores either the result in '*resultp' (cJSON_Delete() it) or the
 * daemon's error in '*errorp'.  Returns EPROTO for anything else, with an
 * I/O error (5) describing it in '*errorp'. */
int
cni_client_parse_reply(const char *buf, size_t len, cJSON **resultp,
                       struct cni_error **errorp)
{
    const cJSON *result, *err, *code, *msg, *details;
    struct cni_error *error;
    cJSON *json;

    if (len > OVN_LM_MAX_MSG) {
        *errorp = bad_reply("larger than the protocol allows");
        return EPROTO;
    }
    error = cni_json_parse(buf, len, "daemon reply", &json);
    if (error) {
        *errorp = bad_reply(error->msg);
        cni_error_destroy(error);
        return EPROTO;
    }

    result = cJSON_GetObjectItemCaseSensitive(json, "result");
    err = cJSON_GetObjectItemCaseSensitive(json, "error");
    if (!cJSON_IsObject(json) || !result == !err) {
        *errorp = bad_reply("expected an object with \"result\" or "
                            "\"error\"");
        cJSON_Delete(json);
        return EPROTO;
    }
    if (result) {
        if (!cJSON_IsObject(result)) {
            *errorp = bad_reply("\"result\" is not an object");
            cJSON_Delete(json);
            return EPROTO;
        }
        *resultp = cJSON_DetachItemViaPointer(json, (cJSON *) result);
        cJSON_Delete(json);
        return 0;
    }

    code = cJSON_GetObjectItemCaseSensitive(err, "code");
    msg = cJSON_GetObjectItemCaseSensitive(err, "msg");
    details = cJSON_GetObjectItemCaseSensitive(err, "details");
    if (!cJSON_IsNumber(code) || code->valuedouble < 1
        || code->valuedouble > INT_MAX
        || code->valuedouble != (int) code->valuedouble
        || !cJSON_IsString(msg)
        || (details && !cJSON_IsString(details) && !cJSON_IsNull(details))) {
        *errorp = bad_reply("\"error\" needs an integer \"code\" >= 1, a "
                            "string \"msg\" and maybe a string \"details\"");
        cJSON_Delete(json);
        return EPROTO;
    }
    *errorp = cni_error_create((int) code->valuedouble,
                               cJSON_IsString(details)
                               ? details->valuestring : NULL,
                               "%s", msg->valuestring);
    cJSON_Delete(json);
    return 0;
}
