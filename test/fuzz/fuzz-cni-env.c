/*
 * fuzz-cni-env.c: the CNI environment and CNI_ARGS parsers.
 *
 * Input: "NAME=value" lines, read as the environment.  The whole input is
 * also tried as CNI_ARGS, as an interface name and as a container ID.
 */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cni-addr.h"
#include "cni-env.h"
#include "cni-error.h"

#define MAX_VARS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *
lines_getenv(const char *name, void *aux)
{
    char **vars = aux;
    size_t len = strlen(name);

    for (; *vars; vars++) {
        if (!strncmp(*vars, name, len) && (*vars)[len] == '=') {
            return *vars + len + 1;
        }
    }
    return NULL;
}

static void
try_args(const char *args)
{
    struct cni_error *error;
    cJSON *obj = NULL;

    error = cni_env_parse_args(args, &obj);
    cni_error_destroy(error);
    cJSON_Delete(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *whole = malloc(size + 1);
    char *lines = malloc(size + 1);
    char *vars[MAX_VARS + 1];
    char mac[CNI_ADDR_MAC_LEN];
    struct cni_error *error;
    struct cni_env env;
    size_t n = 0;

    memcpy(whole, data, size);
    whole[size] = '\0';
    memcpy(lines, whole, size + 1);
    for (char *p = lines; p && n < MAX_VARS; n++) {
        vars[n] = p;
        p = strchr(p, '\n');
        if (p) {
            *p++ = '\0';
        }
    }
    vars[n] = NULL;

    error = cni_env_parse(lines_getenv, vars, &env);
    if (!error) {
        try_args(env.args);
        cni_env_destroy(&env);
    }
    cni_error_destroy(error);

    try_args(whole);
    cni_error_destroy(cni_env_check_ifname(whole));
    cni_error_destroy(cni_env_check_container_id(whole));
    cni_addr_parse_ip(whole, NULL);
    cni_addr_parse_cidr(whole, NULL);
    cni_addr_parse_mac(whole, mac);

    free(lines);
    free(whole);
    return 0;
}
