/*
 * port-name: which OVN logical switch port an attachment uses.  Kept in one
 * place because live migration names ports after the workload, not the pod.
 */
#ifndef PORT_NAME_H
#define PORT_NAME_H 1

struct cni_request;

/* Pod annotation that overrides the logical port name. */
#define PORT_NAME_ANNOTATION "ovn-lm.io/port"

/* KubeVirt's names for the VM a virt-launcher pod runs: the annotation
 * (which the runtime passes) and the label (which only the API shows). */
#define PORT_NAME_DOMAIN "kubevirt.io/domain"
#define PORT_NAME_VM "vm.kubevirt.io/name"

char *port_name_for_request(const struct cni_request *);

#endif /* port-name.h */
