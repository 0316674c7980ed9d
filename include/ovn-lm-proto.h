/*
 * ovn-lm-proto.h: the protocol between the `ovn-lm` CNI binary and the
 * `ovn-controller-ext` node daemon.  This header is all the two binaries
 * share.
 *
 * Transport: a unix stream socket (default OVN_LM_DEFAULT_SOCKET, or the
 * conflist's "socket" key).  One request per connection.  The client writes
 * one JSON object (the request) and then shuts down its write side; the
 * daemon reads until EOF, answers with one JSON object (the response) and
 * closes.  Either side rejects a message larger than OVN_LM_MAX_MSG.
 *
 * Request (client -> daemon):
 *   {
 *     "version":     1,                        protocol version
 *     "command":     "ADD"|"DEL"|"CHECK"|"GC"|"STATUS",
 *     "containerId": "...",                    CNI_CONTAINERID ("" if unset)
 *     "netns":       "...",                    CNI_NETNS ("" if unset)
 *     "ifname":      "...",                    CNI_IFNAME ("" if unset)
 *     "args":        { "K8S_POD_NAME": "...", ... },
 *                                              CNI_ARGS, already validated,
 *                                              IgnoreUnknown removed
 *     "runtime":     { "mac": "...",           runtimeConfig capabilities,
 *                      "ips": ["10.0.0.5/24"], keys matched case-
 *                      "podAnnotations": {..}  insensitively by the client
 *                    },                        and normalised to these names
 *     "config":      { ... }                   the network configuration
 *                                              from stdin, as received
 *                                              (cniVersion, name, type,
 *                                              prevResult, plugin keys)
 *   }
 *   For GC the client also sends "validAttachments": [{"containerID": "...",
 *   "ifname": "..."}, ...] merged from the config's "cni.dev/attachments" and
 *   "cni.dev/valid-attachments".
 *
 * Response (daemon -> client), exactly one of:
 *   { "result": { ... } }    For ADD, a CNI result in the 1.1.0 layout
 *                            (interfaces with "mtu", ips without "version");
 *                            the client converts it to the config's
 *                            cniVersion.  For the other commands: {}.
 *   { "error": { "code": N, "msg": "...", "details": "..." } }
 *                            A CNI error; the client prints it in the
 *                            config's cniVersion.
 *
 * Plugin keys of the network configuration (read by the daemon, type-checked
 * by the client):
 *   "socket"        string   daemon socket path
 *   "logicalSwitch" string   OVN NB logical switch (required for ADD)
 *   "bridge"        string   integration bridge, default "br-int"
 *   "mtu"           integer  pod MTU, default underlay MTU - 58
 *   "gateway"       string   IPv4 gateway, adds a default route
 *   "readyTimeout"  number   seconds to wait for ovn-installed, default 20
 *   "stateDir"      string   where the client keeps its attachment records:
 *                            one file per attachment, OVN_LM_RECORD_FMT.  The
 *                            daemon removes one only when it sweeps away an
 *                            attachment whose pod vanished without a DEL.
 */
#ifndef OVN_LM_PROTO_H
#define OVN_LM_PROTO_H 1

#define OVN_LM_PROTO_VERSION 1
#define OVN_LM_DEFAULT_SOCKET "/run/ovn-lm/ovn-lm.sock"
#define OVN_LM_DEFAULT_STATE_DIR "/var/lib/cni/ovn-lm"
#define OVN_LM_DEFAULT_BRIDGE "br-int"
#define OVN_LM_DEFAULT_READY_TIMEOUT 20.0
#define OVN_LM_GENEVE_OVERHEAD 58
#define OVN_LM_MAX_MSG (1024 * 1024)

/* An attachment record: stateDir, network name, container id, ifname. */
#define OVN_LM_RECORD_FMT "%s/%s/%s:%s"

/* The CNI spec's error codes. */
enum ovn_lm_cni_code {
    OVN_LM_CNI_INCOMPATIBLE_VERSION = 1,
    OVN_LM_CNI_UNSUPPORTED_FIELD = 2,
    OVN_LM_CNI_UNKNOWN_CONTAINER = 3,
    OVN_LM_CNI_INVALID_ENV = 4,
    OVN_LM_CNI_IO_FAILURE = 5,
    OVN_LM_CNI_DECODE_FAILURE = 6,
    OVN_LM_CNI_INVALID_NETCONF = 7,
    OVN_LM_CNI_TRY_AGAIN_LATER = 11,
    OVN_LM_CNI_PLUGIN_NOT_AVAILABLE = 50,
    OVN_LM_CNI_PLUGIN_NOT_AVAILABLE_LIMITED = 51,
    /* Plugin-specific codes (100 and up). */
    OVN_LM_CNI_ADDRESS_IN_USE = 100, /* Static IP or MAC held by another port. */
    OVN_LM_CNI_OVN_FAILURE = 101,    /* OVN NB/OVS transaction failed. */
    OVN_LM_CNI_TIMEOUT = 102,        /* ovn-installed not seen in time. */
    OVN_LM_CNI_NETLINK_FAILURE = 103,/* Pod plumbing failed. */
    OVN_LM_CNI_CHECK_FAILED = 104,   /* CHECK found a difference. */
};

#endif /* ovn-lm-proto.h */
