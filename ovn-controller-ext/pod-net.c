/*
 * pod-net.c: a pod's veth pair, addresses and routes, over rtnetlink.
 *
 * Layout: a small synchronous netlink layer (one request, read until the
 * ACK or the end of the dump, attributes validated against a policy), the
 * namespace helpers, one helper per rtnetlink operation, and the public
 * functions built from them.  See pod-net.h for the contract.
 */

#include "pod-net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>
#include <linux/veth.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netpacket/packet.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#include "openvswitch/vlog.h"
#include "ovs-thread.h"
#include "packets.h"
#include "random.h"
#include "sha1.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(pod_net);

/* Replies to a dump come in skbs of up to 32 kB; a smaller buffer would
 * truncate them. */
#define POD_NET_NL_BUFSIZE 32768

/* Our requests are a few hundred bytes. */
#define POD_NET_REQ_WORDS 256

/* Messages. */

/* Unless '*msgp' already holds a message (the first failure is the one to
 * report), stores there the message 'format' with the strerror() of
 * 'error', plus the kernel's extended ACK message from 'extack' if there is
 * one.  Returns 'error'. */
static int OVS_PRINTF_FORMAT(4, 5)
pod_net_error(char **msgp, const char *extack, int error,
              const char *format, ...)
{
    if (!*msgp) {
        va_list args;

        va_start(args, format);
        char *what = xvasprintf(format, args);
        va_end(args);

        if (extack && extack[0]) {
            *msgp = xasprintf("%s: %s (%s)", what, ovs_strerror(error),
                              extack);
        } else {
            *msgp = xasprintf("%s: %s", what, ovs_strerror(error));
        }
        free(what);
    }
    return error;
}

/* Like pod_net_error() for failures that no errno string describes
 * better than 'format' itself. */
static int OVS_PRINTF_FORMAT(3, 4)
pod_net_fail(char **msgp, int error, const char *format, ...)
{
    if (!*msgp) {
        va_list args;

        va_start(args, format);
        *msgp = xvasprintf(format, args);
        va_end(args);
    }
    return error;
}

/* Hands 'msg' to the caller through 'errp' (which may be null) if 'error'
 * is nonzero, and frees it otherwise.  Returns 'error'. */
static int
pod_net_finish(char **errp, char *msg, int error)
{
    if (error && !msg) {
        msg = xstrdup(ovs_strerror(error));
    }
    if (errp) {
        *errp = error ? msg : NULL;
        if (!error) {
            free(msg);
        }
    } else {
        free(msg);
    }
    return error;
}

/* Netlink. */

/* A NETLINK_ROUTE socket, bound to the namespace it was created in. */
struct pod_net_nl {
    struct mnl_socket *sock;
    unsigned int portid;
    unsigned int seq;
    char *buf;                  /* POD_NET_NL_BUFSIZE bytes for replies. */
    char extack[128];           /* Kernel's message about the last error. */
};

/* Handles one reply message; returns 0 or a positive errno value. */
typedef int pod_net_nl_cb(const struct nlmsghdr *, void *aux);

/* One request in flight. */
struct pod_net_txn {
    struct pod_net_nl *nl;
    pod_net_nl_cb *cb;          /* May be null. */
    void *aux;
    int error;                  /* First error seen. */
};

/* Attribute policy: the libmnl type to validate against, and the exact
 * payload length when the type alone does not say it. */
struct pod_net_policy {
    enum mnl_attr_data_type type;   /* MNL_TYPE_UNSPEC: not read, skipped. */
    size_t len;
};

struct pod_net_parse {
    const struct pod_net_policy *policy;
    uint16_t max;
    const struct nlattr **tb;
};

static int
pod_net_attr_cb(const struct nlattr *attr, void *parse_)
{
    const struct pod_net_parse *parse = parse_;
    uint16_t type = mnl_attr_get_type(attr);

    if (type > parse->max || parse->policy[type].type == MNL_TYPE_UNSPEC) {
        /* Unknown to this build or not needed: "absent" for us. */
        return MNL_CB_OK;
    }

    const struct pod_net_policy *p = &parse->policy[type];
    int retval = (p->len
                  ? mnl_attr_validate2(attr, p->type, p->len)
                  : mnl_attr_validate(attr, p->type));
    if (retval < 0) {
        /* One limiter per kind of message: a flood of one kind must not
         * silence the others. */
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        VLOG_WARN_RL(&rl, "netlink attribute %"PRIu16" malformed: %s",
                     type, ovs_strerror(errno));
        return MNL_CB_ERROR;
    }
    parse->tb[type] = attr;
    return MNL_CB_OK;
}

/* Validates the attributes of 'nlh' that follow its 'offset'-byte family
 * header against 'policy' (with 'max' + 1 entries) and stores them into
 * 'tb' (as many entries, zeroed by the caller).  Returns 0 or EPROTO. */
static int
pod_net_parse_msg(const struct nlmsghdr *nlh, size_t offset,
                  const struct pod_net_policy *policy, uint16_t max,
                  const struct nlattr **tb)
{
    struct pod_net_parse parse = { policy, max, tb };

    if (mnl_nlmsg_get_payload_len(nlh) < offset) {
        return EPROTO;
    }
    return (mnl_attr_parse(nlh, offset, pod_net_attr_cb, &parse) < 0
            ? EPROTO : 0);
}

/* Like pod_net_parse_msg() for the attributes nested in 'nest'. */
static int
pod_net_parse_nested(const struct nlattr *nest,
                     const struct pod_net_policy *policy, uint16_t max,
                     const struct nlattr **tb)
{
    struct pod_net_parse parse = { policy, max, tb };

    return (mnl_attr_parse_nested(nest, pod_net_attr_cb, &parse) < 0
            ? EPROTO : 0);
}

static const struct pod_net_policy pod_net_extack_policy[NLMSGERR_ATTR_MAX
                                                        + 1] = {
    [NLMSGERR_ATTR_MSG] = { MNL_TYPE_NUL_STRING, 0 },
};

static int
pod_net_txn_data(const struct nlmsghdr *nlh, void *txn_)
{
    struct pod_net_txn *txn = txn_;

    /* After a failure keep reading, so that the rest of a dump does not
     * linger in the socket, but ignore what comes. */
    if (txn->cb && !txn->error) {
        txn->error = txn->cb(nlh, txn->aux);
    }
    return MNL_CB_OK;
}

static int
pod_net_txn_ack(const struct nlmsghdr *nlh, void *txn_)
{
    struct pod_net_txn *txn = txn_;
    const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

    if (mnl_nlmsg_get_payload_len(nlh) < sizeof *err) {
        txn->error = EBADMSG;
        return MNL_CB_ERROR;
    }
    if (!err->error) {
        return MNL_CB_STOP;
    }
    if (!txn->error) {
        txn->error = err->error < 0 ? -err->error : err->error;
    }

    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
        size_t offset = sizeof *err;
        if (!(nlh->nlmsg_flags & NLM_F_CAPPED)) {
            offset += MNL_ALIGN(err->msg.nlmsg_len) - sizeof err->msg;
        }

        const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
        if (!pod_net_parse_msg(nlh, offset, pod_net_extack_policy,
                               NLMSGERR_ATTR_MAX, tb)
            && tb[NLMSGERR_ATTR_MSG]) {
            const char *text = mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]);
            ovs_strzcpy(txn->nl->extack, text, sizeof txn->nl->extack);
        }
    }
    return MNL_CB_ERROR;
}

static int
pod_net_txn_done(const struct nlmsghdr *nlh, void *txn_)
{
    struct pod_net_txn *txn = txn_;
    int error;

    /* A dump may end in an error: an int after the header. */
    if (mnl_nlmsg_get_payload_len(nlh) >= sizeof error) {
        memcpy(&error, mnl_nlmsg_get_payload(nlh), sizeof error);
        if (error < 0 && !txn->error) {
            txn->error = -error;
        }
    }
    return MNL_CB_STOP;
}

/* NOOP and OVERRUN are ignored. */
static mnl_cb_t pod_net_ctl_cbs[NLMSG_MIN_TYPE] = {
    [NLMSG_ERROR] = pod_net_txn_ack,
    [NLMSG_DONE] = pod_net_txn_done,
};

