/* A process whose C code crashes (an extension, ctypes, the interpreter) must die of the
 * signal, as a Python process does, after faulthandler has printed the Python stack: the master
 * then reports it as gunicorn does ("was sent SIGSEGV!"). Go's runtime wants the same signals
 * for itself: a nil dereference in Go code is a SIGSEGV that Go turns into a recoverable panic,
 * and SIGABRT sent by the master or an operator asks a worker to run worker_abort and exit. Left
 * alone, Go's handler ends every crash in C with exit code 2; and faulthandler, enabled over Go's
 * handler, would take Go's panics for crashes, then hand them back re-raised, which Go can no
 * longer recover from.
 *
 * So route_signal sits over both and decides whose each signal is. A fault the kernel reports
 * at a program counter inside Go's code, and a SIGABRT that another process sends, go to Go's
 * handler, called as if it were installed. Everything else is a crash: faulthandler prints the
 * stack and the process dies of the signal.
 *
 * The program counter is the test rather than Go's own forwarding of faults in C code to the
 * handler installed before Go started, because Go forwards only SIGSEGV, SIGBUS and SIGFPE and
 * ends on SIGILL in C code itself; the test here treats the five signals alike. Go's code is
 * where Go's runtime says its code is, between runtime.text and runtime.etext (crash.go). */
#define _GNU_SOURCE 1
#include "pyembed.h"
#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* What each crash signal had before the routing: Go's runtime handler (the default action in
 * the fork server, where Go does not run), and faulthandler's. */
static struct sigaction go_action[NSIG], faulthandler_action[NSIG];

/* Go's code, [go_text_start, go_text_end); empty in the fork server. */
static uintptr_t go_text_start, go_text_end;

void gw_crash_note_go_text(uintptr_t start, uintptr_t end) {
    go_text_start = start;
    go_text_end = end;
}

static uintptr_t program_counter(const ucontext_t *uc) {
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
#error "crash.c: read the program counter from this architecture's ucontext_t"
#endif
}

static int belongs_to_go(int sig, const siginfo_t *info, const void *ctx) {
    if (info->si_code == SI_USER || info->si_code == SI_QUEUE)
        return sig == SIGABRT && info->si_pid != getpid();
    if (info->si_code <= 0) /* raised by this process: abort(), raise() */
        return 0;
    uintptr_t pc = program_counter(ctx);
    return pc >= go_text_start && pc < go_text_end;
}

/* die_of ends the process by sig with its default action: as the signal is blocked while
 * route_signal runs, it may already be pending, raised by faulthandler. */
static void die_of(int sig) {
    struct sigaction default_action = {.sa_handler = SIG_DFL};
    sigemptyset(&default_action.sa_mask);
    sigaction(sig, &default_action, NULL);
    raise(sig);
    sigset_t only;
    sigemptyset(&only);
    sigaddset(&only, sig);
    pthread_sigmask(SIG_UNBLOCK, &only, NULL);
}

static void pass_to(const struct sigaction *action, int sig, siginfo_t *info, void *ctx) {
    if (action->sa_flags & SA_SIGINFO)
        action->sa_sigaction(sig, info, ctx);
    else if (action->sa_handler == SIG_DFL)
        die_of(sig);
    else if (action->sa_handler != SIG_IGN)
        action->sa_handler(sig);
}

/* route_signal runs with every signal blocked, as Go's handler does. faulthandler's handler
 * puts back the action it replaced, Go's, and raises the signal again to reach it: the blocked
 * signal stays pending until die_of has made the default action its handler. */
static void route_signal(int sig, siginfo_t *info, void *ctx) {
    if (belongs_to_go(sig, info, ctx)) {
        pass_to(&go_action[sig], sig, info, ctx);
        return;
    }
    pass_to(&faulthandler_action[sig], sig, info, ctx);
    die_of(sig);
}

/* gw_crash_save_go notes the handlers Go's runtime installed; call it before faulthandler is
 * enabled. */
void gw_crash_save_go(void) {
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        sigaction(crash_signals[i], NULL, &go_action[crash_signals[i]]);
}

/* gw_crash_route installs route_signal over faulthandler's handlers. */
void gw_crash_route(void) {
    struct sigaction router = {.sa_sigaction = route_signal,
                               .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART};
    sigfillset(&router.sa_mask);
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        sigaction(crash_signals[i], &router, &faulthandler_action[crash_signals[i]]);
}
