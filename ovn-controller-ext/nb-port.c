/*
 * OVN Northbound access for attachments (see nb-port.h).
 */
#include <config.h>
#include "nb-port.h"

#include <string.h>

#include "lib/ovn-nb-idl.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "util.h"

/* Registers the NB tables and columns the daemon reads, and creates the
 * indexes in '*ix'.  Call before the first ovsdb_idl_run(). */
void
nb_port_idl_register(struct ovsdb_idl *idl, struct nb_port_indexes *ix)
{
    ovsdb_idl_add_table(idl, &nbrec_table_logical_switch);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_col_name);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_col_ports);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_col_other_config);

    ovsdb_idl_add_table(idl, &nbrec_table_logical_switch_port);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_name);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_type);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_addresses);
    ovsdb_idl_add_column(idl,
                         &nbrec_logical_switch_port_col_dynamic_addresses);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_port_security);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_options);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_external_ids);
    ovsdb_idl_add_column(idl, &nbrec_logical_switch_port_col_up);

    ix->ls_by_name = ovsdb_idl_index_create1(idl,
                                             &nbrec_logical_switch_col_name);
    ix->lsp_by_name = ovsdb_idl_index_create1(
        idl, &nbrec_logical_switch_port_col_name);
}

const struct nbrec_logical_switch *
nb_port_find_switch(const struct nb_port_indexes *ix, const char *name)
{
    struct nbrec_logical_switch *key
        = nbrec_logical_switch_index_init_row(ix->ls_by_name);
    nbrec_logical_switch_index_set_name(key, name);
    const struct nbrec_logical_switch *ls
        = nbrec_logical_switch_index_find(ix->ls_by_name, key);
    nbrec_logical_switch_index_destroy_row(key);
    return ls;
}

const struct nbrec_logical_switch_port *
nb_port_find(const struct nb_port_indexes *ix, const char *name)
{
    struct nbrec_logical_switch_port *key
        = nbrec_logical_switch_port_index_init_row(ix->lsp_by_name);
    nbrec_logical_switch_port_index_set_name(key, name);
    const struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_index_find(ix->lsp_by_name, key);
    nbrec_logical_switch_port_index_destroy_row(key);
    return lsp;
}

/* Reads the switch's other_config:subnet ("10.0.0.0/24"). */
bool
nb_port_switch_subnet(const struct nbrec_logical_switch *ls, ovs_be32 *net,
                      unsigned int *plen)
{
    const char *subnet = smap_get(&ls->other_config, "subnet");
    if (!subnet) {
        return false;
    }
    char *error = ip_parse_cidr(subnet, net, plen);
    if (error) {
        free(error);
        return false;
    }
    return true;
}

/* Parses "MAC IP" (OVN's address form; only the first IPv4 is kept). */
bool
nb_port_parse_address(const char *s, struct nb_port_addr *addr)
{
    char mac[32], ip[64];

    if (!s || sscanf(s, "%31s %63s", mac, ip) != 2) {
        return false;
    }
    return (eth_addr_from_string(mac, &addr->mac)
            && ip_parse(ip, &addr->ip));
}

/* Gets the port's address from its static addresses, else from the
 * dynamic ones northd assigned. */
bool
nb_port_get_address(const struct nbrec_logical_switch_port *lsp,
                    struct nb_port_addr *addr)
{
    for (size_t i = 0; i < lsp->n_addresses; i++) {
        if (nb_port_parse_address(lsp->addresses[i], addr)) {
            return true;
        }
    }
    return nb_port_parse_address(lsp->dynamic_addresses, addr);
}

static bool
lsp_uses_ip(const struct nbrec_logical_switch_port *lsp, ovs_be32 ip)
{
    struct nb_port_addr a;

    for (size_t i = 0; i < lsp->n_addresses; i++) {
        if (nb_port_parse_address(lsp->addresses[i], &a) && a.ip == ip) {
            return true;
        }
    }
    return (nb_port_parse_address(lsp->dynamic_addresses, &a)
            && a.ip == ip);
}

