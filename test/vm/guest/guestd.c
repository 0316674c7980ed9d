/*
 * guestd - the tiny guest's network services (static, runs as a child of
 * /init in the test VM built by test/vm/build-guest.sh).
 *
 *   tcp/7   echo: every byte received is sent back (RFC 862)
 *   udp/7   echo: every datagram is sent back to its sender
 *   tcp/9   hold: keeps the connection open forever; for every line
 *           received it answers "<conn> <lines> <bytes>\n", the counters of
 *           this connection, so a client can tell its connection (and the
 *           server's state) survived a live migration
 *   tcp/19  tick: sends "<seq> <guest-monotonic-ms>\n" every 10 ms, so the
 *           guest->client direction can be timed too
 *
 * One thread, poll(), non-blocking sockets and a bounded output buffer per
 * connection (a slow reader only stops its own connection being read).
 * Ports can be changed with GUESTD_ECHO_PORT / GUESTD_HOLD_PORT /
 * GUESTD_TICK_PORT (0 disables a service).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 256
#define OUTBUF (64 * 1024)
#define TICK_MS 10

enum kind { K_ECHO, K_HOLD, K_TICK };

struct conn {
    int fd;
    enum kind kind;
    unsigned id;
    uint64_t lines, bytes, seq;
    size_t outlen;
    char out[OUTBUF];
};

static struct conn *conns[MAX_CONNS];
static unsigned next_id = 1;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int port_env(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static int listener(int type, int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_ANY) };
    int one = 1;
    int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd < 0) {
        perror("guestd: socket");
        exit(1);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        fprintf(stderr, "guestd: bind %d: %s\n", port, strerror(errno));
        exit(1);
    }
    if (type == SOCK_STREAM && listen(fd, 64) < 0) {
        perror("guestd: listen");
        exit(1);
    }
    return fd;
}

static void conn_close(int i)
{
    close(conns[i]->fd);
    free(conns[i]);
    conns[i] = NULL;
}

static void conn_add(int fd, enum kind kind)
{
    int one = 1;

    for (int i = 0; i < MAX_CONNS; i++) {
        if (!conns[i]) {
            struct conn *c = calloc(1, sizeof *c);
            if (!c)
                break;
            c->fd = fd;
            c->kind = kind;
            c->id = next_id++;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conns[i] = c;
            return;
        }
    }
    close(fd);
}

/* Appends to the output buffer; what does not fit is dropped (only the tick
 * service can overrun, and only when its reader is stuck). */
static void conn_queue(struct conn *c, const char *p, size_t n)
{
    if (n > OUTBUF - c->outlen)
        n = OUTBUF - c->outlen;
    memcpy(c->out + c->outlen, p, n);
    c->outlen += n;
}

/* Returns -1 if the connection failed. */
static int conn_flush(struct conn *c)
{
    while (c->outlen) {
        ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        memmove(c->out, c->out + n, c->outlen - n);
        c->outlen -= n;
    }
    return 0;
}

static int conn_read(struct conn *c)
{
    char buf[4096];
    ssize_t n = recv(c->fd, buf, sizeof buf, 0);

    if (n == 0)
        return -1;
    if (n < 0)
        return errno == EAGAIN || errno == EINTR ? 0 : -1;
    switch (c->kind) {
    case K_ECHO:
        conn_queue(c, buf, n);
        break;
    case K_HOLD:
        for (ssize_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                char line[96];
                int len;
                c->lines++;
                len = snprintf(line, sizeof line, "%u %llu %llu\n", c->id,
                               (unsigned long long)c->lines,
                               (unsigned long long)(c->bytes + i + 1));
                conn_queue(c, line, len);
            }
        }
        break;
    case K_TICK:
        break; /* input ignored */
    }
    c->bytes += n;
    return conn_flush(c);
}

