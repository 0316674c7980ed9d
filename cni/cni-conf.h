/*
 * cni-conf.h: the network configuration on stdin, and CNI versions.
 *
 * Checking happens in the Go skeleton's order, one stage per function:
 * cni_conf_parse() (JSON and network name), cni_conf_check_version() (the
 * command's version rules), cni_conf_load() (standard and plugin keys,
 * runtimeConfig, GC attachments).
 */
#ifndef CNI_CONF_H
#define CNI_CONF_H 1

#include <cjson/cJSON.h>
#include <stddef.h>

#include "cni-env.h"

struct cni_error;

/* The CNI versions ovn-lm speaks, oldest first; the last one is the
 * version it implements. */
extern const char *const cni_conf_versions[];
extern const size_t cni_conf_n_versions;
#define CNI_CONF_CURRENT_VERSION "1.1.0"

struct cni_conf {
    cJSON *json;                /* The configuration as received. */
    const char *name;           /* Network name (usable as file name). */

    /* Set by cni_conf_check_version(). */
    const char *version;        /* cniVersion, "0.1.0" if unset. */

    /* Set by cni_conf_load(). */
    const char *socket;         /* Daemon socket. */
    const char *state_dir;      /* Base directory of attachment records. */
    double ready_timeout;       /* Seconds the daemon may wait for OVN. */
    cJSON *runtime;             /* runtimeConfig capabilities, normalised. */
    cJSON *valid_attachments;   /* GC only: still valid attachments. */
};

struct cni_error *cni_conf_parse(const char *buf, size_t len,
                                 struct cni_conf **confp);
struct cni_error *cni_conf_check_version(struct cni_conf *,
                                         enum cni_env_cmd);
struct cni_error *cni_conf_load(struct cni_conf *, enum cni_env_cmd);
void cni_conf_destroy(struct cni_conf *);

const char *cni_conf_error_version(const char *buf, size_t len);
char *cni_conf_version_info(const char *buf, size_t len);

#endif /* cni-conf.h */
