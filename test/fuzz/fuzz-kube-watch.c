/*
 * Fuzz target: the daemon's parsers of Kubernetes API responses
 * (ovn-controller-ext/kube-watch.c): one line of a watch stream and a LIST
 * response body.  The API server is trusted, but whatever sits between it
 * and the daemon (or a bug in it) must not be able to crash the daemon.
 */
#include <config.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube-watch.h"
#include "openvswitch/shash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kube_event ev;
    char *error = kube_event_parse((const char *) data, size, &ev);
    free(error);
    kube_event_destroy(&ev);

    struct shash objects = SHASH_INITIALIZER(&objects);
    char *rv, *cont;
    error = kube_list_parse((const char *) data, size, &objects, &rv, &cont);
    /* A second time: every item now replaces one already there. */
    if (!error) {
        free(rv);
        free(cont);
        error = kube_list_parse((const char *) data, size, &objects, &rv,
                                &cont);
    }
    free(error);
    free(rv);
    free(cont);

    kube_objects_clear(&objects);
    shash_destroy(&objects);
    return 0;
}
