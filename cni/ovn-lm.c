/*
 * ovn-lm: the CNI plugin of ovn-lm.
 *
 * A thin client: it checks the CNI environment and network configuration,
 * hands the request to ovn-controller-ext over a unix socket and prints
 * the answer.  See ovn-lm(8).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cni-plugin.h"
#include "cni-util.h"
#include "ovn-lm-proto.h"

static const char *
process_getenv(const char *name, void *aux)
{
    (void) aux;
    return getenv(name);
}

/* Reads all of stdin, at most OVN_LM_MAX_MSG bytes of it: a larger
 * configuration could not be forwarded anyway.  Returns 0 or an errno
 * value (EFBIG when there is more). */
static int
read_stdin(char **bufp, size_t *lenp)
{
    size_t cap = OVN_LM_MAX_MSG + 1;
    char *buf = cni_xmalloc(cap);
    size_t len = 0;

    *bufp = buf;
    *lenp = 0;
    while (len < cap) {
        ssize_t n = read(STDIN_FILENO, buf + len, cap - len);

        if (n > 0) {
            len += n;
        } else if (!n) {
            *lenp = len;
            return 0;
        } else if (errno != EINTR) {
            return errno;
        }
    }
    return EFBIG;
}

/* Reads stdin, runs the plugin once, exits with its status. */
int
main(void)
{
    struct cni_plugin_io io = {
        .getenv = process_getenv,
        .out = stdout,
        .err = stderr,
    };
    char *input;
    int status;

    io.input_error = read_stdin(&input, &io.input_len);
    io.input = input;
    status = cni_plugin_run(&io);
    if (fflush(stdout) || ferror(stdout)) {
        status = 1;
    }
    free(input);
    return status;
}
