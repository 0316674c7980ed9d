/*
 * attach: carries out CNI requests.  Each request becomes a job that moves
 * through states across main-loop iterations (OVSDB transactions complete
 * asynchronously); attach_run() advances every job that can move and
 * attach_wait() arranges to wake up when one can.
 *
 *   ADD:  NB logical port -> (dynamic address) -> veth + addresses ->
 *         OVS port with iface-id -> wait for ovn-installed -> result.
 *         Any failure tears down what this job did, then answers an error.
 *   DEL:  veth, OVS port and the logical port this attachment holds;
 *         idempotent.
 *   CHECK, GC, STATUS: see attach.c.
 *
 * No state lives only in memory: what an attachment is, is recorded in the
 * OVS Interface's and the NB port's external_ids.
 */
#ifndef ATTACH_H
#define ATTACH_H 1

#include <stdbool.h>
#include <stdint.h>

struct attach;
struct cni_request;
struct metrics;
struct migration;
struct kube_sync;
struct sbrec_port_binding;
struct cni_server_conn;
struct ds;
struct unixctl_conn;
struct nb_port_indexes;
struct ovs_port_indexes;
struct ovsdb_idl;

/* Inputs for one attach_run(). */
struct attach_ctx {
    struct ovsdb_idl *ovs_idl;
    struct ovsdb_idl *nb_idl;
    struct ovsdb_idl *sb_idl;           /* May be NULL. */
    struct ovsdb_idl_index *sb_pb_by_lport; /* NULL if 'sb_idl' is. */
    const struct ovs_port_indexes *ovs_ix;
    const struct nb_port_indexes *nb_ix;
    struct migration *migration;        /* Records transitions. */
    struct metrics *metrics;            /* May be NULL. */
    struct kube_sync *kube;             /* NULL: no Kubernetes. */
    const char *chassis;                /* Our chassis name, may be NULL. */
    const char *default_bridge;         /* From ovn-bridge. */
    int default_mtu;                    /* For pods, when conf has none. */
};

struct attach *attach_create(void);
void attach_destroy(struct attach *);

void attach_submit(struct attach *, struct cni_server_conn *,
                   struct cni_request *);
void attach_run(struct attach *, const struct attach_ctx *);
void attach_wait(struct attach *, const struct attach_ctx *);

const struct sbrec_port_binding *attach_find_port_binding(
    const struct attach_ctx *, const char *lport);

void attach_drain(struct attach *);
void attach_abort(struct attach *, const char *why);

void attach_sweep(struct attach *, struct unixctl_conn *);
unsigned int attach_n_jobs(const struct attach *);
void attach_format_jobs(const struct attach *, struct ds *);
void attach_format_ports(const struct attach_ctx *, struct ds *);
void attach_format_stats(const struct attach *, struct ds *);

#endif /* attach.h */
