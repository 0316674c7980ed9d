/*
 * Fuzz target: the daemon's parser of requests arriving on the CNI socket
 * (ovn-controller-ext/cni-request.c).  The socket is root-only, but it is
 * still input from another program: nothing in it may crash the daemon.
 */
#include <config.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "cni-request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cni_request req;
    char *error = cni_request_parse((const char *) data, size, &req);

    free(error);
    cni_request_destroy(&req);
    return 0;
}
