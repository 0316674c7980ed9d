/*
 * test-pod-net: pod-net.c against the kernel.
 *
 * The parent process only creates and removes namespaces, all named
 * "lmt<pid>-*".  A forked child runs the tests: it first moves into the
 * "host" namespace lmt<pid>-h, which plays the daemon's namespace, so
 * nothing touches the machine's real one.  Pods are lmt<pid>-a, -b, -c.
 * When the child ends, however it ends (crash, sanitizer abort, timeout),
 * the parent deletes the namespaces, which takes every link, bridge and
 * route the tests made with them, and prints the closing "N passed, N
 * failed" line.
 *
 * The tests check with `ip -j`, ethtool and their own sockets rather than
 * with pod-net.c's netlink code, so that a bug there cannot hide itself.
 */

#include "pod-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <netpacket/packet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "csum.h"
#include "packets.h"
#include "util.h"
#include "test.h"

/* How long the child may run. */
#define TEST_TIMEOUT_S 90

/* Counts, copied from test.h's 'test_state' after each test into memory
 * shared with the parent, so that they survive a crash of the child. */
struct results {
    int passed;
    int failed;
};
static struct results *results;

static char prefix[32];         /* "lmt<pid>-" */
static int host_ns_fd = -1;     /* The child's "daemon" namespace. */
static ino_t host_ns_ino;

/* Suffixes of the namespaces: "h" for the host, then the pods. */
static const char *const namespaces[] = { "h", "a", "b", "c" };

/* Counts a failure that no TEST_* macro expresses, with a message. */
static void OVS_PRINTF_FORMAT(3, 4)
fail_at(const char *file, int line, const char *format, ...)
{
    va_list args;

    test_state.failed++;
    fprintf(stderr, "%s:%d: FAILED: ", file, line);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
}

/* Helpers. */

static char * OVS_PRINTF_FORMAT(1, 2)
fmt(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *s = xvasprintf(format, args);
    va_end(args);
    return s;
}

/* Runs a shell command; returns its exit status, or -1. */
static int OVS_PRINTF_FORMAT(1, 2)
run(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *cmd = xvasprintf(format, args);
    va_end(args);

    fflush(stdout);
    fflush(stderr);
    int status = system(cmd);
    int retval = (status != -1 && WIFEXITED(status)
                  ? WEXITSTATUS(status) : -1);
    free(cmd);
    return retval;
}

/* Runs a shell command and returns its standard output (malloc'd), or
 * NULL if it failed. */
static char * OVS_PRINTF_FORMAT(1, 2)
capture(const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *cmd = xvasprintf(format, args);
    va_end(args);

    fflush(stdout);
    FILE *stream = popen(cmd, "r");
    free(cmd);
    if (!stream) {
        return NULL;
    }

    size_t size = 0, allocated = 4096;
    char *out = xmalloc(allocated);
    size_t n;
    while ((n = fread(out + size, 1, allocated - size - 1, stream)) > 0) {
        size += n;
        if (allocated - size < 2) {
            allocated *= 2;
            out = xrealloc(out, allocated);
        }
    }
    out[size] = '\0';
    if (pclose(stream)) {
        free(out);
        return NULL;
    }
    return out;
}

/* Returns the parsed JSON output of `ip <args>` run in namespace 'ns'
 * ("h", "a", ...), or NULL. */
static cJSON * OVS_PRINTF_FORMAT(2, 3)
ip_json(const char *ns, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    char *ip_args = xvasprintf(format, args);
    va_end(args);

    char *out = capture("ip -n %s%s -j %s 2>/dev/null", prefix, ns,
                        ip_args);
    free(ip_args);
    if (!out) {
        return NULL;
    }
    cJSON *json = cJSON_Parse(out);
    free(out);
    return json;
}

static char *
ns_path(const char *ns)
{
    return fmt("/run/netns/%s%s", prefix, ns);
}

static bool
link_exists(const char *ns, const char *name)
{
    return !run("ip -n %s%s link show dev %s >/dev/null 2>&1", prefix, ns,
                name);
}

/* Does the JSON array of strings 'array' hold 's'? */
static bool
json_array_has(const cJSON *array, const char *s)
{
    const cJSON *item;

    cJSON_ArrayForEach (item, array) {
        if (cJSON_IsString(item) && !strcmp(item->valuestring, s)) {
            return true;
        }
    }
    return false;
}

static const char *
json_str(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsString(item) ? item->valuestring : "";
}

static int
json_int(const cJSON *obj, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(item) ? item->valueint : -1;
}

/* The thread's namespace, by inode. */
static ino_t
thread_ns_ino(void)
{
    struct stat st;
    return stat("/proc/thread-self/ns/net", &st) ? 0 : st.st_ino;
}