static void
pod_net_nl_close(struct pod_net_nl *nl)
{
    if (nl) {
        if (nl->sock) {
            mnl_socket_close(nl->sock);
            nl->sock = NULL;
        }
        free(nl->buf);
        nl->buf = NULL;
    }
}

/* Opens 'nl' in the calling thread's namespace.  Returns 0 or an errno
 * value; on failure 'nl' needs no closing. */
static int
pod_net_nl_open(struct pod_net_nl *nl)
{
    memset(nl, 0, sizeof *nl);

    nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
    if (!nl->sock) {
        return errno;
    }
    if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
        int error = errno;
        pod_net_nl_close(nl);
        return error;
    }

    /* Best effort: older kernels just give no text with their errors. */
    int one = 1;
    mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof one);
    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof one);

    nl->portid = mnl_socket_get_portid(nl->sock);
    nl->seq = random_uint32();
    nl->buf = xmalloc(POD_NET_NL_BUFSIZE);
    return 0;
}

/* Sends 'nlh' (from pod_net_nl_put() or pod_net_nl_put_dump()) and reads
 * the replies until the ACK or the end of the dump, passing each data
 * message to 'cb' with 'aux' (if 'cb' is nonnull).  Replies with another
 * sequence number or port id are an error (EPROTO, ESRCH).  Returns 0 or a
 * positive errno value; the kernel's explanation, if any, is left in
 * 'nl->extack'. */
static int
pod_net_nl_txn(struct pod_net_nl *nl, struct nlmsghdr *nlh,
               pod_net_nl_cb *cb, void *aux)
{
    struct pod_net_txn txn = { .nl = nl, .cb = cb, .aux = aux };
    unsigned int seq = ++nl->seq;

    nl->extack[0] = '\0';
    nlh->nlmsg_seq = seq;
    if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0) {
        return errno;
    }

    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl->sock, nl->buf,
                                        POD_NET_NL_BUFSIZE);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno;
        }

        errno = 0;
        int ret = mnl_cb_run2(nl->buf, n, seq, nl->portid,
                              pod_net_txn_data, &txn, pod_net_ctl_cbs,
                              ARRAY_SIZE(pod_net_ctl_cbs));
        if (ret < 0) {
            return txn.error ? txn.error : errno ? errno : EPROTO;
        } else if (ret == MNL_CB_STOP) {
            return txn.error;
        }
    }
}

/* Starts in 'req' a request of 'type' with 'flags' (NLM_F_CREATE...) that
 * the kernel acknowledges, so that pod_net_nl_txn() knows when it is done
 * even if there is no other reply. */
static struct nlmsghdr *
pod_net_nl_put(uint32_t req[POD_NET_REQ_WORDS], uint16_t type,
               uint16_t flags)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    return nlh;
}

/* Starts in 'req' a dump of 'type'; NLMSG_DONE ends it.  (NLM_F_DUMP
 * shares bits with NLM_F_EXCL and NLM_F_REPLACE, hence two functions.) */
static struct nlmsghdr *
pod_net_nl_put_dump(uint32_t req[POD_NET_REQ_WORDS], uint16_t type)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);

    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    return nlh;
}

/* Namespaces. */

/* Stores in '*fdp' a descriptor to the daemon's namespace: the one of the
 * thread that first got here. */
static int
pod_net_daemon_ns(int *fdp)
{
    static struct ovsthread_once once = OVSTHREAD_ONCE_INITIALIZER;
    static int fd = -1;
    static int error;

    if (ovsthread_once_start(&once)) {
        fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        error = fd < 0 ? errno : 0;
        if (error) {
            VLOG_ERR("open /proc/thread-self/ns/net: %s",
                     ovs_strerror(error));
        }
        ovsthread_once_done(&once);
    }
    *fdp = fd;
    return error;
}

/* Returns the thread to the daemon's namespace 'daemon_fd'. */
static void
pod_net_leave(int daemon_fd)
{
    if (setns(daemon_fd, CLONE_NEWNET)) {
        /* Going on would plumb the next pod into this one. */
        ovs_abort(errno, "setns back to the daemon's network namespace");
    }
}

/* Sockets bound to one network namespace. */
struct pod_net_ns {
    const char *path;           /* Null for the daemon's namespace. */
    int fd;                     /* Namespace descriptor, or -1. */
    struct pod_net_nl nl;
    int ioctl_fd;               /* For ethtool and interface ioctls. */
};

static void
pod_net_ns_init(struct pod_net_ns *ns)
{
    memset(ns, 0, sizeof *ns);
    ns->fd = -1;
    ns->ioctl_fd = -1;
}

static void
pod_net_ns_close(struct pod_net_ns *ns)
{
    if (ns) {
        pod_net_nl_close(&ns->nl);
        if (ns->ioctl_fd >= 0) {
            close(ns->ioctl_fd);
            ns->ioctl_fd = -1;
        }
        if (ns->fd >= 0) {
            close(ns->fd);
            ns->fd = -1;
        }
    }
}

/* Opens the sockets of 'ns' in the calling thread's namespace. */
static int
pod_net_ns_open_sockets(struct pod_net_ns *ns)
{
    int error = pod_net_nl_open(&ns->nl);
    if (error) {
        return error;
    }
    ns->ioctl_fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    return ns->ioctl_fd < 0 ? errno : 0;
}

/* Opens 'ns' in the daemon's namespace. */
static int
pod_net_ns_open_daemon(struct pod_net_ns *ns, char **msgp)
{
    int daemon_fd;
    int error = pod_net_daemon_ns(&daemon_fd);
    if (!error) {
        error = pod_net_ns_open_sockets(ns);
    }
    return (error
            ? pod_net_error(msgp, NULL, error, "open sockets in the host "
                            "namespace")
            : 0);
}

/* Opens 'ns' in the namespace at 'path': enters it, opens the sockets and
 * comes back.  ENOENT if 'path' does not exist, EINVAL if it is not a
 * network namespace (for example a bind mount whose namespace is gone). */
static int
pod_net_ns_open_path(struct pod_net_ns *ns, const char *path, char **msgp)
{
    int daemon_fd;
    int error = pod_net_daemon_ns(&daemon_fd);
    if (error) {
        return pod_net_error(msgp, NULL, error, "daemon network namespace");
    }

    ns->path = path;
    ns->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ns->fd < 0) {
        return pod_net_error(msgp, NULL, errno, "netns %s", path);
    }
    if (setns(ns->fd, CLONE_NEWNET)) {
        error = errno;
        return (error == EINVAL
                ? pod_net_fail(msgp, error, "netns %s: not a network "
                               "namespace", path)
                : pod_net_error(msgp, NULL, error, "netns %s: setns", path));
    }
    error = pod_net_ns_open_sockets(ns);
    pod_net_leave(daemon_fd);

    return (error
            ? pod_net_error(msgp, NULL, error, "netns %s: open sockets", path)
            : 0);
}

/* Names 'ns' in messages. */
static const char *
pod_net_ns_name(const struct pod_net_ns *ns)
{
    return ns->path ? ns->path : "the host namespace";
}

/* Links. */

struct pod_net_link {
    int ifindex;
    unsigned int flags;         /* IFF_*. */
    int mtu;
    struct eth_addr mac;        /* Zero if no Ethernet address. */
    char name[POD_NET_IFNAMSIZ];
    char kind[16];              /* IFLA_INFO_KIND, "" if none. */
};

static const struct pod_net_policy pod_net_link_policy[IFLA_MAX + 1] = {
    [IFLA_IFNAME] = { MNL_TYPE_NUL_STRING, 0 },
    [IFLA_MTU] = { MNL_TYPE_U32, 0 },
    /* The length depends on the link type; checked where used. */
    [IFLA_ADDRESS] = { MNL_TYPE_BINARY, 0 },
    [IFLA_LINKINFO] = { MNL_TYPE_NESTED, 0 },
};

static const struct pod_net_policy pod_net_linkinfo_policy[IFLA_INFO_MAX
                                                          + 1] = {
    [IFLA_INFO_KIND] = { MNL_TYPE_NUL_STRING, 0 },
};

