/*
 * Open vSwitch access for attachments (see ovs-port.h).
 */
#include <config.h>
#include "ovs-port.h"

#include <string.h>

#include "lib/vswitch-idl.h"
#include "ovsdb-idl.h"
#include "smap.h"
#include "util.h"

/* Registers the Open_vSwitch tables and columns the daemon reads and
 * creates the indexes in '*ix'.  Call before the first ovsdb_idl_run(). */
void
ovs_port_idl_register(struct ovsdb_idl *idl, struct ovs_port_indexes *ix)
{
    ovsdb_idl_add_table(idl, &ovsrec_table_open_vswitch);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_external_ids);
    ovsdb_idl_add_column(idl, &ovsrec_open_vswitch_col_bridges);

    ovsdb_idl_add_table(idl, &ovsrec_table_bridge);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_bridge_col_ports);

    ovsdb_idl_add_table(idl, &ovsrec_table_port);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_interfaces);
    ovsdb_idl_add_column(idl, &ovsrec_port_col_external_ids);

    ovsdb_idl_add_table(idl, &ovsrec_table_interface);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_name);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_type);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_external_ids);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_error);
    ovsdb_idl_add_column(idl, &ovsrec_interface_col_ofport);

    ix->iface_by_name = ovsdb_idl_index_create1(idl,
                                                &ovsrec_interface_col_name);
    ix->port_by_name = ovsdb_idl_index_create1(idl, &ovsrec_port_col_name);
}

void
ovs_port_get_system(struct ovsdb_idl *idl, struct ovs_port_system *sys)
{
    const struct ovsrec_open_vswitch *cfg = ovsrec_open_vswitch_first(idl);

    memset(sys, 0, sizeof *sys);
    sys->bridge = "br-int";
    if (cfg) {
        sys->chassis = smap_get(&cfg->external_ids, "system-id");
        sys->encap_ip = smap_get(&cfg->external_ids, "ovn-encap-ip");
        sys->sb_remote = smap_get(&cfg->external_ids, "ovn-remote");
        sys->bridge = smap_get_def(&cfg->external_ids, "ovn-bridge",
                                   "br-int");
    }
}

const struct ovsrec_bridge *
ovs_port_find_bridge(struct ovsdb_idl *idl, const char *name)
{
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, idl) {
        if (!strcmp(br->name, name)) {
            return br;
        }
    }
    return NULL;
}

const struct ovsrec_interface *
ovs_port_find_iface(const struct ovs_port_indexes *ix, const char *name)
{
    struct ovsrec_interface *key
        = ovsrec_interface_index_init_row(ix->iface_by_name);
    ovsrec_interface_index_set_name(key, name);
    const struct ovsrec_interface *iface
        = ovsrec_interface_index_find(ix->iface_by_name, key);
    ovsrec_interface_index_destroy_row(key);
    return iface;
}

const struct ovsrec_port *
ovs_port_find_port(const struct ovs_port_indexes *ix, const char *name)
{
    struct ovsrec_port *key = ovsrec_port_index_init_row(ix->port_by_name);
    ovsrec_port_index_set_name(key, name);
    const struct ovsrec_port *port
        = ovsrec_port_index_find(ix->port_by_name, key);
    ovsrec_port_index_destroy_row(key);
    return port;
}

/* True once ovn-controller has installed the flows for the interface. */
bool
ovs_port_is_installed(const struct ovsrec_interface *iface)
{
    return iface && smap_get_bool(&iface->external_ids, "ovn-installed",
                                  false);
}

/* ovs-vswitchd's complaint about the interface (e.g. the device could not
 * be opened), or NULL. */
const char *
ovs_port_iface_error(const struct ovsrec_interface *iface)
{
    return iface && iface->error && iface->error[0] ? iface->error : NULL;
}

/* Adds a Port 'name' with one system Interface 'name' to 'br'. */
void
ovs_port_add(struct ovsdb_idl_txn *txn, const struct ovsrec_bridge *br,
             const char *name, const char *iface_id,
             const struct smap *external_ids)
{
    struct ovsrec_interface *iface = ovsrec_interface_insert(txn);
    ovsrec_interface_set_name(iface, name);

    struct smap ids;
    smap_clone(&ids, external_ids);
    smap_replace(&ids, "iface-id", iface_id);
    smap_replace(&ids, "iface-status", "active");
    ovsrec_interface_set_external_ids(iface, &ids);
    smap_destroy(&ids);

    struct ovsrec_port *port = ovsrec_port_insert(txn);
    ovsrec_port_set_name(port, name);
    ovsrec_port_set_interfaces(port, &iface, 1);
    ovsrec_port_set_external_ids(port, external_ids);
    ovsrec_bridge_update_ports_addvalue(br, port);
}

/* Removes 'port' from whichever bridge holds it. */
void
ovs_port_delete(struct ovsdb_idl *idl, const struct ovsrec_port *port)
{
    const struct ovsrec_bridge *br;

    OVSREC_BRIDGE_FOR_EACH (br, idl) {
        for (size_t i = 0; i < br->n_ports; i++) {
            if (br->ports[i] == port) {
                ovsrec_bridge_update_ports_delvalue(br, port);
                break;
            }
        }
    }
    ovsrec_port_delete(port);
}
