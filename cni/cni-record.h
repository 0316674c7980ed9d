/*
 * cni-record.h: attachment records.
 *
 * The CNI binary remembers each attachment it asked the daemon to create,
 * as a file <stateDir>/<network>/<containerId>:<ifname>, so that a DEL
 * arriving while the daemon is down can tell "never created" (success)
 * from "created, cannot undo now" (try again later).  Validation
 * guarantees that none of the three names contains '/' or ':' or is "."
 * or "..".
 */
#ifndef CNI_RECORD_H
#define CNI_RECORD_H 1

#include <cjson/cJSON.h>
#include <stdbool.h>

char *cni_record_path(const char *state_dir, const char *network,
                      const char *container_id, const char *ifname);
int cni_record_write(const char *state_dir, const char *network,
                     const char *container_id, const char *ifname,
                     const char *netns);
int cni_record_remove(const char *state_dir, const char *network,
                      const char *container_id, const char *ifname);
int cni_record_exists(const char *state_dir, const char *network,
                      const char *container_id, const char *ifname,
                      bool *existsp);
int cni_record_gc(const char *state_dir, const char *network,
                  const cJSON *valid, char **failed_pathp);

#endif /* cni-record.h */