static int
pod_net_link_parse(const struct nlmsghdr *nlh, void *link_)
{
    const struct nlattr *tb[IFLA_MAX + 1] = { NULL };
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    struct pod_net_link *link = link_;

    if (nlh->nlmsg_type != RTM_NEWLINK
        || pod_net_parse_msg(nlh, sizeof *ifi, pod_net_link_policy,
                             IFLA_MAX, tb)) {
        return EPROTO;
    }

    memset(link, 0, sizeof *link);
    link->ifindex = ifi->ifi_index;
    link->flags = ifi->ifi_flags;
    if (tb[IFLA_MTU]) {
        link->mtu = mnl_attr_get_u32(tb[IFLA_MTU]);
    }
    if (tb[IFLA_IFNAME]) {
        ovs_strzcpy(link->name, mnl_attr_get_str(tb[IFLA_IFNAME]),
                    sizeof link->name);
    }
    if (tb[IFLA_ADDRESS]
        && mnl_attr_get_payload_len(tb[IFLA_ADDRESS]) == ETH_ADDR_LEN) {
        memcpy(link->mac.ea, mnl_attr_get_payload(tb[IFLA_ADDRESS]),
               ETH_ADDR_LEN);
    }
    if (tb[IFLA_LINKINFO]) {
        const struct nlattr *info[IFLA_INFO_MAX + 1] = { NULL };

        if (pod_net_parse_nested(tb[IFLA_LINKINFO], pod_net_linkinfo_policy,
                                 IFLA_INFO_MAX, info)) {
            return EPROTO;
        }
        if (info[IFLA_INFO_KIND]) {
            ovs_strzcpy(link->kind, mnl_attr_get_str(info[IFLA_INFO_KIND]),
                        sizeof link->kind);
        }
    }
    return 0;
}

/* Looks up the link named 'name' (if nonnull) or with index 'ifindex' and
 * stores it in '*link'.  ENODEV if there is none. */
static int
pod_net_link_get(struct pod_net_nl *nl, const char *name, int ifindex,
                 struct pod_net_link *link)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_GETLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = name ? 0 : ifindex;
    if (name) {
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    }
    mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);

    struct pod_net_link tmp = { .ifindex = 0 };
    int error = pod_net_nl_txn(nl, nlh, pod_net_link_parse, &tmp);
    if (!error && !tmp.ifindex) {
        error = EPROTO;
    }
    if (!error) {
        *link = tmp;
    }
    return error;
}

/* Brings up the link named 'name' (if nonnull) or with index 'ifindex'. */
static int
pod_net_link_set_up(struct pod_net_nl *nl, const char *name, int ifindex)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = name ? 0 : ifindex;
    ifi->ifi_flags = IFF_UP;
    ifi->ifi_change = IFF_UP;
    if (name) {
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    }
    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

/* Stops the kernel from generating an IPv6 link-local address (and from
 * running DAD on it) for link 'ifindex'. */
static int
pod_net_link_no_addr_gen(struct pod_net_nl *nl, int ifindex)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;

    struct nlattr *af_spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
    struct nlattr *inet6 = mnl_attr_nest_start(nlh, AF_INET6);
    mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
    mnl_attr_nest_end(nlh, inet6);
    mnl_attr_nest_end(nlh, af_spec);

    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

/* Deletes the link named 'name' (if nonnull) or with index 'ifindex'. */
static int
pod_net_link_del(struct pod_net_nl *nl, const char *name, int ifindex)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_DELLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = name ? 0 : ifindex;
    if (name) {
        mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
    }
    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

/* Creates the veth pair of 'spec' in one request: the host end in the
 * namespace of 'nl', the peer directly in the pod namespace 'pod_ns_fd'
 * under its final name, with its MAC and MTU. */
static int
pod_net_veth_create(struct pod_net_nl *nl, const struct pod_net_spec *spec,
                    int pod_ns_fd)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_NEWLINK,
                                          NLM_F_CREATE | NLM_F_EXCL);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);

    ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, spec->host_ifname);
    if (spec->mtu) {
        mnl_attr_put_u32(nlh, IFLA_MTU, spec->mtu);
    }

    struct nlattr *linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    struct nlattr *data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    struct nlattr *peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);

    /* The peer's attributes follow an ifinfomsg of its own. */
    struct ifinfomsg *peer_ifi = mnl_nlmsg_put_extra_header(nlh,
                                                            sizeof *peer_ifi);
    peer_ifi->ifi_family = AF_UNSPEC;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, spec->ifname);
    mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, pod_ns_fd);
    if (!eth_addr_is_zero(spec->mac)) {
        mnl_attr_put(nlh, IFLA_ADDRESS, ETH_ADDR_LEN, spec->mac.ea);
    }
    if (spec->mtu) {
        mnl_attr_put_u32(nlh, IFLA_MTU, spec->mtu);
    }

    mnl_attr_nest_end(nlh, peer);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);

    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

/* Checksum offload.  OVS's userspace datapath forwards what the pod sends
 * as is, so the pod must not leave checksums to "hardware". */

static int
pod_net_ethtool(int fd, const char *ifname, struct ethtool_value *ev)
{
    struct ifreq ifr;

    memset(&ifr, 0, sizeof ifr);
    ovs_strzcpy(ifr.ifr_name, ifname, sizeof ifr.ifr_name);
    ifr.ifr_data = (void *) ev;
    return ioctl(fd, SIOCETHTOOL, &ifr) ? errno : 0;
}

static int
pod_net_tx_csum_off(int fd, const char *ifname)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_STXCSUM, .data = 0 };
    return pod_net_ethtool(fd, ifname, &ev);
}

static int
pod_net_tx_csum_get(int fd, const char *ifname, bool *on)
{
    struct ethtool_value ev = { .cmd = ETHTOOL_GTXCSUM };
    int error = pod_net_ethtool(fd, ifname, &ev);
    if (!error) {
        *on = ev.data != 0;
    }
    return error;
}

/* Addresses. */

static size_t
pod_net_family_len(int family)
{
    return family == AF_INET ? sizeof(struct in_addr)
                             : sizeof(struct in6_addr);
}

static const void *
pod_net_addr_bytes(const struct pod_net_addr *addr)
{
    return (addr->family == AF_INET
            ? (const void *) &addr->in4 : (const void *) &addr->in6);
}

/* Does the prefix 'addr' contain the 'family' address 'ip'? */
static bool
pod_net_addr_covers(const struct pod_net_addr *addr, int family,
                    const void *ip)
{
    if (addr->family != family) {
        return false;
    }

    const uint8_t *a = pod_net_addr_bytes(addr);
    const uint8_t *b = ip;
    unsigned int plen = addr->plen;
    size_t i;

    for (i = 0; plen >= 8; i++, plen -= 8) {
        if (a[i] != b[i]) {
            return false;
        }
    }
    if (plen) {
        uint8_t mask = 0xff << (8 - plen);
        return (a[i] & mask) == (b[i] & mask);
    }
    return true;
}

/* Adds 'addr' to link 'ifindex'.  IPv6 addresses skip DAD: the pod's
 * address was allocated for it, and during a live migration the same
 * address briefly lives on two nodes, which DAD would take for a
 * conflict. */
static int
pod_net_addr_add(struct pod_net_nl *nl, int ifindex,
                 const struct pod_net_addr *addr)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_NEWADDR,
                                          NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);

    ifa->ifa_family = addr->family;
    ifa->ifa_prefixlen = addr->plen;
    ifa->ifa_index = ifindex;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;     /* IPv6: the kernel decides. */

    if (addr->family == AF_INET) {
        mnl_attr_put(nlh, IFA_LOCAL, sizeof addr->in4, &addr->in4);
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof addr->in4, &addr->in4);
        if (addr->plen < 31) {
            uint32_t host_mask = UINT32_MAX >> addr->plen;
            struct in_addr brd = {
                .s_addr = addr->in4.s_addr | htonl(host_mask)
            };
            mnl_attr_put(nlh, IFA_BROADCAST, sizeof brd, &brd);
        }
    } else {
        mnl_attr_put(nlh, IFA_ADDRESS, sizeof addr->in6, &addr->in6);
        ifa->ifa_flags = IFA_F_NODAD;
        mnl_attr_put_u32(nlh, IFA_FLAGS, IFA_F_NODAD);
    }
    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