/* Opens a socket inside namespace 'ns' and returns to the host one. */
static int
socket_in_ns(const char *ns, int domain, int type, int protocol)
{
    char *path = ns_path(ns);
    int ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (ns_fd < 0) {
        return -1;
    }

    int fd = -1;
    if (!setns(ns_fd, CLONE_NEWNET)) {
        fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        if (setns(host_ns_fd, CLONE_NEWNET)) {
            abort();
        }
    }
    close(ns_fd);
    return fd;
}

/* Pod specs. */

static char host_a[POD_NET_IFNAMSIZ];
static char host_b[POD_NET_IFNAMSIZ];
static char host_c[POD_NET_IFNAMSIZ];

static const struct eth_addr mac_a = ETH_ADDR_C(0a, 58, 0a, 63, 00, 05);
static const struct eth_addr mac_b = ETH_ADDR_C(0a, 58, 0a, 63, 00, 06);
static const struct eth_addr mac_c = ETH_ADDR_C(0a, 58, 0a, 63, 00, 07);

/* Fills '*spec' for pod 'ns' ("a", "b", "c") with host interface 'host',
 * 'mac' and host part 'n' of its addresses: 10.99.0.n/24 and fd99::n/64,
 * gateways .1 and ::1.  free_spec() frees it. */
static void
make_spec(struct pod_net_spec *spec, const char *ns, const char *host,
          struct eth_addr mac, int n)
{
    memset(spec, 0, sizeof *spec);
    spec->netns_path = ns_path(ns);
    spec->ifname = "eth0";
    spec->host_ifname = host;
    spec->mac = mac;
    spec->mtu = 1400;

    char *a4 = fmt("10.99.0.%d/24", n);
    char *a6 = fmt("fd99::%d/64", n);
    if (pod_net_addr_parse(a4, &spec->addrs[0])
        || pod_net_addr_parse(a6, &spec->addrs[1])) {
        fail_at(__FILE__, __LINE__, "cannot parse %s or %s", a4, a6);
    }
    free(a4);
    free(a6);
    spec->n_addrs = 2;

    spec->has_gateway4 = true;
    inet_pton(AF_INET, "10.99.0.1", &spec->gateway4);
    spec->has_gateway6 = true;
    inet_pton(AF_INET6, "fd99::1", &spec->gateway6);
}

static void
free_spec(struct pod_net_spec *spec)
{
    free(CONST_CAST(char *, spec->netns_path));
    spec->netns_path = NULL;
}

/* Adds 'spec', failing the test if that fails. */
static bool
add_ok(const struct pod_net_spec *spec, struct pod_net_state *state)
{
    struct pod_net_state tmp;
    char *err = NULL;
    int error = pod_net_add(spec, state ? state : &tmp, &err);
    if (error) {
        fail_at(__FILE__, __LINE__, "pod_net_add(%s): %s",
                spec->host_ifname, err ? err : ovs_strerror(error));
    }
    free(err);
    return !error;
}

/* Tests. */

static void
test_host_ifname(void)
{
    char a[POD_NET_IFNAMSIZ], b[POD_NET_IFNAMSIZ];

    pod_net_host_ifname("0123456789abcdef", "eth0", a);
    pod_net_host_ifname("0123456789abcdef", "eth0", b);
    TEST_EQ_STR(a, b);
    TEST_EQ_INT(strlen(a), 14);
    TEST_CHECK(!strncmp(a, "lm", 2));
    TEST_EQ_INT(strspn(a + 2, "0123456789abcdef"), 12);

    pod_net_host_ifname("0123456789abcdef", "eth1", b);
    TEST_CHECK(strcmp(a, b));
    pod_net_host_ifname("0123456789abcdeg", "eth0", b);
    TEST_CHECK(strcmp(a, b));
    pod_net_host_ifname("ab", "c", a);
    pod_net_host_ifname("a", "bc", b);
    TEST_CHECK(strcmp(a, b));
}

