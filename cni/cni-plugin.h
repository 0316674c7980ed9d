/*
 * cni-plugin.h: one run of the ovn-lm CNI plugin, from the environment and
 * stdin to stdout and the exit status, with the process around it
 * abstracted so that tests can drive it.
 */
#ifndef CNI_PLUGIN_H
#define CNI_PLUGIN_H 1

#include <stddef.h>
#include <stdio.h>

#include "cni-env.h"

struct cni_plugin_io {
    cni_env_getenv_func *getenv;    /* Reads the CNI_* variables. */
    void *getenv_aux;
    const char *input;              /* All of stdin. */
    size_t input_len;
    int input_error;                /* errno from reading stdin, or 0. */
    FILE *out;                      /* Result or CNI error. */
    FILE *err;                      /* Warnings, the "about" text. */
};

int cni_plugin_run(const struct cni_plugin_io *);

#endif /* cni-plugin.h */
