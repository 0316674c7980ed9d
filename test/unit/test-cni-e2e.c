/*
 * test-cni-e2e.c: the ovn-lm binary end to end, against a FAKE daemon.
 *
 * The daemon here is a stand-in written for this test, NOT
 * ovn-controller-ext: it only speaks the transport of ovn-lm-proto.h,
 * saves each request to a file and answers with whatever the test put in
 * the reply file ("!close" closes without a word, "!hang" never answers,
 * "!big" sends more than OVN_LM_MAX_MSG).  The real daemon has its own
 * tests.  This test checks what a container runtime sees: exact stdout,
 * exit status, and the attachment records left on disk.
 *
 * Usage: test-cni-e2e PATH-TO-OVN-LM
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ovn-lm-proto.h"
#include "test-fs.h"
#include "test.h"

static char tmp_dir[] = "/tmp/test-cni-e2e-XXXXXX";
static const char *binary;
static char *sock_path;         /* Where the fake daemon listens. */
static char *missing_sock;      /* Where nothing listens. */
static char *state_dir;
static char *reply_path;        /* What the fake daemon answers next. */
static char *request_path;      /* The last request it received. */
static pid_t daemon_pid;

static char *
xasprintf(const char *format, ...)
{
    va_list args;
    char *s;

    va_start(args, format);
    if (vasprintf(&s, format, args) < 0) {
        abort();
    }
    va_end(args);
    return s;
}

/* Strings built inline in arguments, freed at exit so that LeakSanitizer
 * stays quiet. */
static char *autofree_list[256];
static size_t n_autofree;

static char *
autofree(char *s)
{
    if (n_autofree >= sizeof autofree_list / sizeof *autofree_list) {
        abort();
    }
    autofree_list[n_autofree++] = s;
    return s;
}

static void
autofree_all(void)
{
    while (n_autofree) {
        free(autofree_list[--n_autofree]);
    }
}

/* Reads 'fd' to EOF, at most 'max' bytes. */
static char *
read_fd(int fd, size_t max)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap + 1);

    for (;;) {
        ssize_t n;

        if (len == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
        n = read(fd, buf + len, cap - len);
        if (n > 0) {
            len += n;
            if (len > max) {
                break;
            }
        } else if (!n || errno != EINTR) {
            break;
        }
    }
    buf[len] = '\0';
    return buf;
}

static char *
read_file(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *s;

    if (fd < 0) {
        return NULL;
    }
    s = read_fd(fd, 8 * OVN_LM_MAX_MSG);
    close(fd);
    return s;
}

static void
write_file(const char *path, const char *content)
{
    char *tmp = xasprintf("%s.new", path);
    FILE *f = fopen(tmp, "w");

    if (!f || fputs(content, f) < 0 || fclose(f) || rename(tmp, path)) {
        perror(path);
        exit(1);
    }
    free(tmp);
}

/* The fake daemon: one connection at a time, as ovn-lm-proto.h says. */
static void
fake_daemon_serve(int lfd)
{
    signal(SIGPIPE, SIG_IGN);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        char *request, *reply;

        if (fd < 0) {
            if (errno == EINTR) {
                continue;
            }
            _exit(1);
        }
        request = read_fd(fd, 2 * OVN_LM_MAX_MSG);
        write_file(request_path, request);
        reply = read_file(reply_path);
        if (!reply || !strcmp(reply, "!close")) {
            /* Nothing. */
        } else if (!strcmp(reply, "!hang")) {
            /* Until the client gives up and closes. */
            struct pollfd pfd = { .fd = fd, .events = 0 };

            poll(&pfd, 1, 60 * 1000);
        } else if (!strcmp(reply, "!big")) {
            size_t len = OVN_LM_MAX_MSG + 100;
            char *big = malloc(len);

            memset(big, ' ', len);
            big[0] = '{';
            if (write(fd, big, len) < 0) {
                /* The client stopped reading: fine. */
            }
            free(big);
        } else if (write(fd, reply, strlen(reply)) < 0) {
            _exit(1);
        }
        close(fd);
        free(request);
        free(reply);
    }
}

