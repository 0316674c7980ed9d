/*
 * Fuzz target: the daemon's parsers of Kubernetes API responses
 * (ovn-controller-ext/kube-watch.c): one line of a watch stream, a LIST
 * response body, and the input as a watch stream cut into lines (in
 * chunks of sizes taken from the input).  The API server is trusted, but whatever sits between it
 * and the daemon (or a bug in it) must not be able to crash the daemon.
 */
#include <config.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kube-watch.h"
#include "openvswitch/shash.h"
#include "util.h"

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

    /* As a stream: every byte is looked at once. */
    struct kube_lines lines;
    const char *line;
    size_t len, fed = 0, got = 0;
    kube_lines_init(&lines);
    while (fed < size) {
        size_t chunk = MIN(size - fed, (size_t) data[fed] % 17 + 1);
        kube_lines_put(&lines, (const char *) data + fed, chunk);
        fed += chunk;
        while (kube_lines_next(&lines, &line, &len)) {
            got += len + 1;
            struct kube_event e;
            free(kube_event_parse(line, len, &e));
            kube_event_destroy(&e);
        }
    }
    if (lines.n_scanned != size || got + kube_lines_pending(&lines) != size) {
        abort();
    }
    kube_lines_destroy(&lines);
    return 0;
}
