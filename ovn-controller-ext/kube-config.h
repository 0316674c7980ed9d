/*
 * kube-config: where the Kubernetes API is and how to authenticate to it.
 *
 * Two sources, as client-go has them:
 *   - in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT and the
 *     service account's token and CA bundle, mounted by the kubelet;
 *   - a kubeconfig file (development): its current context's cluster and
 *     user, with server, certificate-authority(-data), client-certificate
 *     (-data), client-key(-data), token, tokenFile and
 *     insecure-skip-tls-verify.  YAML is read with libyaml.
 *
 * A token that comes from a file is re-read whenever it is used (the
 * kubelet rotates projected service account tokens).
 */
#ifndef KUBE_CONFIG_H
#define KUBE_CONFIG_H 1

#include <stdbool.h>
#include <stddef.h>
#include "compiler.h"

struct cJSON;

#define KUBE_CONFIG_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_config {
    char *server;               /* "https://host:port", no trailing '/'. */
    char *source;               /* For logs: "in-cluster", a file name. */

    /* Server verification. */
    char *ca_file;              /* PEM file, or NULL. */
    char *ca_data;              /* PEM, or NULL. */
    size_t ca_data_len;
    bool insecure;

    /* Client authentication: a token or a certificate, or nothing. */
    char *token;                /* Fixed token, or NULL. */
    char *token_file;           /* Re-read on use, or NULL. */
    char *cert_file, *key_file; /* PEM files, or NULL. */
    char *cert_data, *key_data; /* PEM, or NULL. */
    size_t cert_data_len, key_data_len;
};

char *kube_config_in_cluster(const char *sa_dir, struct kube_config *)
    OVS_WARN_UNUSED_RESULT;
char *kube_config_from_file(const char *file_name, struct kube_config *)
    OVS_WARN_UNUSED_RESULT;
char *kube_config_from_string(const char *yaml, size_t len,
                              const char *base_dir, struct kube_config *)
    OVS_WARN_UNUSED_RESULT;
void kube_config_destroy(struct kube_config *);

char *kube_config_get_token(const struct kube_config *, char **errorp);

/* YAML (a single document, no anchors) to cJSON, scalars as strings. */
struct cJSON *kube_yaml_to_json(const char *yaml, size_t len, char **errorp);

#endif /* kube-config.h */