static bool
lsp_uses_mac(const struct nbrec_logical_switch_port *lsp,
             const struct eth_addr *mac)
{
    struct nb_port_addr a;

    for (size_t i = 0; i < lsp->n_addresses; i++) {
        if (nb_port_parse_address(lsp->addresses[i], &a)
            && eth_addr_equals(a.mac, *mac)) {
            return true;
        }
    }
    return (nb_port_parse_address(lsp->dynamic_addresses, &a)
            && eth_addr_equals(a.mac, *mac));
}

/* Returns a port of 'ls', other than the one named 'except', that holds
 * 'ip', or NULL. */
const struct nbrec_logical_switch_port *
nb_port_find_ip_user(const struct nbrec_logical_switch *ls, ovs_be32 ip,
                     const char *except)
{
    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];
        if (strcmp(lsp->name, except) && lsp_uses_ip(lsp, ip)) {
            return lsp;
        }
    }
    return NULL;
}

const struct nbrec_logical_switch_port *
nb_port_find_mac_user(const struct nbrec_logical_switch *ls,
                      const struct eth_addr *mac, const char *except)
{
    for (size_t i = 0; i < ls->n_ports; i++) {
        const struct nbrec_logical_switch_port *lsp = ls->ports[i];
        if (strcmp(lsp->name, except) && lsp_uses_mac(lsp, mac)) {
            return lsp;
        }
    }
    return NULL;
}

bool
nb_port_is_owned_by(const struct nbrec_logical_switch_port *lsp,
                    const char *container_id, const char *ifname)
{
    const char *cid = smap_get(&lsp->external_ids, NB_PORT_KEY_CONTAINER);
    const char *ifn = smap_get(&lsp->external_ids, NB_PORT_KEY_IFNAME);
    return cid && ifn && !strcmp(cid, container_id) && !strcmp(ifn, ifname);
}

/* Inserts port 'name' into 'ls' with 'address' ("MAC IP", "dynamic" or
 * "MAC dynamic").  Port security is set with the address when it is
 * static; a dynamic one gets it once northd has assigned the address. */
const struct nbrec_logical_switch_port *
nb_port_create(struct ovsdb_idl_txn *txn,
               const struct nbrec_logical_switch *ls, const char *name,
               const char *address, const struct smap *external_ids)
{
    const struct nbrec_logical_switch_port *lsp
        = nbrec_logical_switch_port_insert(txn);
    nbrec_logical_switch_port_set_name(lsp, name);
    nb_port_update(lsp, address, external_ids);
    nbrec_logical_switch_update_ports_addvalue(ls, lsp);
    return lsp;
}

void
nb_port_update(const struct nbrec_logical_switch_port *lsp,
               const char *address, const struct smap *external_ids)
{
    nbrec_logical_switch_port_set_addresses(lsp, &address, 1);
    if (strstr(address, "dynamic")) {
        nbrec_logical_switch_port_set_port_security(lsp, NULL, 0);
    } else {
        nbrec_logical_switch_port_set_port_security(lsp, &address, 1);
    }
    nbrec_logical_switch_port_set_external_ids(lsp, external_ids);
}

void
nb_port_set_port_security(const struct nbrec_logical_switch_port *lsp,
                          const char *address)
{
    nbrec_logical_switch_port_set_port_security(lsp, &address, 1);
}

/* Removes 'lsp' from the switch that holds it and deletes it. */
void
nb_port_delete(struct ovsdb_idl *idl, const struct nb_port_indexes *ix,
               const struct nbrec_logical_switch_port *lsp)
{
    const char *ls_name = smap_get(&lsp->external_ids, NB_PORT_KEY_SWITCH);
    const struct nbrec_logical_switch *ls
        = ls_name ? nb_port_find_switch(ix, ls_name) : NULL;
    bool found = false;

    if (ls) {
        for (size_t i = 0; i < ls->n_ports && !found; i++) {
            found = ls->ports[i] == lsp;
        }
    }
    if (!found) {
        /* Someone moved it: look through every switch. */
        const struct nbrec_logical_switch *iter;
        ls = NULL;
        NBREC_LOGICAL_SWITCH_FOR_EACH (iter, idl) {
            for (size_t i = 0; i < iter->n_ports; i++) {
                if (iter->ports[i] == lsp) {
                    ls = iter;
                    break;
                }
            }
        }
    }
    if (ls) {
        nbrec_logical_switch_update_ports_delvalue(ls, lsp);
    }
    nbrec_logical_switch_port_delete(lsp);
}
