/*
 * fuzz-cni-conf.c: the network configuration parser (stdin of the CNI
 * binary), through every stage and for every command.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "cni-conf.h"
#include "cni-error.h"
#include "cni-json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const enum cni_env_cmd cmds[] = {
    CNI_ENV_CMD_ADD, CNI_ENV_CMD_DEL, CNI_ENV_CMD_CHECK, CNI_ENV_CMD_GC,
    CNI_ENV_CMD_STATUS,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *) data;
    char *s;

    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        struct cni_conf *conf = NULL;
        struct cni_error *error;

        error = cni_conf_parse(buf, size, &conf);
        if (!error) {
            error = cni_conf_check_version(conf, cmds[i]);
        }
        if (!error) {
            error = cni_conf_load(conf, cmds[i]);
        }
        if (!error) {
            /* What would go to the daemon. */
            s = cni_json_xprint(conf->json);
            free(s);
            s = cni_json_xprint(conf->runtime);
            free(s);
        } else {
            s = cni_error_to_json(error, "1.1.0");
            free(s);
        }
        cni_error_destroy(error);
        cni_conf_destroy(conf);
    }
    s = cni_conf_version_info(buf, size);
    free(s);
    cni_conf_error_version(buf, size);
    return 0;
}
