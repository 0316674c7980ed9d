/*
 * fuzz-cni-reply.c: the parser of the daemon's reply, and the conversion
 * of an ADD result to every CNI version.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>

#include "cni-client.h"
#include "cni-conf.h"
#include "cni-error.h"
#include "cni-json.h"
#include "cni-result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cni_error *error = NULL;
    cJSON *result = NULL;
    char *s;

    cni_client_parse_reply((const char *) data, size, &result, &error);
    if (error) {
        s = cni_error_to_json(error, "1.0.0");
        free(s);
    }
    for (size_t i = 0; result && i < cni_conf_n_versions; i++) {
        struct cni_error *conv_error;
        cJSON *out = NULL;

        conv_error = cni_result_convert(result, cni_conf_versions[i], &out);
        if (out) {
            s = cni_json_xprint(out);
            free(s);
        }
        cni_error_destroy(conv_error);
        cJSON_Delete(out);
    }
    cni_error_destroy(error);
    cJSON_Delete(result);
    return 0;
}
