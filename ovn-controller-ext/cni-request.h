/*
 * cni-request: the daemon's view of one request from the `ovn-lm` CNI
 * binary (see include/ovn-lm-proto.h), parsed and checked.  The CNI binary
 * validates first, but the socket is an input of its own: everything is
 * checked again here.
 */
#ifndef CNI_REQUEST_H
#define CNI_REQUEST_H 1

#include <stdbool.h>
#include <stddef.h>
#include "openvswitch/types.h"
#include "packets.h"
#include "smap.h"

struct cJSON;

enum cni_command {
    CNI_CMD_ADD,
    CNI_CMD_DEL,
    CNI_CMD_CHECK,
    CNI_CMD_GC,
    CNI_CMD_STATUS,
};

/* One (container id, ifname) pair a GC request says is still in use. */
struct cni_attachment_id {
    char *container_id;
    char *ifname;
};

/* The plugin keys of the network configuration. */
struct cni_netconf {
    char *cni_version;
    char *network;          /* "name". */
    char *logical_switch;   /* NULL if absent. */
    char *bridge;           /* NULL if absent. */
    int mtu;                /* 0 if absent. */
    bool has_gateway;
    ovs_be32 gateway;
    double ready_timeout;   /* Seconds. */
    char *state_dir;        /* The client's attachment records. */
};

struct cni_request {
    enum cni_command command;
    char *container_id;
    char *netns;
    char *ifname;
    struct smap args;             /* CNI_ARGS. */

    /* runtimeConfig, normalised by the client. */
    bool has_mac;
    struct eth_addr mac;
    char **ips;                   /* CIDR strings. */
    size_t n_ips;
    struct smap annotations;      /* io.kubernetes.cri.pod-annotations,
                                   * else from the Kubernetes API. */
    struct smap labels;           /* The pod's, from the Kubernetes API. */

    struct cni_netconf conf;
    struct cJSON *prev_result;    /* Owned; NULL if absent. */

    struct cni_attachment_id *valid; /* GC only. */
    size_t n_valid;
};

void cni_request_init(struct cni_request *);
char *cni_request_parse(const char *buf, size_t len, struct cni_request *)
    OVS_WARN_UNUSED_RESULT;
void cni_request_move(struct cni_request *dst, struct cni_request *src);
void cni_request_destroy(struct cni_request *);
const char *cni_command_to_string(enum cni_command);

/* Responses. */
char *cni_response_error(int code, const char *msg, const char *details);
char *cni_response_result(const struct cJSON *result);
bool cni_response_is_ok(const char *response);

#endif /* cni-request.h */
