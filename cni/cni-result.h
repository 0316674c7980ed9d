/*
 * cni-result.h: checking the daemon's ADD result and converting it from
 * the 1.1.0 layout to the cniVersion of the network configuration.
 */
#ifndef CNI_RESULT_H
#define CNI_RESULT_H 1

#include <cjson/cJSON.h>

struct cni_error;

struct cni_error *cni_result_convert(const cJSON *result,
                                     const char *version, cJSON **outp);

#endif /* cni-result.h */
