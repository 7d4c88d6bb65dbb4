/* SIGABRT has two meanings in a worker. Sent by another process (the master, after a worker
 * stopped reporting, or an operator), it asks the worker to abort: Go's handler takes it, and the
 * worker runs worker_abort and exits. Raised inside the process (abort() in an extension), it is
 * a crash: faulthandler, which the bootstrap code enables, prints the Python stack first. */
#define _GNU_SOURCE
#include "pyembed.h"
#include <signal.h>
#include <unistd.h>

static struct sigaction runtime_action, crash_action;

/* route_abort puts back the handler for this kind of SIGABRT and raises it again: it is
 * delivered to that handler as soon as this one returns. */
static void route_abort(int sig, siginfo_t *info, void *ctx) {
    (void)ctx;
    int sent = (info->si_code == SI_USER || info->si_code == SI_QUEUE) && info->si_pid != getpid();
    sigaction(sig, sent ? &runtime_action : &crash_action, NULL);
    raise(sig);
}

/* gw_abort_save_runtime notes Go's SIGABRT handler; call it before faulthandler is enabled. */
void gw_abort_save_runtime(void) { sigaction(SIGABRT, NULL, &runtime_action); }

/* gw_abort_route installs route_abort over faulthandler's SIGABRT handler. */
void gw_abort_route(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = route_abort;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, &crash_action);
}
