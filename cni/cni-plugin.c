/*
 * cni-plugin.c: the commands.
 *
 * The checks run in the order of the Go skeleton (environment, JSON and
 * network name, command, versions), then ovn-lm's own (plugin keys,
 * CNI_ARGS).  Then the request goes to the daemon; what happens when the
 * daemon cannot be reached depends on the command:
 *
 *   ADD     11.  The attachment record written before sending stays if
 *           the request left, since the daemon may have acted on it (the
 *           connection closed mid-request: a daemon that exited or died).
 *           So does it when the daemon itself answers 11: "try again
 *           later" is not final, a draining daemon gives it for an ADD it
 *           could not finish, and leaves what it did for the retry.
 *   DEL     success if there is no attachment record (nothing was ever
 *           created), otherwise 11.
 *   CHECK   11.
 *   GC      11.
 *   STATUS  50, "plugin not available".
 */
#include "cni-plugin.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cni-client.h"
#include "cni-conf.h"
#include "cni-error.h"
#include "cni-json.h"
#include "cni-record.h"
#include "cni-result.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

#ifndef OVN_LM_VERSION
#define OVN_LM_VERSION "unknown"
#endif

/* How much longer than "readyTimeout" we wait for the daemon's answer:
 * the daemon's own work besides waiting for OVN. */
#define REPLY_SLACK 15.0

struct plugin_ctx {
    const struct cni_plugin_io *io;
    const struct cni_env *env;
    const struct cni_conf *conf;
};

static void
print_line(FILE *stream, const char *s)
{
    fputs(s, stream);
    fputc('\n', stream);
}

static void
warn(const struct plugin_ctx *ctx, const char *what, const char *path,
     int error)
{
    fprintf(ctx->io->err, "ovn-lm: warning: %s %s: %s\n", what, path,
            strerror(error));
}

static void
print_about(const struct cni_plugin_io *io)
{
    fprintf(io->err, "CNI plugin ovn-lm v%s\n", OVN_LM_VERSION);
    fputs("CNI protocol versions supported:", io->err);
    for (size_t i = 0; i < cni_conf_n_versions; i++) {
        fprintf(io->err, "%s %s", i ? "," : "", cni_conf_versions[i]);
    }
    fputc('\n', io->err);
}

static char *
build_request(const struct plugin_ctx *ctx, cJSON *args)
{
    const struct cni_env *env = ctx->env;
    const struct cni_conf *conf = ctx->conf;
    cJSON *req = cni_json_xobject();
    char *s;

    cni_json_xadd(req, "version", cni_json_xnumber(OVN_LM_PROTO_VERSION));
    cni_json_xadd(req, "command",
                  cni_json_xstring(cni_env_cmd_name(env->cmd)));
    cni_json_xadd(req, "containerId", cni_json_xstring(env->container_id));
    cni_json_xadd(req, "netns", cni_json_xstring(env->netns));
    cni_json_xadd(req, "ifname", cni_json_xstring(env->ifname));
    cni_json_xadd(req, "args", args);
    cni_json_xadd(req, "runtime", cni_json_xduplicate(conf->runtime));
    cni_json_xadd(req, "config", cni_json_xduplicate(conf->json));
    if (env->cmd == CNI_ENV_CMD_GC) {
        cni_json_xadd(req, "validAttachments",
                      cni_json_xduplicate(conf->valid_attachments));
    }
    s = cni_json_xprint(req);
    cJSON_Delete(req);
    return s;
}

static char *
record_path(const struct plugin_ctx *ctx)
{
    return cni_record_path(ctx->conf->state_dir, ctx->conf->name,
                           ctx->env->container_id, ctx->env->ifname);
}

static void
remove_record(const struct plugin_ctx *ctx)
{
    int error = cni_record_remove(ctx->conf->state_dir, ctx->conf->name,
                                  ctx->env->container_id, ctx->env->ifname);

    if (error) {
        char *path = record_path(ctx);

        warn(ctx, "cannot remove attachment record", path, error);
        free(path);
    }
}

/* The daemon could not be reached or did not answer ('error' says why;
 * 'sent': whether the request left): the error to report, or NULL for a
 * DEL of an attachment that was never created. */
