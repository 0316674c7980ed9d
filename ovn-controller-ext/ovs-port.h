/*
 * ovs-port: the local Open vSwitch side of an attachment — the pod's host
 * veth as a Port/Interface on the integration bridge, tagged with
 * external_ids:iface-id so that ovn-controller binds the logical port, and
 * ovn-controller's "ovn-installed" mark that says the flows are in place.
 *
 * The Interface's external_ids also record the attachment (the same
 * ovn-lm/... keys as nb-port.h), which is how a restarted daemon and GC
 * find what this node holds.
 */
#ifndef OVS_PORT_H
#define OVS_PORT_H 1

#include <stdbool.h>

struct ovsdb_idl;
struct ovsdb_idl_index;
struct ovsdb_idl_txn;
struct ovsrec_bridge;
struct ovsrec_interface;
struct ovsrec_port;
struct smap;

#define OVS_PORT_KEY_NETNS "ovn-lm/netns"
#define OVS_PORT_KEY_NETNS_ID "ovn-lm/netns-id"  /* "dev:inode" at ADD. */
#define OVS_PORT_KEY_RECORD "ovn-lm/record"     /* The plugin's record. */

struct ovs_port_indexes {
    struct ovsdb_idl_index *iface_by_name;
    struct ovsdb_idl_index *port_by_name;
};

/* What the daemon reads from the Open_vSwitch table. */
struct ovs_port_system {
    const char *chassis;        /* external_ids:system-id. */
    const char *encap_ip;       /* external_ids:ovn-encap-ip. */
    const char *sb_remote;      /* external_ids:ovn-remote. */
    const char *bridge;         /* external_ids:ovn-bridge or "br-int". */
};

void ovs_port_idl_register(struct ovsdb_idl *, struct ovs_port_indexes *);
void ovs_port_get_system(struct ovsdb_idl *, struct ovs_port_system *);

const struct ovsrec_bridge *ovs_port_find_bridge(struct ovsdb_idl *,
                                                 const char *name);
const struct ovsrec_interface *ovs_port_find_iface(
    const struct ovs_port_indexes *, const char *name);
const struct ovsrec_port *ovs_port_find_port(
    const struct ovs_port_indexes *, const char *name);

bool ovs_port_is_installed(const struct ovsrec_interface *);
const char *ovs_port_iface_error(const struct ovsrec_interface *);

void ovs_port_add(struct ovsdb_idl_txn *, const struct ovsrec_bridge *,
                  const char *name, const char *iface_id,
                  const struct smap *external_ids);
void ovs_port_delete(struct ovsdb_idl *, const struct ovsrec_port *);

#endif /* ovs-port.h */