int main(void)
{
    int lfd[3] = { -1, -1, -1 }, ufd = -1;
    int ports[3] = { port_env("GUESTD_ECHO_PORT", 7),
                     port_env("GUESTD_HOLD_PORT", 9),
                     port_env("GUESTD_TICK_PORT", 19) };
    uint64_t next_tick = now_ms() + TICK_MS;

    signal(SIGPIPE, SIG_IGN);
    for (int k = 0; k < 3; k++)
        if (ports[k] > 0)
            lfd[k] = listener(SOCK_STREAM, ports[k]);
    if (ports[0] > 0)
        ufd = listener(SOCK_DGRAM, ports[0]);
    printf("guestd: echo tcp+udp/%d hold tcp/%d tick tcp/%d\n", ports[0],
           ports[1], ports[2]);
    fflush(stdout);

    for (;;) {
        struct pollfd pfd[4 + MAX_CONNS];
        int map[4 + MAX_CONNS];
        int n = 0, timeout;
        uint64_t now;

        for (int k = 0; k < 3; k++) {
            if (lfd[k] >= 0) {
                pfd[n] = (struct pollfd){ .fd = lfd[k], .events = POLLIN };
                map[n++] = -1 - k;
            }
        }
        if (ufd >= 0) {
            pfd[n] = (struct pollfd){ .fd = ufd, .events = POLLIN };
            map[n++] = -4;
        }
        for (int i = 0; i < MAX_CONNS; i++) {
            struct conn *c = conns[i];
            if (!c)
                continue;
            pfd[n].fd = c->fd;
            /* Stop reading while the output buffer is more than half full. */
            pfd[n].events = (c->outlen < OUTBUF / 2 ? POLLIN : 0) |
                            (c->outlen ? POLLOUT : 0);
            pfd[n].revents = 0;
            map[n++] = i;
        }
        now = now_ms();
        timeout = next_tick > now ? (int)(next_tick - now) : 0;
        if (poll(pfd, n, timeout) < 0 && errno != EINTR) {
            perror("guestd: poll");
            return 1;
        }
        for (int j = 0; j < n; j++) {
            if (!pfd[j].revents)
                continue;
            if (map[j] <= -1 && map[j] >= -3) {
                int k = -1 - map[j];
                int fd = accept4(pfd[j].fd, NULL, NULL,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd >= 0)
                    conn_add(fd, (enum kind)k);
            } else if (map[j] == -4) {
                char buf[65536];
                struct sockaddr_in from;
                socklen_t fl = sizeof from;
                for (;;) {
                    ssize_t m = recvfrom(ufd, buf, sizeof buf, 0,
                                         (struct sockaddr *)&from, &fl);
                    if (m < 0)
                        break;
                    sendto(ufd, buf, m, 0, (struct sockaddr *)&from, fl);
                    fl = sizeof from;
                }
            } else {
                int i = map[j];
                struct conn *c = conns[i];
                int bad = 0;
                if (pfd[j].revents & (POLLERR | POLLNVAL))
                    bad = 1;
                if (!bad && (pfd[j].revents & (POLLIN | POLLHUP)))
                    bad = conn_read(c) < 0;
                if (!bad && (pfd[j].revents & POLLOUT))
                    bad = conn_flush(c) < 0;
                if (bad)
                    conn_close(i);
            }
        }
        now = now_ms();
        if (now >= next_tick) {
            for (int i = 0; i < MAX_CONNS; i++) {
                struct conn *c = conns[i];
                if (c && c->kind == K_TICK) {
                    char line[64];
                    int len = snprintf(line, sizeof line, "%llu %llu\n",
                                       (unsigned long long)++c->seq,
                                       (unsigned long long)now);
                    conn_queue(c, line, len);
                    if (conn_flush(c) < 0)
                        conn_close(i);
                }
            }
            /* Skip missed ticks (e.g. while the VM was paused). */
            while (next_tick <= now)
                next_tick += TICK_MS;
        }
    }
}
