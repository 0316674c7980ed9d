/*
 * test-port-name.c: which logical port an attachment uses (port-name.c),
 * from a table of what the runtime passes (CNI_ARGS, pod annotations) and
 * what only the Kubernetes API shows (labels), in KubeVirt's shapes.
 */
#include <config.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni-request.h"
#include "port-name.h"
#include "smap.h"
#include "test.h"
#include "util.h"

struct name_case {
    const char *name;
    const char *ifname;
    const char *args[4];        /* "K=V" pairs, NULL-terminated. */
    const char *annotations[6];
    const char *labels[4];
    const char *want;
};

#define OPT_IN "kubevirt.io/allow-pod-bridge-network-live-migration="
#define NS_POD "K8S_POD_NAMESPACE=default", "K8S_POD_NAME=virt-launcher-x"

static const struct name_case cases[] = {
    { "plain pod", "eth0", { NS_POD }, { NULL }, { NULL },
      "default_virt-launcher-x" },
    { "no pod name: container id", "eth0", { NULL }, { NULL }, { NULL },
      "cid-1" },
    /* What containerd passes for a virt-launcher pod: annotations only. */
    { "containerd: kubevirt.io/domain, empty opt-in", "eth0", { NS_POD },
      { OPT_IN, "kubevirt.io/domain=vm1",
        "kubernetes.io/config.source=api", NULL },
      { NULL }, "default_vm1" },
    { "through the API: annotation and label agree", "eth0", { NS_POD },
      { OPT_IN, "kubevirt.io/domain=vm1", NULL },
      { "vm.kubevirt.io/name=vm1", "kubevirt.io=virt-launcher", NULL },
      "default_vm1" },
    { "the annotation (VMI name) wins over the label (hostname)", "eth0",
      { NS_POD }, { OPT_IN, "kubevirt.io/domain=vm1", NULL },
      { "vm.kubevirt.io/name=host1", NULL }, "default_vm1" },
    { "label only", "eth0", { NS_POD }, { OPT_IN, NULL },
      { "vm.kubevirt.io/name=vm1", NULL }, "default_vm1" },
    { "vm.kubevirt.io/name as an annotation is no runtime's shape", "eth0",
      { NS_POD }, { OPT_IN, "vm.kubevirt.io/name=vm1", NULL }, { NULL },
      "default_virt-launcher-x" },
    { "empty kubevirt.io/domain falls back to the label", "eth0",
      { NS_POD }, { OPT_IN, "kubevirt.io/domain=", NULL },
      { "vm.kubevirt.io/name=vm1", NULL }, "default_vm1" },
    { "not opted in: named after the pod", "eth0", { NS_POD },
      { "kubevirt.io/domain=vm1", NULL },
      { "vm.kubevirt.io/name=vm1", NULL }, "default_virt-launcher-x" },
    { "ovn-lm.io/live-migration opts in", "eth0", { NS_POD },
      { "ovn-lm.io/live-migration=true", "kubevirt.io/domain=vm1", NULL },
      { NULL }, "default_vm1" },
    { "ovn-lm.io/port overrides", "eth0", { NS_POD },
      { OPT_IN, "kubevirt.io/domain=vm1", "ovn-lm.io/port=mine", NULL },
      { NULL }, "mine" },
    { "second interface", "net1", { NS_POD },
      { OPT_IN, "kubevirt.io/domain=vm1", NULL }, { NULL },
      "default_vm1_net1" },
};

static void
fill(struct smap *m, const char *const kvs[])
{
    for (size_t i = 0; kvs[i]; i++) {
        const char *eq = strchr(kvs[i], '=');
        char *k = xmemdup0(kvs[i], eq - kvs[i]);
        smap_replace(m, k, eq + 1);
        free(k);
    }
}

int
main(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const struct name_case *c = &cases[i];
        struct cni_request req;

        test_case(c->name);
        cni_request_init(&req);
        req.container_id = xstrdup("cid-1");
        req.ifname = xstrdup(c->ifname);
        fill(&req.args, c->args);
        fill(&req.annotations, c->annotations);
        fill(&req.labels, c->labels);
        char *got = port_name_for_request(&req);
        TEST_EQ_STR(got, c->want);
        free(got);
        cni_request_destroy(&req);
    }
    return test_summary();
}