static const struct pod_net_policy pod_net_addr4_policy[IFA_MAX + 1] = {
    [IFA_ADDRESS] = { MNL_TYPE_BINARY, sizeof(struct in_addr) },
    [IFA_LOCAL] = { MNL_TYPE_BINARY, sizeof(struct in_addr) },
};

static const struct pod_net_policy pod_net_addr6_policy[IFA_MAX + 1] = {
    [IFA_ADDRESS] = { MNL_TYPE_BINARY, sizeof(struct in6_addr) },
    [IFA_LOCAL] = { MNL_TYPE_BINARY, sizeof(struct in6_addr) },
};

/* Looks for 'n' addresses in an address dump. */
struct pod_net_addr_find {
    int ifindex;                /* Only on this link; 0: any. */
    bool match_plen;            /* Must the prefix length match too? */
    const struct pod_net_addr *addrs;
    size_t n;
    int found[POD_NET_MAX_ADDRS];   /* Link holding addrs[i], or 0. */
};

static int
pod_net_addr_find_cb(const struct nlmsghdr *nlh, void *find_)
{
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    struct pod_net_addr_find *find = find_;

    if (nlh->nlmsg_type != RTM_NEWADDR
        || mnl_nlmsg_get_payload_len(nlh) < sizeof *ifa) {
        return EPROTO;
    }
    if ((ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        || (find->ifindex
            && ifa->ifa_index != (unsigned int) find->ifindex)) {
        return 0;
    }

    const struct nlattr *tb[IFA_MAX + 1] = { NULL };
    int error = pod_net_parse_msg(nlh, sizeof *ifa,
                                  (ifa->ifa_family == AF_INET
                                   ? pod_net_addr4_policy
                                   : pod_net_addr6_policy),
                                  IFA_MAX, tb);
    if (error) {
        return error;
    }

    /* IFA_LOCAL is the local address; IFA_ADDRESS is the peer's on
     * point-to-point links, and the only one for IPv6. */
    const struct nlattr *attr = tb[IFA_LOCAL] ? tb[IFA_LOCAL]
                                              : tb[IFA_ADDRESS];
    if (!attr) {
        return 0;
    }
    for (size_t i = 0; i < find->n; i++) {
        const struct pod_net_addr *want = &find->addrs[i];

        if (want->family == ifa->ifa_family
            && (!find->match_plen || want->plen == ifa->ifa_prefixlen)
            && !memcmp(mnl_attr_get_payload(attr), pod_net_addr_bytes(want),
                       pod_net_family_len(want->family))) {
            find->found[i] = ifa->ifa_index;
        }
    }
    return 0;
}

static int
pod_net_addr_dump(struct pod_net_nl *nl, struct pod_net_addr_find *find)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put_dump(req, RTM_GETADDR);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);

    ifa->ifa_family = AF_UNSPEC;
    return pod_net_nl_txn(nl, nlh, pod_net_addr_find_cb, find);
}

/* Routes. */

/* Looks for a unicast default route of the main table in a route dump. */
struct pod_net_route_find {
    int family;
    const void *gateway;        /* If nonnull, only via this gateway. */
    int oif;                    /* If nonzero, only through this link. */

    bool found;                 /* The rest is valid only if true. */
    uint32_t priority;          /* Lowest wins. */
    int found_oif;
    int mtu;                    /* The route's "mtu" metric, or 0. */
};

static const struct pod_net_policy pod_net_route4_policy[RTA_MAX + 1] = {
    [RTA_GATEWAY] = { MNL_TYPE_BINARY, sizeof(struct in_addr) },
    [RTA_OIF] = { MNL_TYPE_U32, 0 },
    [RTA_PRIORITY] = { MNL_TYPE_U32, 0 },
    [RTA_TABLE] = { MNL_TYPE_U32, 0 },
    [RTA_METRICS] = { MNL_TYPE_NESTED, 0 },
    [RTA_MULTIPATH] = { MNL_TYPE_BINARY, 0 },
};

static const struct pod_net_policy pod_net_route6_policy[RTA_MAX + 1] = {
    [RTA_GATEWAY] = { MNL_TYPE_BINARY, sizeof(struct in6_addr) },
    [RTA_OIF] = { MNL_TYPE_U32, 0 },
    [RTA_PRIORITY] = { MNL_TYPE_U32, 0 },
    [RTA_TABLE] = { MNL_TYPE_U32, 0 },
    [RTA_METRICS] = { MNL_TYPE_NESTED, 0 },
    [RTA_MULTIPATH] = { MNL_TYPE_BINARY, 0 },
};

static const struct pod_net_policy pod_net_metrics_policy[RTAX_MAX + 1] = {
    [RTAX_MTU] = { MNL_TYPE_U32, 0 },
};

static int
pod_net_route_find_cb(const struct nlmsghdr *nlh, void *find_)
{
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    struct pod_net_route_find *find = find_;

    if (nlh->nlmsg_type != RTM_NEWROUTE
        || mnl_nlmsg_get_payload_len(nlh) < sizeof *rtm) {
        return EPROTO;
    }
    if (rtm->rtm_family != find->family || rtm->rtm_dst_len
        || rtm->rtm_type != RTN_UNICAST) {
        return 0;
    }

    const struct nlattr *tb[RTA_MAX + 1] = { NULL };
    int error = pod_net_parse_msg(nlh, sizeof *rtm,
                                  (find->family == AF_INET
                                   ? pod_net_route4_policy
                                   : pod_net_route6_policy),
                                  RTA_MAX, tb);
    if (error) {
        return error;
    }

    uint32_t table = (tb[RTA_TABLE] ? mnl_attr_get_u32(tb[RTA_TABLE])
                      : rtm->rtm_table);
    if (table != RT_TABLE_MAIN) {
        return 0;
    }

    int oif = tb[RTA_OIF] ? mnl_attr_get_u32(tb[RTA_OIF]) : 0;
    if (!oif && tb[RTA_MULTIPATH]) {
        /* Multipath: the first hop's link stands for all of them. */
        const struct rtnexthop *nh = mnl_attr_get_payload(tb[RTA_MULTIPATH]);
        if (mnl_attr_get_payload_len(tb[RTA_MULTIPATH]) >= sizeof *nh) {
            oif = nh->rtnh_ifindex;
        }
    }
    if (find->oif && oif != find->oif) {
        return 0;
    }
    if (find->gateway
        && (!tb[RTA_GATEWAY]
            || memcmp(mnl_attr_get_payload(tb[RTA_GATEWAY]), find->gateway,
                      pod_net_family_len(find->family)))) {
        return 0;
    }

    uint32_t priority = (tb[RTA_PRIORITY]
                         ? mnl_attr_get_u32(tb[RTA_PRIORITY]) : 0);
    if (find->found && priority >= find->priority) {
        return 0;
    }

    int mtu = 0;
    if (tb[RTA_METRICS]) {
        const struct nlattr *metrics[RTAX_MAX + 1] = { NULL };

        error = pod_net_parse_nested(tb[RTA_METRICS], pod_net_metrics_policy,
                                     RTAX_MAX, metrics);
        if (error) {
            return error;
        }
        if (metrics[RTAX_MTU]) {
            mtu = MIN(mnl_attr_get_u32(metrics[RTAX_MTU]), INT_MAX);
        }
    }

    find->found = true;
    find->priority = priority;
    find->found_oif = oif;
    find->mtu = mtu;
    return 0;
}

static int
pod_net_route_dump(struct pod_net_nl *nl, struct pod_net_route_find *find)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put_dump(req, RTM_GETROUTE);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);

    rtm->rtm_family = find->family;
    return pod_net_nl_txn(nl, nlh, pod_net_route_find_cb, find);
}

/* Adds a default route via 'family' address 'gateway' through link
 * 'oif'.  'onlink' says the gateway is outside the link's prefixes but
 * reachable on it anyway. */
