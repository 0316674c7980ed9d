/*
 * cni-error.h: a CNI error (spec section "Error") on its way to stdout.
 *
 * Parsers and checks in the CNI binary return NULL on success or a
 * 'struct cni_error' that the caller prints (cni_error_to_json()) or frees.
 * The codes are the spec's (enum ovn_lm_cni_code in ovn-lm-proto.h) or
 * whatever code the daemon chose.
 */
#ifndef CNI_ERROR_H
#define CNI_ERROR_H 1

#include "cni-util.h"

struct cni_error {
    int code;           /* CNI error code, 1 and up. */
    char *msg;          /* Short message naming the offending input. */
    char *details;      /* Longer explanation, or NULL. */
};

struct cni_error *cni_error_create(int code, const char *details,
                                   const char *format, ...)
    CNI_PRINTF_FORMAT(3, 4);
void cni_error_destroy(struct cni_error *);
char *cni_error_to_json(const struct cni_error *, const char *cni_version);

#endif /* cni-error.h */