static void
test_addr_parse(void)
{
    struct pod_net_addr addr;
    char buf[POD_NET_ADDRSTRLEN];

    TEST_EQ_INT(pod_net_addr_parse("10.1.2.3/24", &addr), 0);
    TEST_EQ_INT(addr.family, AF_INET);
    TEST_EQ_INT(addr.plen, 24);
    TEST_EQ_STR(pod_net_addr_format(&addr, buf), "10.1.2.3/24");

    TEST_EQ_INT(pod_net_addr_parse("fd00::1:5/128", &addr), 0);
    TEST_EQ_INT(addr.family, AF_INET6);
    TEST_EQ_INT(addr.plen, 128);
    TEST_EQ_STR(pod_net_addr_format(&addr, buf), "fd00::1:5/128");

    addr.plen = 7;
    TEST_EQ_INT(pod_net_addr_parse("10.1.2.3", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("10.1.2.3/33", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("10.1.2.3/", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("10.1.2.3/2x", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("fd00::1/129", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("/24", &addr), EINVAL);
    TEST_EQ_INT(pod_net_addr_parse("bogus/24", &addr), EINVAL);
    TEST_EQ_INT(addr.plen, 7);    /* Untouched on failure. */
}

/* Checks pod 'ns' has eth0 as 'spec' says, with `ip -j` and ethtool. */
static void
verify_pod(const char *ns, const struct pod_net_spec *spec)
{
    char mac[ETH_ADDR_STRLEN + 1];
    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(spec->mac));

    /* The pod end: a veth with our MAC and MTU, up, IPv6 addresses not
     * generated by the kernel. */
    cJSON *json = ip_json(ns, "-d link show dev eth0");
    const cJSON *link = cJSON_GetArrayItem(json, 0);
    TEST_CHECK(link != NULL);
    TEST_EQ_STR(json_str(link, "address"), mac);
    TEST_EQ_INT(json_int(link, "mtu"), spec->mtu);
    TEST_CHECK(json_array_has(cJSON_GetObjectItem(link, "flags"), "UP"));
    const cJSON *info = cJSON_GetObjectItem(link, "linkinfo");
    TEST_EQ_STR(json_str(info, "info_kind"), "veth");
    TEST_EQ_STR(json_str(link, "inet6_addr_gen_mode"), "none");
    cJSON_Delete(json);

    json = ip_json(ns, "link show dev lo");
    link = cJSON_GetArrayItem(json, 0);
    TEST_CHECK(json_array_has(cJSON_GetObjectItem(link, "flags"), "UP"));
    cJSON_Delete(json);

    /* Addresses, none tentative, and the EUI-64 link-local. */
    char buf[POD_NET_ADDRSTRLEN];
    struct pod_net_addr lla = { .family = AF_INET6, .plen = 64 };
    in6_generate_lla(spec->mac, &lla.in6);
    pod_net_addr_format(&lla, buf);
    *strchr(buf, '/') = '\0';
    bool found_lla = false;
    size_t n_found = 0;

    json = ip_json(ns, "addr show dev eth0");
    const cJSON *addrs = cJSON_GetObjectItem(cJSON_GetArrayItem(json, 0),
                                             "addr_info");
    const cJSON *addr;
    cJSON_ArrayForEach (addr, addrs) {
        const char *local = json_str(addr, "local");
        TEST_CHECK(!cJSON_GetObjectItem(addr, "tentative"));
        TEST_CHECK(!cJSON_GetObjectItem(addr, "dadfailed"));
        if (!strcmp(local, buf)) {
            found_lla = true;
        }
        for (size_t i = 0; i < spec->n_addrs; i++) {
            char want[POD_NET_ADDRSTRLEN];
            pod_net_addr_format(&spec->addrs[i], want);
            *strchr(want, '/') = '\0';
            if (!strcmp(local, want)
                && json_int(addr, "prefixlen") == (int) spec->addrs[i].plen) {
                n_found++;
            }
        }
    }
    TEST_EQ_INT(n_found, spec->n_addrs);
    TEST_CHECK(found_lla);
    cJSON_Delete(json);

    /* Default routes. */
    char gw[INET6_ADDRSTRLEN];
    json = ip_json(ns, "-4 route show default");
    const cJSON *route = cJSON_GetArrayItem(json, 0);
    inet_ntop(AF_INET, &spec->gateway4, gw, sizeof gw);
    TEST_EQ_STR(json_str(route, "gateway"), gw);
    TEST_EQ_STR(json_str(route, "dev"), "eth0");
    cJSON_Delete(json);

    json = ip_json(ns, "-6 route show default");
    route = cJSON_GetArrayItem(json, 0);
    inet_ntop(AF_INET6, &spec->gateway6, gw, sizeof gw);
    TEST_EQ_STR(json_str(route, "gateway"), gw);
    TEST_EQ_STR(json_str(route, "dev"), "eth0");
    cJSON_Delete(json);

    /* The host end. */
    json = ip_json("h", "-d link show dev %s", spec->host_ifname);
    link = cJSON_GetArrayItem(json, 0);
    TEST_CHECK(link != NULL);
    TEST_EQ_INT(json_int(link, "mtu"), spec->mtu);
    TEST_CHECK(json_array_has(cJSON_GetObjectItem(link, "flags"), "UP"));
    cJSON_Delete(json);

    /* Tx checksum offload off on both ends. */
    TEST_EQ_INT(run("ip netns exec %s%s ethtool -k eth0 "
                    "| grep -qx 'tx-checksumming: off'", prefix, ns), 0);
    TEST_EQ_INT(run("ip netns exec %sh ethtool -k %s "
                    "| grep -qx 'tx-checksumming: off'", prefix,
                    spec->host_ifname), 0);
}

static void
test_add_check_del(void)
{
    struct pod_net_spec spec;
    struct pod_net_state state;
    char *err = NULL;

    make_spec(&spec, "a", host_a, mac_a, 5);
    memset(&state, 0, sizeof state);
    if (!add_ok(&spec, &state)) {
        goto out;
    }
    TEST_CHECK(state.host_ifindex > 0);
    TEST_CHECK(state.pod_ifindex > 0);
    TEST_CHECK(eth_addr_equals(state.pod_mac, mac_a));
    TEST_CHECK(!eth_addr_is_zero(state.host_mac));
    TEST_EQ_INT(state.mtu, 1400);
    verify_pod("a", &spec);

    int mtu = 0;
    TEST_EQ_INT(pod_net_get_mtu(host_a, &mtu), 0);
    TEST_EQ_INT(mtu, 1400);
    TEST_EQ_INT(pod_net_get_mtu("lmnosuchlink", &mtu), ENODEV);
    TEST_EQ_INT(mtu, 1400);

    /* CHECK passes, then notices each thing we break. */
    err = (char *) "untouched";
    TEST_EQ_INT(pod_net_check(&spec, &err), 0);
    TEST_CHECK(err == NULL);

    run("ip -n %sa link set eth0 mtu 1300", prefix);
    TEST_EQ_INT(pod_net_check(&spec, &err), EINVAL);
    TEST_CONTAINS(err, "MTU 1300, expected 1400");
    free(err);
    run("ip -n %sa link set eth0 mtu 1400", prefix);
    TEST_EQ_INT(pod_net_check(&spec, NULL), 0);

    run("ip -n %sa addr del 10.99.0.5/24 dev eth0", prefix);
    TEST_EQ_INT(pod_net_check(&spec, &err), EINVAL);
    TEST_CONTAINS(err, "address 10.99.0.5/24 missing on eth0");
    free(err);

    /* Losing its last IPv4 address took the default route along. */
    run("ip -n %sa addr add 10.99.0.5/24 dev eth0", prefix);
    TEST_EQ_INT(pod_net_check(&spec, &err), EINVAL);
    TEST_CONTAINS(err, "no default route via 10.99.0.1");
    free(err);
    run("ip -n %sa route add default via 10.99.0.1 dev eth0", prefix);
    TEST_EQ_INT(pod_net_check(&spec, NULL), 0);

    run("ip link set %s down", host_a);
    TEST_EQ_INT(pod_net_check(&spec, &err), EINVAL);
    TEST_CONTAINS(err, "is down");
    free(err);
    run("ip link set %s up", host_a);

    struct pod_net_spec other = spec;
    other.mac = mac_b;
    TEST_EQ_INT(pod_net_check(&other, &err), EINVAL);
    TEST_CONTAINS(err, "has MAC 0a:58:0a:63:00:05, expected "
                  "0a:58:0a:63:00:06");
    free(err);

    TEST_EQ_INT(pod_net_check(&spec, NULL), 0);

    /* DEL, twice, then CHECK finds nothing. */
    err = (char *) "untouched";
    TEST_EQ_INT(pod_net_del(host_a, spec.netns_path, "eth0", &err), 0);
    TEST_CHECK(err == NULL);
    TEST_CHECK(!link_exists("h", host_a));
    TEST_CHECK(!link_exists("a", "eth0"));
    TEST_EQ_INT(pod_net_del(host_a, spec.netns_path, "eth0", NULL), 0);
    TEST_EQ_INT(pod_net_del(host_a, "", "eth0", NULL), 0);
    TEST_EQ_INT(pod_net_del(host_a, NULL, NULL, NULL), 0);

    TEST_EQ_INT(pod_net_check(&spec, &err), ENODEV);
    TEST_CONTAINS(err, "link eth0 not found in netns");
    free(err);

out:
    free_spec(&spec);
}

/* Only the pod end is left (the host end got renamed): DEL finds the veth
 * in the pod and deletes it, and a namespace that is gone or is not one
 * counts as done. */
static void
test_del_paths(void)
{
    struct pod_net_spec spec;
    char *err = NULL;

    make_spec(&spec, "c", host_c, mac_c, 7);
    if (!add_ok(&spec, NULL)) {
        goto out;
    }
    run("ip link set %s down && ip link set %s name %sren", host_c, host_c,
        prefix);
    TEST_CHECK(!link_exists("h", host_c));
    TEST_CHECK(link_exists("c", "eth0"));
    TEST_EQ_INT(pod_net_del(host_c, spec.netns_path, "eth0", &err), 0);
    TEST_CHECK(!link_exists("c", "eth0"));
    char *renamed = fmt("%sren", prefix);
    TEST_CHECK(!link_exists("h", renamed));
    free(renamed);

    /* A namespace deleted under us. */
    if (!add_ok(&spec, NULL)) {
        goto out;
    }
    TEST_EQ_INT(run("ip netns del %sc", prefix), 0);
    TEST_EQ_INT(pod_net_del(host_c, spec.netns_path, "eth0", &err), 0);
    TEST_CHECK(err == NULL);
    /* The namespace dies asynchronously; either it took the pair or the
     * DEL above did. */
    for (int i = 0; i < 30 && link_exists("h", host_c); i++) {
        usleep(100 * 1000);
    }
    TEST_CHECK(!link_exists("h", host_c));
    TEST_EQ_INT(pod_net_del(host_c, spec.netns_path, "eth0", NULL), 0);

    /* A path that is not a namespace, as a stale bind mount leaves. */
    char *stale = fmt("/tmp/%sstale", prefix);
    int fd = open(stale, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    TEST_CHECK(fd >= 0);
    if (fd >= 0) {
        close(fd);
    }
    TEST_EQ_INT(pod_net_del(host_c, stale, "eth0", NULL), 0);
    struct pod_net_spec stale_spec = spec;
    stale_spec.netns_path = stale;
    TEST_EQ_INT(pod_net_check(&stale_spec, &err), EINVAL);
    TEST_CONTAINS(err, "not a network namespace");
    free(err);
    unlink(stale);
    free(stale);

    TEST_EQ_INT(run("ip netns add %sc", prefix), 0);

out:
    free_spec(&spec);
}

static void
test_add_failures(void)
{
    struct pod_net_spec spec;
    struct pod_net_state state;
    char *err = NULL;

    make_spec(&spec, "a", host_a, mac_a, 5);

    /* No such namespace. */
    struct pod_net_spec bad = spec;
    bad.netns_path = "/run/netns/lmt-no-such-netns";
    memset(&state, 0x5a, sizeof state);
    TEST_EQ_INT(pod_net_add(&bad, &state, &err), ENOENT);
    TEST_CONTAINS(err, "netns /run/netns/lmt-no-such-netns: No such file "
                  "or directory");
    free(err);
    TEST_EQ_INT(state.host_ifindex, 0x5a5a5a5a);  /* Untouched. */
    TEST_CHECK(!link_exists("h", host_a));

    /* Malformed specs. */
    bad = spec;
    bad.ifname = "a-very-long-ifname";
    TEST_EQ_INT(pod_net_add(&bad, &state, &err), EINVAL);
    TEST_CONTAINS(err, "longer than 15 bytes");
    free(err);
    bad = spec;
    bad.n_addrs = POD_NET_MAX_ADDRS + 1;
    TEST_EQ_INT(pod_net_add(&bad, &state, NULL), EINVAL);
    TEST_CHECK(!link_exists("h", host_a));

    /* 'ifname' taken in the pod: left alone, nothing created. */
    TEST_EQ_INT(run("ip -n %sa link add eth0 type bridge", prefix), 0);
    TEST_EQ_INT(pod_net_add(&spec, &state, &err), EEXIST);
    TEST_CONTAINS(err, "link eth0 exists in netns /run/netns/");
    free(err);
    TEST_CHECK(!link_exists("h", host_a));
    TEST_CHECK(link_exists("a", "eth0"));
    /* Nor does DEL touch what is not a veth. */
    TEST_EQ_INT(pod_net_del(host_a, spec.netns_path, "eth0", NULL), 0);
    TEST_CHECK(link_exists("a", "eth0"));
    run("ip -n %sa link del eth0", prefix);

    /* 'host_ifname' taken: same. */
    TEST_EQ_INT(run("ip link add %s type bridge", host_a), 0);
    TEST_EQ_INT(pod_net_add(&spec, &state, &err), EEXIST);
    TEST_CONTAINS(err, "exists in the host namespace");
    free(err);
    TEST_CHECK(link_exists("h", host_a));
    TEST_CHECK(!link_exists("a", "eth0"));
    TEST_EQ_INT(pod_net_del(host_a, spec.netns_path, "eth0", NULL), 0);
    TEST_CHECK(link_exists("h", host_a));
    run("ip link del %s", host_a);

    /* Failing after the pair exists (the second copy of an address) undoes
     * everything. */
    bad = spec;
    bad.addrs[2] = bad.addrs[0];
    bad.n_addrs = 3;
    TEST_EQ_INT(pod_net_add(&bad, &state, &err), EEXIST);
    TEST_CONTAINS(err, "add address 10.99.0.5/24 to eth0");
    TEST_CONTAINS(err, "File exists");
    free(err);
    TEST_CHECK(!link_exists("h", host_a));
    TEST_CHECK(!link_exists("a", "eth0"));

    /* An MTU the kernel refuses: the kernel's own words come along. */
    bad = spec;
    bad.mtu = 10;
    TEST_CHECK(pod_net_add(&bad, &state, &err) != 0);
    TEST_CONTAINS(err, "create veth");
    free(err);
    TEST_CHECK(!link_exists("h", host_a));
    TEST_CHECK(!link_exists("a", "eth0"));

    free_spec(&spec);
}

/* Sends ICMP echo requests from pod 'ns' to 'dst', one every 200 ms, until
 * one is answered or 'tries' went unanswered. */
static bool
ping(const char *ns, int family, const char *dst, int tries)
{
    int fd = socket_in_ns(ns, family, SOCK_RAW,
                          family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6);
    if (fd < 0) {
        fail_at(__FILE__, __LINE__, "raw socket in %s: %s", ns,
                ovs_strerror(errno));
        return false;
    }

    struct sockaddr_storage ss;
    socklen_t ss_len;
    memset(&ss, 0, sizeof ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
        sin->sin_family = AF_INET;
        inet_pton(AF_INET, dst, &sin->sin_addr);
        ss_len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
        sin6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, dst, &sin6->sin6_addr);
        ss_len = sizeof *sin6;
    }

    uint16_t id = getpid() & 0xffff;
    bool answered = false;
    for (int seq = 1; seq <= tries && !answered; seq++) {
        /* Type, code, checksum, id, sequence: the same layout for ICMP
         * and ICMPv6, whose checksum the kernel fills in. */
        uint16_t req[16];
        memset(req, 0, sizeof req);
        ((uint8_t *) req)[0] = family == AF_INET ? ICMP_ECHO
                                                 : ICMP6_ECHO_REQUEST;
        req[2] = htons(id);
        req[3] = htons(seq);
        memcpy(&req[4], "ovn-lm pod-net", 14);
        if (family == AF_INET) {
            req[1] = csum(req, sizeof req);
        }
        if (sendto(fd, req, sizeof req, 0, (struct sockaddr *) &ss,
                   ss_len) < 0) {
            fail_at(__FILE__, __LINE__, "sendto %s: %s", dst,
                    ovs_strerror(errno));
            break;
        }

        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        while (!answered && poll(&pfd, 1, 200) > 0) {
            uint8_t buf[2048];
            ssize_t n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0) {
                break;
            }

            /* IPv4 raw sockets see the IP header, IPv6 ones do not. */
            const uint8_t *icmp = buf;
            if (family == AF_INET) {
                size_t ihl = (buf[0] & 0x0f) * 4;
                if (n < (ssize_t) (ihl + 8)) {
                    continue;
                }
                icmp += ihl;
                n -= ihl;
            }
            uint16_t reply_id;
            memcpy(&reply_id, icmp + 4, 2);
            if (n >= 8 && reply_id == htons(id)
                && icmp[0] == (family == AF_INET ? ICMP_ECHOREPLY
                               : ICMP6_ECHO_REPLY)) {
                answered = true;
            }
        }
    }
    close(fd);
    return answered;
}

/* Two pods on a Linux bridge in the host namespace reach each other. */
static void
test_ping(void)
{
    struct pod_net_spec a, b;

    make_spec(&a, "a", host_a, mac_a, 5);
    make_spec(&b, "b", host_b, mac_b, 6);

    TEST_EQ_INT(run("ip link add %sbr type bridge stp_state 0 "
                    "mcast_snooping 0 && ip link set %sbr up", prefix, prefix),
                0);
    if (add_ok(&a, NULL) && add_ok(&b, NULL)) {
        TEST_EQ_INT(run("ip link set %s master %sbr && "
                        "ip link set %s master %sbr",
                        host_a, prefix, host_b, prefix), 0);
        TEST_CHECK(ping("a", AF_INET, "10.99.0.6", 15));
        TEST_CHECK(ping("b", AF_INET, "10.99.0.5", 15));
        TEST_CHECK(ping("a", AF_INET6, "fd99::6", 15));
        /* The ping itself can fail. */
        TEST_CHECK(!ping("a", AF_INET, "10.99.0.77", 2));
    }
    TEST_EQ_INT(pod_net_del(host_b, b.netns_path, "eth0", NULL), 0);
    /* Pod a stays, on the bridge, for the RARP test. */

    free_spec(&a);
    free_spec(&b);
}

/* RARP from pod a, seen on its host end (a bridge port, so only a tap
 * for all protocols sees it before the bridge takes it). */
static void
test_rarp(void)
{
    char *path = ns_path("a");
    char *err = NULL;

    int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
    TEST_CHECK(fd >= 0);
    if (fd < 0) {
        goto out;
    }
    struct sockaddr_ll sll = {
        .sll_family = AF_PACKET,
        .sll_protocol = htons(ETH_P_ALL),
        .sll_ifindex = if_nametoindex(host_a),
    };
    TEST_CHECK(sll.sll_ifindex > 0);
    TEST_EQ_INT(bind(fd, (struct sockaddr *) &sll, sizeof sll), 0);

    err = (char *) "untouched";
    TEST_EQ_INT(pod_net_send_rarp(path, "eth0", &err), 0);
    TEST_CHECK(err == NULL);

    bool seen = false;
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    while (!seen && poll(&pfd, 1, 2000) > 0) {
        uint8_t frame[2048];
        ssize_t n = recv(fd, frame, sizeof frame, 0);
        if (n < ETH_HEADER_LEN || frame[12] != 0x80 || frame[13] != 0x35) {
            continue;
        }
        seen = true;
        TEST_CHECK(n >= 60);
        TEST_CHECK(!memcmp(frame, eth_addr_broadcast.ea, ETH_ADDR_LEN));
        TEST_CHECK(!memcmp(frame + 6, mac_a.ea, ETH_ADDR_LEN));
        /* RARP: Ethernet/IPv4, opcode 3, both hardware addresses ours. */
        const uint8_t *arp = frame + ETH_HEADER_LEN;
        TEST_CHECK(arp[0] == 0 && arp[1] == 1);        /* Ethernet. */
        TEST_CHECK(arp[2] == 0x08 && arp[3] == 0);     /* IPv4. */
        TEST_CHECK(arp[6] == 0 && arp[7] == 3);
        TEST_CHECK(!memcmp(arp + 8, mac_a.ea, ETH_ADDR_LEN));
        TEST_CHECK(!memcmp(arp + 18, mac_a.ea, ETH_ADDR_LEN));
    }
    TEST_CHECK(seen);
    close(fd);

    TEST_EQ_INT(pod_net_send_rarp("/run/netns/lmt-no-such-netns", "eth0",
                                  &err), ENOENT);
    TEST_CONTAINS(err, "lmt-no-such-netns");
    free(err);
    TEST_EQ_INT(pod_net_send_rarp(path, "eth9", &err), ENODEV);
    TEST_CONTAINS(err, "link eth9 in netns");
    free(err);

out:
    /* DEL without a namespace (as after a reboot) still takes the pair. */
    TEST_EQ_INT(pod_net_del(host_a, "", "eth0", NULL), 0);
    TEST_CHECK(!link_exists("h", host_a));
    TEST_CHECK(!link_exists("a", "eth0"));
    free(path);
}

static void
test_underlay_mtu(void)
{
    struct pod_net_addr addr;
    int mtu = -1;

    TEST_EQ_INT(pod_net_default_route_mtu(&mtu), ENOENT);
    TEST_EQ_INT(mtu, -1);

    TEST_EQ_INT(run("ip link add %sup mtu 1450 type veth && "
                    "ip link set %sup up && "
                    "ip addr add 192.0.2.10/24 dev %sup && "
                    "ip route add default via 192.0.2.1",
                    prefix, prefix, prefix), 0);
    TEST_EQ_INT(pod_net_default_route_mtu(&mtu), 0);
    TEST_EQ_INT(mtu, 1450);

    TEST_EQ_INT(run("ip route replace default via 192.0.2.1 mtu 1300"), 0);
    TEST_EQ_INT(pod_net_default_route_mtu(&mtu), 0);
    TEST_EQ_INT(mtu, 1300);

    pod_net_addr_parse("192.0.2.10/32", &addr);
    mtu = -1;
    TEST_EQ_INT(pod_net_addr_mtu(&addr, &mtu), 0);
    TEST_EQ_INT(mtu, 1450);
    pod_net_addr_parse("192.0.2.99/32", &addr);
    TEST_EQ_INT(pod_net_addr_mtu(&addr, &mtu), EADDRNOTAVAIL);

    run("ip link del %sup", prefix);
}

/* After all the above, the namespaces hold nothing but lo and the test's
 * bridge: no test, failing or not, left a link behind. */
static void
test_no_leftovers(void)
{
    char *bridge = fmt("%sbr", prefix);

    for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
        const char *ns = namespaces[i];
        cJSON *json = ip_json(ns, "link show");
        const cJSON *link;

        TEST_CHECK(json != NULL);
        cJSON_ArrayForEach (link, json) {
            const char *ifname = json_str(link, "ifname");
            if (strcmp(ifname, "lo")
                && !(!strcmp(ns, "h") && !strcmp(ifname, bridge))) {
                fail_at(__FILE__, __LINE__, "link %s left in %s%s", ifname,
                        prefix, ns);
            }
        }
        cJSON_Delete(json);
    }
    free(bridge);
}

/* Driver. */

static void
run_test(const char *name, void (*test)(void))
{
    int failed_before = test_state.failed;

    printf("%-24s ", name);
    fflush(stdout);
    test_case(name);

    test();

    /* After every test, pass or fail: the thread is back home. */
    if (thread_ns_ino() != host_ns_ino) {
        fail_at(__FILE__, __LINE__, "%s left the thread in another network "
                "namespace", name);
        if (setns(host_ns_fd, CLONE_NEWNET)) {
            abort();
        }
    }

    printf("%s\n", test_state.failed > failed_before ? "FAILED" : "ok");
    fflush(stdout);
    test_case(NULL);

    results->passed = test_state.passed;
    results->failed = test_state.failed;
}

static void
child_main(void)
{
    char *path = ns_path("h");
    host_ns_fd = open(path, O_RDONLY | O_CLOEXEC);
    free(path);
    if (host_ns_fd < 0 || setns(host_ns_fd, CLONE_NEWNET)) {
        fprintf(stderr, "enter host namespace: %s\n", ovs_strerror(errno));
        exit(EXIT_FAILURE);
    }
    host_ns_ino = thread_ns_ino();

    char *id;
    id = fmt("%sa", prefix);
    pod_net_host_ifname(id, "eth0", host_a);
    free(id);
    id = fmt("%sb", prefix);
    pod_net_host_ifname(id, "eth0", host_b);
    free(id);
    id = fmt("%sc", prefix);
    pod_net_host_ifname(id, "eth0", host_c);
    free(id);

    run_test("host_ifname", test_host_ifname);
    run_test("addr_parse", test_addr_parse);
    run_test("add_check_del", test_add_check_del);
    run_test("del_paths", test_del_paths);
    run_test("add_failures", test_add_failures);
    run_test("ping", test_ping);
    run_test("rarp", test_rarp);
    run_test("underlay_mtu", test_underlay_mtu);
    run_test("no_leftovers", test_no_leftovers);

    close(host_ns_fd);
    exit(EXIT_SUCCESS);
}

/* Set by a signal that asks the parent to stop: it still cleans up. */
static volatile sig_atomic_t stop_signal;

static void
stop_handler(int signo)
{
    stop_signal = signo;
}

static void
cleanup(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
        run("ip netns del %s%s 2>/dev/null", prefix, namespaces[i]);
    }
    char *stale = fmt("/tmp/%sstale", prefix);
    unlink(stale);
    free(stale);
}

int
main(void)
{
    if (geteuid() || run("ip -V >/dev/null 2>&1 && "
                         "ethtool --version >/dev/null 2>&1")) {
        printf("test-pod-net needs root, ip and ethtool: skipped\n");
        test_summary();
        return 77;
    }

    snprintf(prefix, sizeof prefix, "lmt%ld-", (long) getpid());
    results = mmap(NULL, sizeof *results, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (results == MAP_FAILED) {
        perror("mmap");
        return EXIT_FAILURE;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = stop_handler;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    int failed = 0;
    for (size_t i = 0; i < ARRAY_SIZE(namespaces); i++) {
        if (run("ip netns add %s%s", prefix, namespaces[i])) {
            fprintf(stderr, "ip netns add %s%s failed\n", prefix,
                    namespaces[i]);
            failed = 1;
        }
    }

    if (!failed) {
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            failed = 1;
        } else if (!pid) {
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            child_main();
        } else {
            int status = 0;
            time_t deadline = time(NULL) + TEST_TIMEOUT_S;
            pid_t retval;
            while (!(retval = waitpid(pid, &status, WNOHANG))
                   && time(NULL) < deadline && !stop_signal) {
                usleep(20 * 1000);
            }
            if (!retval) {
                if (stop_signal) {
                    fprintf(stderr, "stopped by signal %d\n",
                            (int) stop_signal);
                } else {
                    fprintf(stderr, "timed out after %d s\n",
                            TEST_TIMEOUT_S);
                }
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                failed = 1;
            } else if (!WIFEXITED(status) || WEXITSTATUS(status)) {
                fprintf(stderr, "test process died (status %#x)\n", status);
                failed = 1;
            }
        }
    }

    cleanup();

    /* The closing line counts the child's checks, plus one failure if the
     * child did not finish. */
    test_state.passed = results->passed;
    test_state.failed = results->failed + failed;
    return test_summary();
}