static int
pod_net_route_add(struct pod_net_nl *nl, int family, const void *gateway,
                  int oif, bool onlink)
{
    uint32_t req[POD_NET_REQ_WORDS];
    struct nlmsghdr *nlh = pod_net_nl_put(req, RTM_NEWROUTE,
                                          NLM_F_CREATE | NLM_F_EXCL);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);

    rtm->rtm_family = family;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_BOOT;
    rtm->rtm_scope = RT_SCOPE_UNIVERSE;
    rtm->rtm_type = RTN_UNICAST;
    rtm->rtm_flags = onlink ? RTNH_F_ONLINK : 0;
    mnl_attr_put(nlh, RTA_GATEWAY, pod_net_family_len(family), gateway);
    mnl_attr_put_u32(nlh, RTA_OIF, oif);
    return pod_net_nl_txn(nl, nlh, NULL, NULL);
}

/* Is some address of 'spec' a prefix that contains 'family' address
 * 'gateway'? */
static bool
pod_net_gateway_on_link(const struct pod_net_spec *spec, int family,
                        const void *gateway)
{
    for (size_t i = 0; i < spec->n_addrs; i++) {
        if (pod_net_addr_covers(&spec->addrs[i], family, gateway)) {
            return true;
        }
    }
    return false;
}

static bool
pod_net_spec_has_ipv6(const struct pod_net_spec *spec)
{
    for (size_t i = 0; i < spec->n_addrs; i++) {
        if (spec->addrs[i].family == AF_INET6) {
            return true;
        }
    }
    return spec->has_gateway6;
}

/* Formatting. */

static const char *
pod_net_ip_format(int family, const void *ip, char buf[INET6_ADDRSTRLEN])
{
    if (!inet_ntop(family, ip, buf, INET6_ADDRSTRLEN)) {
        ovs_strzcpy(buf, "?", INET6_ADDRSTRLEN);
    }
    return buf;
}

/* Formats 'addr' as "ADDRESS/PLEN" into 'buf', which must hold
 * POD_NET_ADDRSTRLEN bytes, and returns 'buf'. */
char *
pod_net_addr_format(const struct pod_net_addr *addr,
                    char buf[POD_NET_ADDRSTRLEN])
{
    char ip[INET6_ADDRSTRLEN];

    if (addr->family != AF_INET && addr->family != AF_INET6) {
        snprintf(buf, POD_NET_ADDRSTRLEN, "<family %d>", addr->family);
    } else {
        snprintf(buf, POD_NET_ADDRSTRLEN, "%s/%u",
                 pod_net_ip_format(addr->family, pod_net_addr_bytes(addr),
                                   ip),
                 addr->plen);
    }
    return buf;
}

/* Parses 's', an address with a required prefix length such as
 * "10.0.0.5/24" or "fd00::5/64", into '*addr'.  Returns 0 or EINVAL; on
 * failure '*addr' is unchanged. */
int
pod_net_addr_parse(const char *s, struct pod_net_addr *addr)
{
    const char *slash = strchr(s, '/');
    if (!slash || slash == s || slash - s >= INET6_ADDRSTRLEN) {
        return EINVAL;
    }

    char ip[INET6_ADDRSTRLEN];
    memcpy(ip, s, slash - s);
    ip[slash - s] = '\0';

    struct pod_net_addr tmp;
    memset(&tmp, 0, sizeof tmp);
    if (inet_pton(AF_INET, ip, &tmp.in4) == 1) {
        tmp.family = AF_INET;
    } else if (inet_pton(AF_INET6, ip, &tmp.in6) == 1) {
        tmp.family = AF_INET6;
    } else {
        return EINVAL;
    }

    const char *p = slash + 1;
    unsigned int max = tmp.family == AF_INET ? 32 : 128;
    unsigned int plen = 0;
    if (!*p) {
        return EINVAL;
    }
    for (; *p; p++) {
        if (*p < '0' || *p > '9') {
            return EINVAL;
        }
        plen = plen * 10 + (*p - '0');
        if (plen > max) {
            return EINVAL;
        }
    }
    tmp.plen = plen;
    *addr = tmp;
    return 0;
}

/* Validation. */

static int
pod_net_check_ifname(const char *name, const char *what, char **msgp)
{
    if (!name || !name[0]) {
        return pod_net_fail(msgp, EINVAL, "%s missing", what);
    }
    if (strlen(name) >= POD_NET_IFNAMSIZ) {
        return pod_net_fail(msgp, EINVAL, "%s \"%s\" longer than %d bytes",
                            what, name, POD_NET_IFNAMSIZ - 1);
    }
    return 0;
}

static int
pod_net_spec_validate(const struct pod_net_spec *spec, char **msgp)
{
    int error;

    if (!spec->netns_path || !spec->netns_path[0]) {
        return pod_net_fail(msgp, EINVAL, "netns path missing");
    }
    error = pod_net_check_ifname(spec->ifname, "interface name", msgp);
    if (!error) {
        error = pod_net_check_ifname(spec->host_ifname,
                                     "host interface name", msgp);
    }
    if (error) {
        return error;
    }
    if (spec->mtu < 0) {
        return pod_net_fail(msgp, EINVAL, "MTU %d negative", spec->mtu);
    }
    if (spec->n_addrs > POD_NET_MAX_ADDRS) {
        return pod_net_fail(msgp, EINVAL, "%"PRIuSIZE" addresses, at most "
                            "%d supported", spec->n_addrs, POD_NET_MAX_ADDRS);
    }
    for (size_t i = 0; i < spec->n_addrs; i++) {
        const struct pod_net_addr *addr = &spec->addrs[i];

        if (addr->family != AF_INET && addr->family != AF_INET6) {
            return pod_net_fail(msgp, EINVAL, "address %"PRIuSIZE": family "
                                "%d is neither IPv4 nor IPv6", i,
                                addr->family);
        }
        if (addr->plen > (addr->family == AF_INET ? 32 : 128)) {
            return pod_net_fail(msgp, EINVAL, "address %"PRIuSIZE": prefix "
                                "length %u too long", i, addr->plen);
        }
    }
    return 0;
}

/* ADD. */

