/*
 * cni-env.h: the CNI environment variables and CNI_ARGS.
 *
 * Required variables per command, and the checks on CNI_CONTAINERID and
 * CNI_IFNAME, are those of the CNI project's Go plugin skeleton, so that
 * ovn-lm accepts and refuses exactly what a Go plugin would.
 */
#ifndef CNI_ENV_H
#define CNI_ENV_H 1

#include <cjson/cJSON.h>
#include <stdbool.h>

struct cni_error;

enum cni_env_cmd {
    CNI_ENV_CMD_UNKNOWN,        /* Anything else, including unset. */
    CNI_ENV_CMD_ADD,
    CNI_ENV_CMD_DEL,
    CNI_ENV_CMD_CHECK,
    CNI_ENV_CMD_GC,
    CNI_ENV_CMD_STATUS,
    CNI_ENV_CMD_VERSION,
};

/* The variables as read; each is "" when unset. */
struct cni_env {
    enum cni_env_cmd cmd;
    char *command;              /* CNI_COMMAND */
    char *container_id;         /* CNI_CONTAINERID */
    char *netns;                /* CNI_NETNS */
    char *ifname;               /* CNI_IFNAME */
    char *args;                 /* CNI_ARGS */
    char *path;                 /* CNI_PATH */
    char *netns_override;       /* CNI_NETNS_OVERRIDE */
};

/* Returns the value of variable 'name', or NULL if it is unset. */
typedef const char *cni_env_getenv_func(const char *name, void *aux);

struct cni_error *cni_env_parse(cni_env_getenv_func *, void *aux,
                                struct cni_env *);
void cni_env_destroy(struct cni_env *);
const char *cni_env_cmd_name(enum cni_env_cmd);

bool cni_env_is_valid_name(const char *);
struct cni_error *cni_env_check_container_id(const char *);
struct cni_error *cni_env_check_ifname(const char *);
struct cni_error *cni_env_parse_args(const char *args, cJSON **argsp);

#endif /* cni-env.h */