static struct cni_error *
daemon_unreachable(const struct plugin_ctx *ctx, int error, bool sent)
{
    const struct cni_conf *conf = ctx->conf;
    enum cni_env_cmd cmd = ctx->env->cmd;
    const char *why = (error == ENODATA
                       ? "connection closed without a reply"
                       : strerror(error));
    bool cut = sent && (error == ENODATA || error == ECONNRESET
                        || error == EPIPE);
    struct cni_error *cni_error;
    char *details = NULL;

    if (cmd == CNI_ENV_CMD_DEL) {
        bool exists = true;

        cni_record_exists(conf->state_dir, conf->name,
                          ctx->env->container_id, ctx->env->ifname, &exists);
        if (!exists) {
            return NULL;
        }
        char *path = record_path(ctx);
        details = cni_xasprintf("the attachment record %s exists, so the "
                                "attachment may still be in place", path);
        free(path);
    }
    int code = (cmd == CNI_ENV_CMD_STATUS ? OVN_LM_CNI_PLUGIN_NOT_AVAILABLE
                : OVN_LM_CNI_TRY_AGAIN_LATER);
    if (cut) {
        /* The daemon exited (or died) with the request in hand. */
        cni_error = cni_error_create(code,
                                     details ? details
                                     : "it may be restarting, and may have "
                                       "acted on the request; try again "
                                       "later",
                                     "ovn-controller-ext at %s closed the "
                                     "connection before answering: %s",
                                     conf->socket, why);
    } else {
        cni_error = cni_error_create(code,
                                     details ? details
                                     : "ovn-controller-ext is not running "
                                       "or not ready; try again later",
                                     "cannot reach ovn-controller-ext at "
                                     "%s: %s", conf->socket, why);
    }
    free(details);
    return cni_error;
}

/* Handles the daemon's success for the command; prints an ADD result. */
static struct cni_error *
handle_result(const struct plugin_ctx *ctx, const cJSON *result)
{
    const struct cni_conf *conf = ctx->conf;
    struct cni_error *error = NULL;
    char *failed_path = NULL;
    cJSON *out;
    char *s;
    int rc;

    switch (ctx->env->cmd) {
    case CNI_ENV_CMD_ADD:
        error = cni_result_convert(result, conf->version, &out);
        if (!error) {
            s = cni_json_xprint(out);
            print_line(ctx->io->out, s);
            free(s);
            cJSON_Delete(out);
        }
        break;

    case CNI_ENV_CMD_DEL:
        remove_record(ctx);
        break;

    case CNI_ENV_CMD_GC:
        rc = cni_record_gc(conf->state_dir, conf->name,
                           conf->valid_attachments, &failed_path);
        if (rc) {
            error = cni_error_create(OVN_LM_CNI_IO_FAILURE, NULL,
                                     "cannot remove stale attachment "
                                     "record %s: %s", failed_path,
                                     strerror(rc));
            free(failed_path);
        }
        break;

    default:
        break;
    }
    return error;
}

/* Sends the command to the daemon and handles its answer.  Takes 'args'. */
static struct cni_error *
run_command(const struct plugin_ctx *ctx, cJSON *args)
{
    const struct cni_conf *conf = ctx->conf;
    bool is_add = ctx->env->cmd == CNI_ENV_CMD_ADD;
    struct cni_error *error = NULL;
    cJSON *result = NULL;
    char *request, *reply = NULL;
    size_t request_len, reply_len;
    bool sent;
    int rc;

    request = build_request(ctx, args);
    request_len = strlen(request);
    if (request_len > OVN_LM_MAX_MSG) {
        free(request);
        return cni_error_create(OVN_LM_CNI_INVALID_NETCONF, NULL,
                                "the request for the daemon would have %zu "
                                "bytes, more than the %d the protocol "
                                "allows", request_len, OVN_LM_MAX_MSG);
    }

    /* The record goes first: once the request may have left, a DEL must
     * not take the daemon's silence for "nothing to delete".  A record that
     * was there before (an ADD of an existing attachment) belongs to that
     * attachment: a refused ADD must leave it. */
    bool had_record = false;
    if (is_add) {
        cni_record_exists(conf->state_dir, conf->name, ctx->env->container_id,
                          ctx->env->ifname, &had_record);
        rc = cni_record_write(conf->state_dir, conf->name,
                              ctx->env->container_id, ctx->env->ifname,
                              ctx->env->netns);
        if (rc) {
            char *path = record_path(ctx);

            error = cni_error_create(OVN_LM_CNI_IO_FAILURE, NULL,
                                     "cannot write attachment record %s: "
                                     "%s", path, strerror(rc));
            free(path);
            free(request);
            return error;
        }
    }

    rc = cni_client_transact(conf->socket, request, request_len,
                             conf->ready_timeout + REPLY_SLACK, &reply,
                             &reply_len, &sent);
    free(request);
    if (rc) {
        if (is_add && !sent && !had_record) {
            remove_record(ctx);
        }
        if (rc == EMSGSIZE) {
            return cni_error_create(OVN_LM_CNI_IO_FAILURE, NULL,
                                    "invalid reply from the daemon: more "
                                    "than %d bytes", OVN_LM_MAX_MSG);
        }
        return daemon_unreachable(ctx, rc, sent);
    }

    rc = cni_client_parse_reply(reply, reply_len, &result, &error);
    free(reply);
    if (rc) {
        /* A garbled answer does not say whether the daemon acted: an ADD
         * keeps its record. */
        return error;
    }
    if (error) {
        if (is_add && !had_record
            && error->code != OVN_LM_CNI_TRY_AGAIN_LATER) {
            remove_record(ctx);
        }
        return error;
    }
    error = handle_result(ctx, result);
    cJSON_Delete(result);
    return error;
}

