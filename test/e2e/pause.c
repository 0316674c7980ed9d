/*
 * pause: the sandbox ("infra") container of test/e2e/containerd-cri.sh.
 * Holds the pod's namespaces, reaps orphans, exits on SIGINT/SIGTERM.
 * Built statically at test time: no registry is reachable, so the test
 * makes its own sandbox image.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void
on_term(int sig)
{
    (void) sig;
    _exit(0);
}

static void
on_chld(int sig)
{
    (void) sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
        continue;
    }
}

int
main(void)
{
    struct sigaction term = { .sa_handler = on_term };
    struct sigaction chld = { .sa_handler = on_chld,
                              .sa_flags = SA_NOCLDSTOP };
    sigaction(SIGINT, &term, NULL);
    sigaction(SIGTERM, &term, NULL);
    sigaction(SIGCHLD, &chld, NULL);
    for (;;) {
        pause();
    }
    return EXIT_SUCCESS;
}
