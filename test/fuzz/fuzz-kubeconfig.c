/*
 * Fuzz target: the daemon's kubeconfig parser, YAML included
 * (ovn-controller-ext/kube-config.c).  A kubeconfig is written by an
 * administrator, but a typo in one must give an error, not a crash.
 */
#include <config.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube-config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_config cfg;
    char *error = kube_config_from_string((const char *) data, size,
                                          "/nonexistent", &cfg);

    free(error);
    kube_config_destroy(&cfg);
    return 0;
}
