/*
 * cni-client.h: one request/response exchange with ovn-controller-ext over
 * its unix socket, as ovn-lm-proto.h describes.
 */
#ifndef CNI_CLIENT_H
#define CNI_CLIENT_H 1

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct cni_error;

int cni_client_transact(const char *socket_path, const char *request,
                        size_t request_len, double timeout,
                        char **replyp, size_t *reply_lenp, bool *sentp);
int cni_client_parse_reply(const char *buf, size_t len, cJSON **resultp,
                           struct cni_error **errorp);

#endif /* cni-client.h */