static int
pod_net_add__(const struct pod_net_spec *spec, struct pod_net_ns *host,
              struct pod_net_ns *pod, struct pod_net_state *state,
              int *host_ifindexp, bool *createdp, char **msgp)
{
    const char *ns = pod_net_ns_name(pod);
    struct pod_net_link host_link, pod_link;
    char buf[POD_NET_ADDRSTRLEN];
    int error;

    /* Check first, so that EEXIST names the culprit, and so that a link we
     * did not create is never the one deleted on the way out. */
    error = pod_net_link_get(&host->nl, spec->host_ifname, 0, &host_link);
    if (!error) {
        return pod_net_fail(msgp, EEXIST, "link %s exists in the host "
                            "namespace", spec->host_ifname);
    } else if (error != ENODEV) {
        return pod_net_error(msgp, host->nl.extack, error, "look up link %s "
                             "in the host namespace", spec->host_ifname);
    }
    error = pod_net_link_get(&pod->nl, spec->ifname, 0, &pod_link);
    if (!error) {
        return pod_net_fail(msgp, EEXIST, "link %s exists in netns %s",
                            spec->ifname, ns);
    } else if (error != ENODEV) {
        return pod_net_error(msgp, pod->nl.extack, error, "look up link %s "
                             "in netns %s", spec->ifname, ns);
    }

    error = pod_net_veth_create(&host->nl, spec, pod->fd);
    if (error) {
        return pod_net_error(msgp, host->nl.extack, error, "create veth %s "
                             "with peer %s in netns %s", spec->host_ifname,
                             spec->ifname, ns);
    }
    *createdp = true;

    error = pod_net_link_get(&host->nl, spec->host_ifname, 0, &host_link);
    if (error) {
        return pod_net_error(msgp, host->nl.extack, error, "look up new "
                             "link %s", spec->host_ifname);
    }
    *host_ifindexp = host_link.ifindex;
    error = pod_net_link_get(&pod->nl, spec->ifname, 0, &pod_link);
    if (error) {
        return pod_net_error(msgp, pod->nl.extack, error, "look up new "
                             "link %s in netns %s", spec->ifname, ns);
    }

    bool ipv6 = pod_net_spec_has_ipv6(spec);
    if (ipv6) {
        error = pod_net_link_no_addr_gen(&pod->nl, pod_link.ifindex);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "set IPv6 "
                                 "addr_gen_mode of %s in netns %s",
                                 spec->ifname, ns);
        }
    }

    error = pod_net_tx_csum_off(host->ioctl_fd, spec->host_ifname);
    if (error) {
        return pod_net_error(msgp, NULL, error, "turn off tx checksum "
                             "offload on %s", spec->host_ifname);
    }
    error = pod_net_tx_csum_off(pod->ioctl_fd, spec->ifname);
    if (error) {
        return pod_net_error(msgp, NULL, error, "turn off tx checksum "
                             "offload on %s in netns %s", spec->ifname, ns);
    }

    error = pod_net_link_set_up(&pod->nl, "lo", 0);
    if (error) {
        return pod_net_error(msgp, pod->nl.extack, error, "bring up lo in "
                             "netns %s", ns);
    }
    error = pod_net_link_set_up(&pod->nl, NULL, pod_link.ifindex);
    if (error) {
        return pod_net_error(msgp, pod->nl.extack, error, "bring up %s in "
                             "netns %s", spec->ifname, ns);
    }
    error = pod_net_link_set_up(&host->nl, NULL, host_link.ifindex);
    if (error) {
        return pod_net_error(msgp, host->nl.extack, error, "bring up %s",
                             spec->host_ifname);
    }

    for (size_t i = 0; i < spec->n_addrs; i++) {
        error = pod_net_addr_add(&pod->nl, pod_link.ifindex, &spec->addrs[i]);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "add address "
                                 "%s to %s in netns %s",
                                 pod_net_addr_format(&spec->addrs[i], buf),
                                 spec->ifname, ns);
        }
    }
    if (ipv6) {
        /* The link-local address the kernel would have made, minus DAD. */
        struct pod_net_addr lla = { .family = AF_INET6, .plen = 64 };

        in6_generate_lla(pod_link.mac, &lla.in6);
        error = pod_net_addr_add(&pod->nl, pod_link.ifindex, &lla);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "add address "
                                 "%s to %s in netns %s",
                                 pod_net_addr_format(&lla, buf),
                                 spec->ifname, ns);
        }
    }

    if (spec->has_gateway4) {
        bool onlink = !pod_net_gateway_on_link(spec, AF_INET,
                                               &spec->gateway4);
        error = pod_net_route_add(&pod->nl, AF_INET, &spec->gateway4,
                                  pod_link.ifindex, onlink);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "add default "
                                 "route via %s in netns %s",
                                 pod_net_ip_format(AF_INET, &spec->gateway4,
                                                   buf), ns);
        }
    }
    if (spec->has_gateway6) {
        bool onlink = !pod_net_gateway_on_link(spec, AF_INET6,
                                               &spec->gateway6);
        error = pod_net_route_add(&pod->nl, AF_INET6, &spec->gateway6,
                                  pod_link.ifindex, onlink);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "add default "
                                 "route via %s in netns %s",
                                 pod_net_ip_format(AF_INET6, &spec->gateway6,
                                                   buf), ns);
        }
    }

    memset(state, 0, sizeof *state);
    state->host_ifindex = host_link.ifindex;
    state->pod_ifindex = pod_link.ifindex;
    state->host_mac = host_link.mac;
    state->pod_mac = pod_link.mac;
    state->mtu = pod_link.mtu;
    return 0;
}

/* Validates 'spec' and opens 'pod' (the namespace at its netns_path) and
 * 'host' (the daemon's), as pod_net_add() and pod_net_check() both need.
 * The caller closes both whatever the outcome. */
static int
pod_net_ns_open_both(const struct pod_net_spec *spec,
                     struct pod_net_ns *host, struct pod_net_ns *pod,
                     char **msgp)
{
    pod_net_ns_init(host);
    pod_net_ns_init(pod);

    int error = pod_net_spec_validate(spec, msgp);
    if (!error) {
        error = pod_net_ns_open_path(pod, spec->netns_path, msgp);
    }
    if (!error) {
        error = pod_net_ns_open_daemon(host, msgp);
    }
    return error;
}

/* Plumbs a pod as 'spec' says:
 *
 *   - One RTM_NEWLINK creates the veth pair: 'spec->host_ifname' in the
 *     daemon's namespace, and its peer directly in the namespace at
 *     'spec->netns_path' as 'spec->ifname', with 'spec->mac' and
 *     'spec->mtu' (both ends).
 *
 *   - Tx checksum offload goes off on both ends; the pod's lo, the pod end
 *     and the host end come up.
 *
 *   - The addresses go on the pod end; if any is IPv6, the kernel's
 *     link-local generation is turned off and an EUI-64 link-local is
 *     added instead, like every IPv6 address here without DAD, so that the
 *     addresses work at once.  Then default routes via 'spec->gateway4'
 *     and 'spec->gateway6' (on-link even outside the pod's prefixes).
 *
 * On success stores what was built in '*state'.  On failure deletes the
 * pair, if it got created, and leaves '*state' alone.  'errp' as described
 * in pod-net.h. */
int
pod_net_add(const struct pod_net_spec *spec, struct pod_net_state *state,
            char **errp)
{
    struct pod_net_ns host, pod;
    int host_ifindex = 0;
    bool created = false;
    char *msg = NULL;
    int error;

    error = pod_net_ns_open_both(spec, &host, &pod, &msg);
    if (!error) {
        error = pod_net_add__(spec, &host, &pod, state, &host_ifindex,
                              &created, &msg);
    }

    if (error && created) {
        /* Deleting one end of a veth deletes both. */
        int error2 = pod_net_link_del(&host.nl,
                                      host_ifindex ? NULL : spec->host_ifname,
                                      host_ifindex);
        if (error2 && error2 != ENODEV) {
            static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
            VLOG_WARN_RL(&rl, "%s: undo failed, link %s left behind: %s",
                         spec->host_ifname, spec->host_ifname,
                         ovs_strerror(error2));
        }
    }
    if (!error) {
        VLOG_DBG("plumbed %s (host) and %s in netns %s",
                 spec->host_ifname, spec->ifname, spec->netns_path);
    }

    pod_net_ns_close(&pod);
    pod_net_ns_close(&host);
    return pod_net_finish(errp, msg, error);
}

/* DEL. */

/* Deletes the veth named 'name' in 'ns', if it exists and is a veth.
 * Stores in '*deletedp' whether it did. */
static int
pod_net_del_veth(struct pod_net_ns *ns, const char *name, bool *deletedp,
                 char **msgp)
{
    struct pod_net_link link;
    int error;

    *deletedp = false;
    error = pod_net_link_get(&ns->nl, name, 0, &link);
    if (error == ENODEV) {
        return 0;
    } else if (error) {
        return pod_net_error(msgp, ns->nl.extack, error, "look up link %s in "
                             "%s", name, pod_net_ns_name(ns));
    }

    if (strcmp(link.kind, "veth")) {
        /* Not something we made: leave it. */
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
        VLOG_WARN_RL(&rl, "link %s in %s is a %s, not a veth: not deleting "
                     "it", name, pod_net_ns_name(ns),
                     link.kind[0] ? link.kind : "device of unknown kind");
        return 0;
    }

    error = pod_net_link_del(&ns->nl, NULL, link.ifindex);
    if (error && error != ENODEV) {
        return pod_net_error(msgp, ns->nl.extack, error, "delete link %s in "
                             "%s", name, pod_net_ns_name(ns));
    }
    *deletedp = true;
    return 0;
}

/* Removes the veth pair of a pod: 'host_ifname' in the daemon's namespace,
 * which takes its peer along; if that is gone, the veth 'ifname' in the
 * namespace at 'netns_path'.  Missing links, a missing or stale namespace
 * and a null or empty 'netns_path' or 'ifname' are success, so that DEL can
 * be repeated.  Links that are not veths are left alone.  'errp' as
 * described in pod-net.h. */