static void
start_fake_daemon(void)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sock_path);
    if (lfd < 0 || bind(lfd, (struct sockaddr *) &sun, sizeof sun) < 0
        || listen(lfd, 16) < 0) {
        perror("fake daemon");
        exit(1);
    }
    daemon_pid = fork();
    if (daemon_pid < 0) {
        perror("fork");
        exit(1);
    } else if (!daemon_pid) {
        fake_daemon_serve(lfd);
    }
    close(lfd);
}

struct run {
    int status;                 /* Exit status, or 128 + signal. */
    char *out;
    char *err;
};

static void
run_free(struct run *r)
{
    free(r->out);
    free(r->err);
}

/* Runs the binary with exactly the environment 'env' (NULL-terminated)
 * and 'input' on stdin. */
static void
run_plugin(char *const env[], const char *input, struct run *r)
{
    int in[2], out[2], err[2];
    int wstatus;
    pid_t pid;

    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)
        || pipe2(err, O_CLOEXEC)) {
        perror("pipe");
        exit(1);
    }
    unlink(request_path);
    pid = fork();
    if (!pid) {
        char *argv[] = { (char *) binary, NULL };

        dup2(in[0], 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execve(binary, argv, env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    close(err[1]);
    signal(SIGPIPE, SIG_IGN);
    if (write(in[1], input, strlen(input)) < 0) {
        /* The plugin may exit without reading. */
    }
    close(in[1]);
    r->out = read_fd(out[0], 4 * OVN_LM_MAX_MSG);
    r->err = read_fd(err[0], 4 * OVN_LM_MAX_MSG);
    close(out[0]);
    close(err[0]);
    waitpid(pid, &wstatus, 0);
    r->status = (WIFEXITED(wstatus) ? WEXITSTATUS(wstatus)
                 : 128 + WTERMSIG(wstatus));
}

/* Environment for 'cmd' with the usual attachment c1/eth0. */
#define MAX_ENV 10
struct env {
    char *vars[MAX_ENV + 1];
    int n;
};

static void
env_add(struct env *e, const char *name, const char *value)
{
    if (value && e->n < MAX_ENV) {
        e->vars[e->n++] = xasprintf("%s=%s", name, value);
        e->vars[e->n] = NULL;
    }
}

static void
env_free(struct env *e)
{
    for (int i = 0; i < e->n; i++) {
        free(e->vars[i]);
    }
    e->n = 0;
    e->vars[0] = NULL;
}

static void
env_init(struct env *e, const char *cmd, const char *cid, const char *netns,
         const char *ifname, const char *args)
{
    e->n = 0;
    e->vars[0] = NULL;
    env_add(e, "CNI_COMMAND", cmd);
    env_add(e, "CNI_CONTAINERID", cid);
    env_add(e, "CNI_NETNS", netns);
    env_add(e, "CNI_IFNAME", ifname);
    env_add(e, "CNI_ARGS", args);
    env_add(e, "CNI_PATH", "/opt/cni/bin");
}

/* A network configuration "net1" with cniVersion 'version', talking to
 * 'sock', plus 'extra' keys (",\"k\":v"). */
static char *
conf_at(const char *sock, const char *version, const char *extra)
{
    return xasprintf("{\"cniVersion\":\"%s\",\"name\":\"net1\","
                     "\"type\":\"ovn-lm\",\"logicalSwitch\":\"ls1\","
                     "\"socket\":\"%s\",\"stateDir\":\"%s\","
                     "\"readyTimeout\":1%s}",
                     version, sock, state_dir, extra ? extra : "");
}

static char *
conf(const char *version, const char *extra)
{
    return conf_at(sock_path, version, extra);
}

static char *
record(const char *cid, const char *ifname)
{
    return xasprintf("%s/net1/%s:%s", state_dir, cid, ifname);
}

static void
set_reply(const char *reply)
{
    write_file(reply_path, reply);
}

/* Runs 'cmd' for attachment c1/eth0 with 'config' and checks the exit
 * status and exact stdout ('out' without the trailing newline, NULL for
 * none). */
static void
check_run(const char *name, const char *cmd, const char *args,
          const char *config, int status, const char *out)
{
    struct env e;
    struct run r;
    char *expected = out ? xasprintf("%s\n", out) : strdup("");

    test_case(name);
    env_init(&e, cmd, "c1", !strcmp(cmd, "DEL") ? NULL : "/run/netns/p1",
             "eth0", args);
    run_plugin(e.vars, config, &r);
    TEST_EQ_INT(r.status, status);
    TEST_EQ_STR(r.out, expected);
    run_free(&r);
    env_free(&e);
    free(expected);
}

/* The error for a 1.0.0 configuration when the daemon at 'sock' cannot be
 * reached, 'why', with 'details' (NULL for the usual ones). */
static const char *
unreachable(const char *sock, const char *why, const char *details)
{
    return autofree(xasprintf("{\"cniVersion\":\"1.0.0\",\"code\":11,"
                              "\"msg\":\"cannot reach ovn-controller-ext at "
                              "%s: %s\",\"details\":\"%s\"}", sock, why,
                              (details ? details
                               : "ovn-controller-ext is not running or not "
                                 "ready; try again later")));
}

/* The error for a 1.0.0 configuration when the daemon at 'sock' closed the
 * connection after the request left, 'why'. */
static const char *
cut_off(const char *sock, const char *why)
{
    return autofree(xasprintf("{\"cniVersion\":\"1.0.0\",\"code\":11,"
                              "\"msg\":\"ovn-controller-ext at %s closed "
                              "the connection before answering: %s\","
                              "\"details\":\"it may be restarting, and may "
                              "have acted on the request; try again later\"}",
                              sock, why));
}

static const char result_11[] =
    "{\"cniVersion\":\"1.1.0\",\"interfaces\":[{\"name\":\"eth0\","
    "\"mac\":\"0a:58:0a:00:00:05\",\"mtu\":1400,\"sandbox\":\"/run/netns/p1\""
    "}],\"ips\":[{\"interface\":0,\"address\":\"10.0.0.5/24\","
    "\"gateway\":\"10.0.0.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
    "\"gw\":\"10.0.0.1\"}]}";

static void
test_version(void)
{
    struct env e;
    struct run r;

    check_run("VERSION echoes the input's cniVersion", "VERSION", NULL,
              "{\"cniVersion\":\"1.0.0\"}", 0,
              "{\"cniVersion\":\"1.0.0\",\"supportedVersions\":[\"0.3.0\","
              "\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}");
    check_run("VERSION without input", "VERSION", NULL, "", 0,
              "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.3.0\","
              "\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}");

    test_case("no CNI_COMMAND prints what it is");
    e.n = 0;
    e.vars[0] = NULL;
    run_plugin(e.vars, "", &r);
    TEST_EQ_INT(r.status, 0);
    TEST_EQ_STR(r.out, "");
    TEST_CONTAINS(r.err, "CNI plugin ovn-lm");
    TEST_CONTAINS(r.err, "0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0");
    run_free(&r);
}

static void
test_errors(void)
{
    char *c10 = conf("1.0.0", NULL);
    char *c031 = conf("0.3.1", ",\"prevResult\":{}");
    struct env e;
    struct run r;

    set_reply("{\"result\":{}}");
    check_run("bad JSON", "ADD", NULL, "{\"name\":", 1,
              "{\"cniVersion\":\"1.1.0\",\"code\":6,\"msg\":\"network "
              "configuration: invalid JSON at byte 8: unexpected end of "
              "input\"}");
    check_run("unknown command", "FOO", NULL, c10, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":\"unknown "
              "CNI_COMMAND \\\"FOO\\\"\"}");
    check_run("unknown command, bad JSON first", "FOO", NULL, "[", 1,
              "{\"cniVersion\":\"1.1.0\",\"code\":6,\"msg\":\"network "
              "configuration: invalid JSON at byte 1: unexpected end of "
              "input\"}");
    check_run("CHECK on 0.3.1", "CHECK", NULL, c031, 1,
              "{\"cniVersion\":\"0.3.1\",\"code\":1,\"msg\":\"cniVersion "
              "0.3.1 does not allow CHECK: it needs 0.4.0 or later\"}");
    check_run("unknown CNI_ARGS key", "ADD", "FOO=1", c10, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":\"CNI_ARGS has "
              "unknown keys: FOO\",\"details\":\"set IgnoreUnknown=1 to "
              "ignore unknown keys\"}");
    check_run("bad mtu", "ADD", NULL, autofree(conf("1.0.0", ",\"mtu\":1")), 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"\\\"mtu\\\" "
              "must be an integer from 68 to 65535, not 1\"}");
    TEST_CHECK(!test_exists(request_path));

    test_case("GC on 1.0.0");
    env_init(&e, "GC", NULL, NULL, NULL, NULL);
    run_plugin(e.vars, c10, &r);
    TEST_EQ_INT(r.status, 1);
    TEST_EQ_STR(r.out, "{\"cniVersion\":\"1.0.0\",\"code\":1,\"msg\":"
                "\"cniVersion 1.0.0 does not allow GC: it needs 1.1.0 or "
                "later\"}\n");
    run_free(&r);
    env_free(&e);

    test_case("missing variables");
    env_init(&e, "ADD", NULL, NULL, "eth0", NULL);
    run_plugin(e.vars, c10, &r);
    TEST_EQ_INT(r.status, 1);
    TEST_EQ_STR(r.out, "{\"cniVersion\":\"1.0.0\",\"code\":4,\"msg\":"
                "\"required environment variables missing: CNI_CONTAINERID, "
                "CNI_NETNS\"}\n");
    run_free(&r);
    env_free(&e);
    TEST_CHECK(!test_exists(request_path));
    free(c10);
    free(c031);
}

static void
test_add(void)
{
    char *reply = xasprintf("{\"result\":%s}", result_11);
    char *rec = record("c1", "eth0");
    char *c = conf("1.0.0", ",\"runtimeConfig\":{\"Mac\":\"0A:58:0A:00:00:05\""
                   ",\"portMappings\":[]}");
    char *request;
    cJSON *req;

    set_reply(reply);
    check_run("ADD 1.0.0", "ADD",
              "IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p1;X=y", c, 0,
              "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\","
              "\"mac\":\"0a:58:0a:00:00:05\",\"sandbox\":\"/run/netns/p1\"}],"
              "\"ips\":[{\"interface\":0,\"address\":\"10.0.0.5/24\","
              "\"gateway\":\"10.0.0.1\"}],\"routes\":[{\"dst\":\"0.0.0.0/0\","
              "\"gw\":\"10.0.0.1\"}]}");
    TEST_CHECK(test_exists(rec));

    /* What the daemon got. */
    test_case("ADD request");
    request = read_file(request_path);
    req = request ? cJSON_Parse(request) : NULL;
    if (TEST_CHECK(req)) {
        char *args = cJSON_PrintUnformatted(cJSON_GetObjectItem(req, "args"));
        char *rt = cJSON_PrintUnformatted(cJSON_GetObjectItem(req,
                                                              "runtime"));
        cJSON *config = cJSON_GetObjectItem(req, "config");

        TEST_EQ_INT(cJSON_GetNumberValue(cJSON_GetObjectItem(req, "version")),
                    OVN_LM_PROTO_VERSION);
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "command")),
                    "ADD");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req,
                                                             "containerId")),
                    "c1");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "netns")),
                    "/run/netns/p1");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "ifname")),
                    "eth0");
        TEST_EQ_STR(args, "{\"K8S_POD_NAMESPACE\":\"ns\","
                          "\"K8S_POD_NAME\":\"p1\"}");
        TEST_EQ_STR(rt, "{\"mac\":\"0a:58:0a:00:00:05\"}");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(config,
                                                             "name")),
                    "net1");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(
                        config, "logicalSwitch")), "ls1");
        TEST_CHECK(!cJSON_GetObjectItem(req, "validAttachments"));
        free(args);
        free(rt);
    }
    cJSON_Delete(req);
    free(request);
    free(c);

    c = conf("0.3.1", NULL);
    check_run("ADD 0.3.1", "ADD", NULL, c, 0,
              "{\"cniVersion\":\"0.3.1\",\"interfaces\":[{\"name\":\"eth0\","
              "\"mac\":\"0a:58:0a:00:00:05\",\"sandbox\":\"/run/netns/p1\"}],"
              "\"ips\":[{\"version\":\"4\",\"interface\":0,"
              "\"address\":\"10.0.0.5/24\",\"gateway\":\"10.0.0.1\"}],"
              "\"routes\":[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}]}");
    free(c);

    c = conf("1.1.0", NULL);
    check_run("ADD 1.1.0", "ADD", NULL, c, 0, result_11);
    free(c);

    /* The daemon refuses an ADD of this existing attachment: its record
     * stays, it still belongs to the attachment. */
    c = conf("1.0.0", NULL);
    set_reply("{\"error\":{\"code\":100,\"msg\":\"address in use\","
              "\"details\":\"10.0.0.5 is held by p2\"}}");
    check_run("ADD of an existing attachment refused", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"address in "
              "use\",\"details\":\"10.0.0.5 is held by p2\"}");
    TEST_CHECK(test_exists(rec));

    /* The daemon refuses a new attachment: the record goes. */
    TEST_CHECK(!unlink(rec));
    check_run("ADD refused by the daemon", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":100,\"msg\":\"address in "
              "use\",\"details\":\"10.0.0.5 is held by p2\"}");
    TEST_CHECK(!test_exists(rec));

    /* The request left, no answer came (the daemon exited or died with
     * it): the record stays. */
    set_reply("!close");
    check_run("ADD, daemon closes without a reply", "ADD", NULL, c, 1,
              cut_off(sock_path, "connection closed without a reply"));
    TEST_CHECK(test_exists(rec));
    unlink(rec);

    /* "Try again later" from the daemon is not final (a draining daemon
     * gives it for an ADD it could not finish): the record stays. */
    set_reply("{\"error\":{\"code\":11,\"msg\":\"ovn-controller-ext is "
              "exiting\"}}");
    check_run("ADD answered 11 by the daemon", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":11,\"msg\":"
              "\"ovn-controller-ext is exiting\"}");
    TEST_CHECK(test_exists(rec));
    unlink(rec);

    set_reply("this is not JSON");
    check_run("ADD, garbled reply", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":5,\"msg\":\"invalid reply "
              "from the daemon: daemon reply: invalid JSON at byte 0: invalid "
              "literal\",\"details\":\"the reply of ovn-controller-ext does "
              "not follow the ovn-lm protocol\"}");
    TEST_CHECK(test_exists(rec));
    unlink(rec);

    set_reply("{\"result\":{\"ips\":[{\"address\":\"10.0.0.5\"}]}}");
    check_run("ADD, malformed result", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":5,\"msg\":\"result "
              "\\\"ips[0].address\\\" is missing or invalid\",\"details\":"
              "\"the daemon's ADD result is malformed\"}");
    TEST_CHECK(test_exists(rec));
    unlink(rec);

    set_reply("!big");
    check_run("ADD, oversized reply", "ADD", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":5,\"msg\":\"invalid reply "
              "from the daemon: more than 1048576 bytes\"}");
    TEST_CHECK(test_exists(rec));
    unlink(rec);
    free(c);

    /* Nobody listening: nothing was sent, no record. */
    c = conf_at(missing_sock, "1.0.0", NULL);
    check_run("ADD, daemon not running", "ADD", NULL, c, 1,
              unreachable(missing_sock, "No such file or directory", NULL));
    TEST_CHECK(!test_exists(rec));
    free(c);

    /* A socket file nobody listens on any more (a daemon killed before it
     * could remove it): the same. */
    char *stale = xasprintf("%s/stale.sock", tmp_dir);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", stale);
    TEST_CHECK(fd >= 0 && !bind(fd, (struct sockaddr *) &sun, sizeof sun));
    close(fd);
    c = conf_at(stale, "1.0.0", NULL);
    check_run("ADD, stale socket file", "ADD", NULL, c, 1,
              unreachable(stale, "Connection refused", NULL));
    TEST_CHECK(!test_exists(rec));
    unlink(stale);
    free(stale);
    free(c);

    free(rec);
    free(reply);
}