static struct cni_error *
run_checked(const struct cni_plugin_io *io, const struct cni_env *env)
{
    struct plugin_ctx ctx = { .io = io, .env = env };
    struct cni_conf *conf = NULL;
    struct cni_error *error;
    cJSON *args = NULL;

    if (io->input_error) {
        return cni_error_create(OVN_LM_CNI_IO_FAILURE, NULL,
                                "cannot read the network configuration "
                                "from stdin: %s",
                                io->input_error == EFBIG
                                ? "larger than the protocol allows"
                                : strerror(io->input_error));
    }
    error = cni_conf_parse(io->input, io->input_len, &conf);
    if (!error && env->cmd == CNI_ENV_CMD_UNKNOWN) {
        error = cni_error_create(OVN_LM_CNI_INVALID_ENV, NULL,
                                 "unknown CNI_COMMAND \"%s\"", env->command);
    }
    if (!error) {
        error = cni_conf_check_version(conf, env->cmd);
    }
    if (!error) {
        error = cni_conf_load(conf, env->cmd);
    }
    if (!error) {
        /* CNI_ARGS belongs to the attachment commands only. */
        if (env->cmd == CNI_ENV_CMD_ADD || env->cmd == CNI_ENV_CMD_CHECK
            || env->cmd == CNI_ENV_CMD_DEL) {
            error = cni_env_parse_args(env->args, &args);
        } else {
            args = cni_json_xobject();
        }
    }
    if (!error) {
        ctx.conf = conf;
        error = run_command(&ctx, args);
    }
    cni_conf_destroy(conf);
    return error;
}

/* Runs the CNI plugin once with the environment, input and output streams
 * of 'io'.  Prints the result, the VERSION answer or a CNI error to
 * 'io->out' and returns the process exit status: 0 on success, 1 after an
 * error. */
int
cni_plugin_run(const struct cni_plugin_io *io)
{
    const char *version = cni_conf_error_version(io->input, io->input_len);
    struct cni_env env = { .cmd = CNI_ENV_CMD_UNKNOWN };
    struct cni_error *error;
    const char *command;
    char *s;

    error = cni_env_parse(io->getenv, io->getenv_aux, &env);
    if (error) {
        /* Run by hand without CNI_COMMAND: say what we are, as Go
         * plugins do. */
        command = io->getenv("CNI_COMMAND", io->getenv_aux);
        if (error->code == OVN_LM_CNI_INVALID_ENV
            && (!command || !command[0])) {
            cni_error_destroy(error);
            print_about(io);
            return 0;
        }
    } else if (env.cmd == CNI_ENV_CMD_VERSION) {
        s = cni_conf_version_info(io->input, io->input_len);
        print_line(io->out, s);
        free(s);
    } else {
        error = run_checked(io, &env);
    }
    cni_env_destroy(&env);

    if (error) {
        s = cni_error_to_json(error, version);
        print_line(io->out, s);
        free(s);
        cni_error_destroy(error);
        return 1;
    }
    return 0;
}
