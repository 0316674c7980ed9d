/*
 * Logical port naming (see port-name.h).
 */
#include <config.h>
#include "port-name.h"

#include "cni-request.h"
#include "migration.h"
#include "smap.h"
#include "util.h"

/* Returns the malloc'd logical port name for 'req':
 *   - the pod annotation "ovn-lm.io/port" if present and non-empty;
 *   - for a pod that opted in to live migration, "<namespace>_<VM>" so that
 *     the source and target pods of a migration share one port.  The VM is
 *     KubeVirt's annotation "kubevirt.io/domain" (the VMI's name; the
 *     runtime passes annotations, so a daemon without Kubernetes access
 *     names the port the same), else the label "vm.kubevirt.io/name" (only
 *     known through the API);
 *   - else "<namespace>_<pod>" from CNI_ARGS K8S_POD_NAMESPACE and
 *     K8S_POD_NAME;
 *   - else the container id.
 * A second interface of the same pod (Multus) gets "_<ifname>" appended
 * unless it is eth0, so that the two never share a port. */
char *
port_name_for_request(const struct cni_request *req)
{
    const char *explicit = smap_get(&req->annotations, PORT_NAME_ANNOTATION);
    if (explicit && explicit[0]) {
        return xstrdup(explicit);
    }

    const char *ns = smap_get(&req->args, "K8S_POD_NAMESPACE");
    const char *pod = smap_get(&req->args, "K8S_POD_NAME");
    if (migration_opted_in(req)) {
        const char *vm = smap_get(&req->annotations, PORT_NAME_DOMAIN);
        if (!vm || !vm[0]) {
            vm = smap_get(&req->labels, PORT_NAME_VM);
        }
        if (vm && vm[0]) {
            pod = vm;
        }
    }
    char *base = (ns && ns[0] && pod && pod[0]
                  ? xasprintf("%s_%s", ns, pod)
                  : xstrdup(req->container_id));
    if (strcmp(req->ifname, "eth0")) {
        char *name = xasprintf("%s_%s", base, req->ifname);
        free(base);
        return name;
    }
    return base;
}
