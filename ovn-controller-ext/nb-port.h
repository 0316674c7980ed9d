/*
 * nb-port: the OVN Northbound side of an attachment — logical switches and
 * the logical switch ports ovn-lm owns, their addresses and ownership.
 *
 * Ownership lives in the port's external_ids, so that a restarted daemon
 * (or another node's daemon) knows who holds a port:
 *   ovn-lm/container-id, ovn-lm/ifname   the attachment holding the port
 *   ovn-lm/chassis                        where that attachment lives
 *   ovn-lm/switch                         the logical switch it was put on
 *   ovn-lm/network                        the CNI network name
 *   ovn-lm/pod                            "namespace/name", informational
 *   ovn-lm/prefix-len                     the pod's prefix length
 */
#ifndef NB_PORT_H
#define NB_PORT_H 1

#include <stdbool.h>
#include "openvswitch/types.h"
#include "packets.h"

struct ovsdb_idl;
struct ovsdb_idl_index;
struct ovsdb_idl_txn;
struct nbrec_logical_switch;
struct nbrec_logical_switch_port;
struct smap;

#define NB_PORT_KEY_CONTAINER "ovn-lm/container-id"
#define NB_PORT_KEY_IFNAME "ovn-lm/ifname"
#define NB_PORT_KEY_CHASSIS "ovn-lm/chassis"
#define NB_PORT_KEY_SWITCH "ovn-lm/switch"
#define NB_PORT_KEY_NETWORK "ovn-lm/network"
#define NB_PORT_KEY_POD "ovn-lm/pod"
#define NB_PORT_KEY_PREFIX_LEN "ovn-lm/prefix-len"

struct nb_port_indexes {
    struct ovsdb_idl_index *ls_by_name;
    struct ovsdb_idl_index *lsp_by_name;
};

/* A port's Ethernet and IPv4 address, as OVN writes "MAC IP". */
struct nb_port_addr {
    struct eth_addr mac;
    ovs_be32 ip;
};

void nb_port_idl_register(struct ovsdb_idl *, struct nb_port_indexes *);

const struct nbrec_logical_switch *nb_port_find_switch(
    const struct nb_port_indexes *, const char *name);
const struct nbrec_logical_switch_port *nb_port_find(
    const struct nb_port_indexes *, const char *name);

bool nb_port_switch_subnet(const struct nbrec_logical_switch *,
                           ovs_be32 *net, unsigned int *plen);
bool nb_port_parse_address(const char *, struct nb_port_addr *);
bool nb_port_get_address(const struct nbrec_logical_switch_port *,
                         struct nb_port_addr *);
const struct nbrec_logical_switch_port *nb_port_find_ip_user(
    const struct nbrec_logical_switch *, ovs_be32 ip, const char *except);
const struct nbrec_logical_switch_port *nb_port_find_mac_user(
    const struct nbrec_logical_switch *, const struct eth_addr *,
    const char *except);

bool nb_port_is_owned_by(const struct nbrec_logical_switch_port *,
                         const char *container_id, const char *ifname);

const struct nbrec_logical_switch_port *nb_port_create(
    struct ovsdb_idl_txn *, const struct nbrec_logical_switch *,
    const char *name, const char *address, const struct smap *external_ids);
void nb_port_update(const struct nbrec_logical_switch_port *,
                    const char *address, const struct smap *external_ids);
void nb_port_set_port_security(const struct nbrec_logical_switch_port *,
                               const char *address);
void nb_port_delete(struct ovsdb_idl *, const struct nb_port_indexes *,
                    const struct nbrec_logical_switch_port *);

#endif /* nb-port.h */