int
pod_net_del(const char *host_ifname, const char *netns_path,
            const char *ifname, char **errp)
{
    struct pod_net_ns host, pod;
    bool deleted = false;
    char *msg = NULL;
    int error = 0;

    pod_net_ns_init(&host);
    pod_net_ns_init(&pod);

    if (host_ifname && host_ifname[0]) {
        error = pod_net_check_ifname(host_ifname, "host interface name",
                                     &msg);
        if (!error) {
            error = pod_net_ns_open_daemon(&host, &msg);
        }
        if (!error) {
            error = pod_net_del_veth(&host, host_ifname, &deleted, &msg);
        }
    }

    if (!error && !deleted && netns_path && netns_path[0]
        && ifname && ifname[0]) {
        error = pod_net_check_ifname(ifname, "interface name", &msg);
        if (!error) {
            error = pod_net_ns_open_path(&pod, netns_path, &msg);
            if (error == ENOENT || error == EINVAL) {
                /* The namespace is gone, and the peer with it. */
                free(msg);
                msg = NULL;
                error = 0;
            } else if (!error) {
                error = pod_net_del_veth(&pod, ifname, &deleted, &msg);
            }
        }
    }

    if (!error && deleted) {
        VLOG_DBG("deleted veth of %s", host_ifname ? host_ifname : ifname);
    }

    pod_net_ns_close(&pod);
    pod_net_ns_close(&host);
    return pod_net_finish(errp, msg, error);
}

/* CHECK. */

static int
pod_net_check__(const struct pod_net_spec *spec, struct pod_net_ns *host,
                struct pod_net_ns *pod, struct pod_net_state *state,
                char **msgp)
{
    struct pod_net_state live;
    const char *ns = pod_net_ns_name(pod);
    struct pod_net_link link;
    char buf[POD_NET_ADDRSTRLEN];
    int error;

    /* The pod end. */
    error = pod_net_link_get(&pod->nl, spec->ifname, 0, &link);
    if (error == ENODEV) {
        return pod_net_fail(msgp, ENODEV, "link %s not found in netns %s",
                            spec->ifname, ns);
    } else if (error) {
        return pod_net_error(msgp, pod->nl.extack, error, "look up link %s "
                             "in netns %s", spec->ifname, ns);
    }
    if (strcmp(link.kind, "veth")) {
        return pod_net_fail(msgp, EINVAL, "link %s in netns %s is a %s, not "
                            "a veth", spec->ifname, ns,
                            link.kind[0] ? link.kind : "device");
    }
    if (!eth_addr_is_zero(spec->mac) && !eth_addr_equals(spec->mac,
                                                         link.mac)) {
        return pod_net_fail(msgp, EINVAL, "link %s in netns %s has MAC "
                            ETH_ADDR_FMT", expected "ETH_ADDR_FMT,
                            spec->ifname, ns, ETH_ADDR_ARGS(link.mac),
                            ETH_ADDR_ARGS(spec->mac));
    }
    if (spec->mtu && link.mtu != spec->mtu) {
        return pod_net_fail(msgp, EINVAL, "link %s in netns %s has MTU %d, "
                            "expected %d", spec->ifname, ns, link.mtu,
                            spec->mtu);
    }
    if (!(link.flags & IFF_UP)) {
        return pod_net_fail(msgp, EINVAL, "link %s in netns %s is down",
                            spec->ifname, ns);
    }
    live.pod_ifindex = link.ifindex;
    live.pod_mac = link.mac;
    live.mtu = link.mtu;

    bool tx_csum;
    error = pod_net_tx_csum_get(pod->ioctl_fd, spec->ifname, &tx_csum);
    if (error) {
        return pod_net_error(msgp, NULL, error, "read tx checksum offload "
                             "of %s in netns %s", spec->ifname, ns);
    } else if (tx_csum) {
        return pod_net_fail(msgp, EINVAL, "link %s in netns %s has tx "
                            "checksum offload on", spec->ifname, ns);
    }

    struct pod_net_addr_find find = {
        .ifindex = link.ifindex,
        .match_plen = true,
        .addrs = spec->addrs,
        .n = spec->n_addrs,
    };
    error = pod_net_addr_dump(&pod->nl, &find);
    if (error) {
        return pod_net_error(msgp, pod->nl.extack, error, "dump addresses "
                             "in netns %s", ns);
    }
    for (size_t i = 0; i < spec->n_addrs; i++) {
        if (!find.found[i]) {
            return pod_net_fail(msgp, EINVAL, "address %s missing on %s in "
                                "netns %s",
                                pod_net_addr_format(&spec->addrs[i], buf),
                                spec->ifname, ns);
        }
    }

    for (int i = 0; i < 2; i++) {
        int family = i ? AF_INET6 : AF_INET;
        bool has_gw = i ? spec->has_gateway6 : spec->has_gateway4;
        const void *gw = (i ? (const void *) &spec->gateway6
                          : (const void *) &spec->gateway4);
        if (!has_gw) {
            continue;
        }

        struct pod_net_route_find route = {
            .family = family,
            .gateway = gw,
            .oif = link.ifindex,
        };
        error = pod_net_route_dump(&pod->nl, &route);
        if (error) {
            return pod_net_error(msgp, pod->nl.extack, error, "dump routes "
                                 "in netns %s", ns);
        } else if (!route.found) {
            return pod_net_fail(msgp, EINVAL, "no default route via %s on %s "
                                "in netns %s",
                                pod_net_ip_format(family, gw, buf),
                                spec->ifname, ns);
        }
    }

    /* The host end. */
    error = pod_net_link_get(&host->nl, spec->host_ifname, 0, &link);
    if (error == ENODEV) {
        return pod_net_fail(msgp, ENODEV, "host link %s not found",
                            spec->host_ifname);
    } else if (error) {
        return pod_net_error(msgp, host->nl.extack, error, "look up host "
                             "link %s", spec->host_ifname);
    }
    if (strcmp(link.kind, "veth")) {
        return pod_net_fail(msgp, EINVAL, "host link %s is a %s, not a veth",
                            spec->host_ifname,
                            link.kind[0] ? link.kind : "device");
    }
    if (!(link.flags & IFF_UP)) {
        return pod_net_fail(msgp, EINVAL, "host link %s is down",
                            spec->host_ifname);
    }
    if (spec->mtu && link.mtu != spec->mtu) {
        return pod_net_fail(msgp, EINVAL, "host link %s has MTU %d, expected "
                            "%d", spec->host_ifname, link.mtu, spec->mtu);
    }
    live.host_ifindex = link.ifindex;
    live.host_mac = link.mac;
    if (state) {
        *state = live;
    }
    return 0;
}

/* Compares the live plumbing with 'spec' (see pod-net.h) and reports the
 * first difference through 'errp'. */
int
pod_net_check(const struct pod_net_spec *spec, char **errp)
{
    return pod_net_check_state(spec, NULL, errp);
}

/* Like pod_net_check(), and if the plumbing is as 'spec' says, stores what
 * it is in '*state' (if nonnull), as pod_net_add() would have. */
int
pod_net_check_state(const struct pod_net_spec *spec,
                    struct pod_net_state *state, char **errp)
{
    struct pod_net_ns host, pod;
    char *msg = NULL;
    int error;

    error = pod_net_ns_open_both(spec, &host, &pod, &msg);
    if (!error) {
        error = pod_net_check__(spec, &host, &pod, state, &msg);
    }

    pod_net_ns_close(&pod);
    pod_net_ns_close(&host);
    return pod_net_finish(errp, msg, error);
}

/* Names and MTUs. */

/* Stores into 'name' the host end's name for interface 'ifname' of
 * container 'container_id': "lm" and the first 12 hex digits of the SHA-1
 * of both, so stable across calls and daemons, 14 bytes long. */
