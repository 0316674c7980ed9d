/*
 * Fuzz target: the daemon's parser of requests arriving on the CNI socket
 * (ovn-controller-ext/cni-request.c).  The socket is root-only, but it is
 * still input from another program: nothing in it may crash the daemon.
 *
 * Beyond not crashing, the parser's contract is checked on every input:
 *   - an error is a non-empty message, and the request is left empty
 *     (nothing of a half-parsed request, so nothing can leak or be used);
 *   - an accepted request spoke protocol version 1 exactly, and its fields
 *     agree with the JSON they came from (command, ids, netns, ifname,
 *     the limits the daemon relies on: MTU, readyTimeout, GC's list);
 *   - parsing is deterministic, and cni_request_move() empties its source.
 * A violation aborts, which the replay (and libFuzzer) report.
 */
#include <config.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cni-request.h"
#include "smap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(COND)                                                     \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: invariant violated: %s\n",          \
                    __FILE__, __LINE__, #COND);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

/* Whether 'req' is as cni_request_init() leaves it. */
static bool
is_empty(const struct cni_request *req)
{
    return (!req->container_id && !req->netns && !req->ifname
            && smap_is_empty(&req->args) && smap_is_empty(&req->annotations)
            && smap_is_empty(&req->labels) && !req->ips && !req->n_ips
            && !req->has_mac && !req->prev_result && !req->valid
            && !req->n_valid && !req->conf.cni_version && !req->conf.network
            && !req->conf.logical_switch && !req->conf.bridge
            && !req->conf.state_dir && !req->conf.mtu);
}

/* 'field' of 'root' as a string, or "" (as the parser defaults it). */
static const char *
json_str(const cJSON *root, const char *field)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, field);
    return cJSON_IsString(item) ? item->valuestring : "";
}

static void
check_accepted(const struct cni_request *req, const uint8_t *data,
               size_t size)
{
    cJSON *root = cJSON_ParseWithLength((const char *) data, size);
    CHECK(root);

    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root,
                                                            "version");
    CHECK(cJSON_IsNumber(version) && version->valuedouble == 1.0);
    CHECK(!strcmp(cni_command_to_string(req->command),
                  json_str(root, "command")));
    CHECK(req->container_id && req->ifname && req->netns);
    CHECK(!strcmp(req->container_id, json_str(root, "containerId")));
    CHECK(!strcmp(req->ifname, json_str(root, "ifname")));
    /* A DEL forgets a netns path it would not open; others keep it. */
    CHECK(!strcmp(req->netns, json_str(root, "netns"))
          || (req->command == CNI_CMD_DEL && !req->netns[0]));
    if (req->command == CNI_CMD_ADD || req->command == CNI_CMD_DEL
        || req->command == CNI_CMD_CHECK) {
        CHECK(req->container_id[0] && req->ifname[0]);
        CHECK(strlen(req->ifname) < 16);
    }
    if (req->command == CNI_CMD_ADD || req->command == CNI_CMD_CHECK) {
        CHECK(req->netns[0]);
    }
    CHECK(req->conf.network || req->command == CNI_CMD_STATUS);
    CHECK(!req->conf.mtu || (req->conf.mtu >= 68 && req->conf.mtu <= 65535));
    CHECK(req->conf.ready_timeout > 0 && req->conf.ready_timeout <= 3600);
    /* An empty list may still be allocated. */
    CHECK(!req->n_ips || req->ips);
    for (size_t i = 0; i < req->n_ips; i++) {
        CHECK(req->ips[i]);
    }
    CHECK(!req->n_valid || req->valid);
    for (size_t i = 0; i < req->n_valid; i++) {
        CHECK(req->valid[i].container_id && req->valid[i].ifname);
    }
    cJSON_Delete(root);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cni_request req, again;
    char *error = cni_request_parse((const char *) data, size, &req);
    char *error2 = cni_request_parse((const char *) data, size, &again);

    CHECK(!error == !error2);
    if (error) {
        CHECK(error[0]);
        CHECK(is_empty(&req));
        CHECK(!strcmp(error, error2));
    } else {
        check_accepted(&req, data, size);
        CHECK(again.command == req.command);
        CHECK(!strcmp(again.container_id, req.container_id));
        CHECK(smap_count(&again.args) == smap_count(&req.args));
        CHECK(smap_count(&again.annotations)
              == smap_count(&req.annotations));
        CHECK(again.n_ips == req.n_ips && again.n_valid == req.n_valid);

        struct cni_request moved;
        cni_request_move(&moved, &req);
        CHECK(is_empty(&req));
        CHECK(moved.container_id && !strcmp(moved.container_id,
                                            again.container_id));
        cni_request_destroy(&moved);
    }
    free(error);
    free(error2);
    cni_request_destroy(&req);
    cni_request_destroy(&again);
    return 0;
}