static void
test_add_timeout(void)
{
    char *rec = record("c1", "eth0");
    char *c = conf("1.0.0", ",\"readyTimeout\":0.01");
    time_t start = time(NULL);

    set_reply("!hang");
    check_run("ADD, daemon never answers", "ADD", NULL, c, 1,
              unreachable(sock_path, "Connection timed out", NULL));
    TEST_CHECK(time(NULL) - start >= 14);
    TEST_CHECK(test_exists(rec));
    unlink(rec);
    free(c);
    free(rec);
}

static void
test_del(void)
{
    char *rec = record("c1", "eth0");
    char *c = conf("1.0.0", NULL);
    char *offline = conf_at(missing_sock, "1.0.0", NULL);
    char *request;
    cJSON *req;

    set_reply(autofree(xasprintf("{\"result\":%s}", result_11)));
    check_run("ADD before DEL", "ADD", NULL, c, 0,
              "{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":"
              "\"eth0\",\"mac\":\"0a:58:0a:00:00:05\",\"sandbox\":"
              "\"/run/netns/p1\"}],\"ips\":[{\"interface\":0,\"address\":"
              "\"10.0.0.5/24\",\"gateway\":\"10.0.0.1\"}],\"routes\":"
              "[{\"dst\":\"0.0.0.0/0\",\"gw\":\"10.0.0.1\"}]}");
    TEST_CHECK(test_exists(rec));

    /* Daemon down, record there: try again later. */
    check_run("DEL, daemon down, record exists", "DEL", NULL, offline, 1,
              unreachable(missing_sock, "No such file or directory",
                          autofree(xasprintf("the attachment record %s "
                                             "exists, so the attachment may "
                                             "still be in place", rec))));
    TEST_CHECK(test_exists(rec));

    set_reply("{\"error\":{\"code\":101,\"msg\":\"OVN NB transaction "
              "failed\"}}");
    check_run("DEL refused by the daemon", "DEL", NULL, c, 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":101,\"msg\":\"OVN NB "
              "transaction failed\"}");
    TEST_CHECK(test_exists(rec));

    set_reply("{\"result\":{}}");
    check_run("DEL", "DEL", NULL, c, 0, NULL);
    TEST_CHECK(!test_exists(rec));
    test_case("DEL request");
    request = read_file(request_path);
    req = request ? cJSON_Parse(request) : NULL;
    if (TEST_CHECK(req)) {
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "command")),
                    "DEL");
        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "netns")),
                    "");
    }
    cJSON_Delete(req);
    free(request);

    check_run("second DEL", "DEL", NULL, c, 0, NULL);
    check_run("DEL, daemon down, no record", "DEL", NULL, offline, 0, NULL);

    /* Without prevResult and netns, as containerd's second DEL. */
    check_run("DEL without prevResult", "DEL", NULL,
              "{\"cniVersion\":\"1.0.0\",\"name\":\"net1\",\"socket\":"
              "\"/nonexistent.sock\"}", 0, NULL);
    free(c);
    free(offline);
    free(rec);
}