void
pod_net_host_ifname(const char *container_id, const char *ifname,
                    char name[POD_NET_IFNAMSIZ])
{
    uint8_t digest[SHA1_DIGEST_SIZE];
    struct sha1_ctx ctx;

    container_id = container_id ? container_id : "";
    ifname = ifname ? ifname : "";

    /* The null byte keeps ("ab", "c") apart from ("a", "bc"). */
    sha1_init(&ctx);
    sha1_update(&ctx, container_id, strlen(container_id) + 1);
    sha1_update(&ctx, ifname, strlen(ifname));
    sha1_final(&ctx, digest);

    snprintf(name, POD_NET_IFNAMSIZ, "lm%02x%02x%02x%02x%02x%02x",
             digest[0], digest[1], digest[2], digest[3], digest[4],
             digest[5]);
}

/* Looks up link 'ifindex' (or 'name' if nonnull) with a fresh socket in
 * the calling thread's namespace and stores its MTU in '*mtu'. */
static int
pod_net_link_mtu(const char *name, int ifindex, int *mtu)
{
    struct pod_net_link link;
    struct pod_net_nl nl;

    int error = pod_net_nl_open(&nl);
    if (!error) {
        error = pod_net_link_get(&nl, name, ifindex, &link);
        pod_net_nl_close(&nl);
    }
    if (!error) {
        *mtu = link.mtu;
    }
    return error;
}

/* Stores in '*mtu' the MTU of interface 'ifname' in the calling thread's
 * namespace.  Returns 0, ENODEV if there is no such interface, or another
 * errno value. */
int
pod_net_get_mtu(const char *ifname, int *mtu)
{
    if (!ifname || !ifname[0] || strlen(ifname) >= POD_NET_IFNAMSIZ) {
        return ENODEV;
    }
    return pod_net_link_mtu(ifname, 0, mtu);
}

/* Stores in '*mtu' the path MTU of the main table's default route in the
 * calling thread's namespace: IPv4's, else IPv6's; the lowest metric wins;
 * the device's MTU unless the route has a smaller "mtu" metric.  Returns
 * 0, ENOENT if there is no default route, or another errno value. */
int
pod_net_default_route_mtu(int *mtu)
{
    struct pod_net_route_find find = { .family = AF_INET };
    struct pod_net_nl nl;

    int error = pod_net_nl_open(&nl);
    if (error) {
        return error;
    }
    error = pod_net_route_dump(&nl, &find);
    if (!error && !find.found) {
        memset(&find, 0, sizeof find);
        find.family = AF_INET6;
        error = pod_net_route_dump(&nl, &find);
    }
    pod_net_nl_close(&nl);

    if (error) {
        return error;
    } else if (!find.found || !find.found_oif) {
        return ENOENT;
    }

    int link_mtu;
    error = pod_net_link_mtu(NULL, find.found_oif, &link_mtu);
    if (!error) {
        *mtu = (find.mtu && find.mtu < link_mtu) ? find.mtu : link_mtu;
    }
    return error;
}

/* Stores in '*mtu' the MTU of the interface, in the calling thread's
 * namespace, that holds local address 'addr' ('addr->plen' is ignored).
 * Returns 0, EADDRNOTAVAIL if no interface has it, EINVAL if 'addr' is
 * neither IPv4 nor IPv6, or another errno value. */
int
pod_net_addr_mtu(const struct pod_net_addr *addr, int *mtu)
{
    struct pod_net_addr_find find = { .addrs = addr, .n = 1 };
    struct pod_net_nl nl;

    if (addr->family != AF_INET && addr->family != AF_INET6) {
        return EINVAL;
    }

    int error = pod_net_nl_open(&nl);
    if (error) {
        return error;
    }
    error = pod_net_addr_dump(&nl, &find);
    pod_net_nl_close(&nl);

    if (error) {
        return error;
    } else if (!find.found[0]) {
        return EADDRNOTAVAIL;
    }
    return pod_net_link_mtu(NULL, find.found[0], mtu);
}

/* RARP. */

/* A gratuitous RARP request as QEMU sends after a migration, padded to the
 * Ethernet minimum as a NIC would. */
struct pod_net_rarp {
    struct eth_header eth;
    struct arp_eth_header arp;
    uint8_t pad[ETH_TOTAL_MIN - ETH_HEADER_LEN - ARP_ETH_HEADER_LEN];
};
BUILD_ASSERT_DECL(sizeof(struct pod_net_rarp) == ETH_TOTAL_MIN);

/* Sends one RARP request from 'ifname' in the namespace at 'netns_path',
 * with the interface's MAC as source and as target hardware address, so
 * that switches learn where the MAC now lives.  The AF_PACKET socket is
 * opened inside the namespace; the thread returns at once.  'errp' as
 * described in pod-net.h. */
int
pod_net_send_rarp(const char *netns_path, const char *ifname, char **errp)
{
    struct pod_net_ns pod;
    char *msg = NULL;
    int sock = -1;
    int error;

    pod_net_ns_init(&pod);

    error = pod_net_check_ifname(ifname, "interface name", &msg);
    if (!error && (!netns_path || !netns_path[0])) {
        error = pod_net_fail(&msg, EINVAL, "netns path missing");
    }
    if (!error) {
        int daemon_fd;

        error = pod_net_daemon_ns(&daemon_fd);
        if (error) {
            pod_net_error(&msg, NULL, error, "daemon network namespace");
        } else {
            pod.path = netns_path;
            pod.fd = open(netns_path, O_RDONLY | O_CLOEXEC);
            if (pod.fd < 0) {
                error = pod_net_error(&msg, NULL, errno, "netns %s",
                                      netns_path);
            } else if (setns(pod.fd, CLONE_NEWNET)) {
                error = pod_net_error(&msg, NULL, errno, "netns %s: setns",
                                      netns_path);
            } else {
                /* Protocol 0: this socket only sends. */
                sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
                error = sock < 0 ? errno : 0;
                pod_net_leave(daemon_fd);
                if (error) {
                    pod_net_error(&msg, NULL, error, "netns %s: open packet "
                                  "socket", netns_path);
                }
            }
        }
    }

    /* The ioctls act in the socket's namespace, not the thread's. */
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (!error) {
        ovs_strzcpy(ifr.ifr_name, ifname, sizeof ifr.ifr_name);
        if (ioctl(sock, SIOCGIFHWADDR, &ifr)) {
            error = pod_net_error(&msg, NULL, errno, "link %s in netns %s",
                                  ifname, netns_path);
        } else if (ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
            error = pod_net_fail(&msg, EINVAL, "link %s in netns %s is not "
                                 "Ethernet", ifname, netns_path);
        }
    }

    struct eth_addr mac;
    if (!error) {
        memcpy(mac.ea, ifr.ifr_hwaddr.sa_data, ETH_ADDR_LEN);
        if (ioctl(sock, SIOCGIFINDEX, &ifr)) {
            error = pod_net_error(&msg, NULL, errno, "link %s in netns %s",
                                  ifname, netns_path);
        }
    }

    if (!error) {
        struct pod_net_rarp frame;
        memset(&frame, 0, sizeof frame);
        frame.eth.eth_dst = eth_addr_broadcast;
        frame.eth.eth_src = mac;
        frame.eth.eth_type = htons(ETH_TYPE_RARP);
        frame.arp.ar_hrd = htons(ARP_HRD_ETHERNET);
        frame.arp.ar_pro = htons(ETH_TYPE_IP);
        frame.arp.ar_hln = ETH_ADDR_LEN;
        frame.arp.ar_pln = sizeof(ovs_be32);
        frame.arp.ar_op = htons(ARP_OP_RARP);
        frame.arp.ar_sha = mac;
        frame.arp.ar_tha = mac;

        struct sockaddr_ll sll = {
            .sll_family = AF_PACKET,
            .sll_protocol = htons(ETH_TYPE_RARP),
            .sll_ifindex = ifr.ifr_ifindex,
            .sll_halen = ETH_ADDR_LEN,
        };
        memcpy(sll.sll_addr, eth_addr_broadcast.ea, ETH_ADDR_LEN);

        if (sendto(sock, &frame, sizeof frame, 0,
                   (const struct sockaddr *) &sll, sizeof sll) < 0) {
            error = pod_net_error(&msg, NULL, errno, "send RARP on %s in "
                                  "netns %s", ifname, netns_path);
        }
    }

    if (sock >= 0) {
        close(sock);
    }
    pod_net_ns_close(&pod);
    return pod_net_finish(errp, msg, error);
}