static void
test_check_status(void)
{
    char *c = conf("1.0.0", ",\"prevResult\":{\"interfaces\":[]}");
    char *offline = conf_at(missing_sock, "1.0.0",
                            ",\"prevResult\":{\"interfaces\":[]}");
    char *s11 = conf("1.1.0", NULL);
    char *s11_offline = conf_at(missing_sock, "1.1.0", NULL);
    struct env e;
    struct run r;

    set_reply("{\"result\":{}}");
    check_run("CHECK", "CHECK", NULL, c, 0, NULL);
    TEST_CHECK(test_exists(request_path));
    check_run("CHECK, daemon down", "CHECK", NULL, offline, 1,
              unreachable(missing_sock, "No such file or directory", NULL));
    check_run("CHECK without prevResult", "CHECK", NULL,
              autofree(conf("1.0.0", NULL)), 1,
              "{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"CHECK needs "
              "\\\"prevResult\\\" in the network configuration\"}");

    env_init(&e, "STATUS", NULL, NULL, NULL, NULL);
    test_case("STATUS");
    run_plugin(e.vars, s11, &r);
    TEST_EQ_INT(r.status, 0);
    TEST_EQ_STR(r.out, "");
    run_free(&r);

    test_case("STATUS, daemon down");
    run_plugin(e.vars, s11_offline, &r);
    TEST_EQ_INT(r.status, 1);
    TEST_CONTAINS(r.out, "{\"cniVersion\":\"1.1.0\",\"code\":50,");
    run_free(&r);

    test_case("STATUS, daemon says limited");
    set_reply("{\"error\":{\"code\":51,\"msg\":\"OVN southbound "
              "unreachable\"}}");
    run_plugin(e.vars, s11, &r);
    TEST_EQ_INT(r.status, 1);
    TEST_EQ_STR(r.out, "{\"cniVersion\":\"1.1.0\",\"code\":51,\"msg\":\"OVN "
                "southbound unreachable\"}\n");
    run_free(&r);
    env_free(&e);

    free(c);
    free(offline);
    free(s11);
    free(s11_offline);
}

static void
test_gc(void)
{
    char *a = record("a", "eth0");
    char *b = record("b", "eth0");
    char *net1 = xasprintf("%s/net1", state_dir);
    char *c = conf("1.1.0", ",\"cni.dev/valid-attachments\":[{\"containerID\""
                   ":\"a\",\"ifname\":\"eth0\"}],\"cni.dev/attachments\":"
                   "[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]");
    char *offline = conf_at(missing_sock, "1.1.0", NULL);
    char *request;
    struct env e;
    struct run r;
    cJSON *req;

    set_reply(autofree(xasprintf("{\"result\":%s}", result_11)));
    env_init(&e, "ADD", "a", "/run/netns/a", "eth0", NULL);
    run_plugin(e.vars, autofree(conf("1.1.0", NULL)), &r);
    run_free(&r);
    env_free(&e);
    env_init(&e, "ADD", "b", "/run/netns/b", "eth0", NULL);
    run_plugin(e.vars, autofree(conf("1.1.0", NULL)), &r);
    run_free(&r);
    env_free(&e);
    test_case("GC setup");
    TEST_CHECK(test_exists(a) && test_exists(b));

    env_init(&e, "GC", NULL, NULL, NULL, NULL);
    test_case("GC, daemon down");
    run_plugin(e.vars, offline, &r);
    TEST_EQ_INT(r.status, 1);
    TEST_CONTAINS(r.out, "\"code\":11");
    TEST_CHECK(test_exists(a) && test_exists(b));
    run_free(&r);

    test_case("GC");
    set_reply("{\"result\":{}}");
    run_plugin(e.vars, c, &r);
    TEST_EQ_INT(r.status, 0);
    TEST_EQ_STR(r.out, "");
    TEST_CHECK(test_exists(a));
    TEST_CHECK(!test_exists(b));
    run_free(&r);
    env_free(&e);

    request = read_file(request_path);
    req = request ? cJSON_Parse(request) : NULL;
    if (TEST_CHECK(req)) {
        char *valid = cJSON_PrintUnformatted(
            cJSON_GetObjectItem(req, "validAttachments"));

        TEST_EQ_STR(cJSON_GetStringValue(cJSON_GetObjectItem(req, "command")),
                    "GC");
        TEST_EQ_STR(valid, "[{\"containerID\":\"a\",\"ifname\":\"eth0\"}]");
        free(valid);
    }
    cJSON_Delete(req);
    free(request);

    test_case("no temporary files left");
    TEST_EQ_INT(test_count_temp_files(net1), 0);

    free(a);
    free(b);
    free(net1);
    free(c);
    free(offline);
}

int
main(int argc, char *argv[])
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s PATH-TO-OVN-LM\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    if (!mkdtemp(tmp_dir)) {
        perror("mkdtemp");
        return 1;
    }
    sock_path = xasprintf("%s/fake-daemon.sock", tmp_dir);
    missing_sock = xasprintf("%s/nobody.sock", tmp_dir);
    state_dir = xasprintf("%s/state", tmp_dir);
    reply_path = xasprintf("%s/reply", tmp_dir);
    request_path = xasprintf("%s/request", tmp_dir);
    start_fake_daemon();

    test_version();
    test_errors();
    test_add();
    test_del();
    test_check_status();
    test_gc();
    test_add_timeout();

    kill(daemon_pid, SIGTERM);
    waitpid(daemon_pid, NULL, 0);
    test_remove_tree(tmp_dir);
    autofree_all();
    free(sock_path);
    free(missing_sock);
    free(state_dir);
    free(reply_path);
    free(request_path);
    return test_summary();
}
