/* The fork server of --preload (the zygote). Go cannot fork a process whose runtime runs, so
 * the fork server is this constructor, which runs before Go's runtime starts, in a gowsgi
 * process started for this alone (ZYGOTE_ORDERS_ENV in its environment). It starts Python and
 * imports the app once, as a worker would, then forks one worker for each request of the
 * master. A forked worker returns from the constructor, and Go's runtime starts in it with the
 * app loaded: main runs the worker as usual, and takes the app instead of importing it (see
 * zygote.go). When the app cannot be loaded, the constructor returns too, and Go logs why and
 * exits as a worker that cannot load the app does; under --reload, the fork server forks workers
 * all the same, which serve the error until a file changes, as workers under --reload do.
 *
 * Workers are forked with CLONE_PARENT: they are the master's children, not the fork server's,
 * so the master waits for them and signals them as it does the workers it starts itself, and
 * they die with it (PR_SET_PDEATHSIG) as those do. */
#define _GNU_SOURCE 1
#include "pyembed.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* zygote.go's ZygoteOrdersEnv: the descriptor of the orders the fork server follows. */
#define ZYGOTE_ORDERS_ENV "GOWSGI_ZYGOTE_ORDERS"

/* The signals the master handles. Sent to the process group (a Ctrl-C), they are not the fork
 * server's business: the master ends it when it stops. They are caught by a handler that does
 * nothing rather than ignored, so that Python sees a handler that is not its own, as it sees
 * Go's in a worker, and processes the app starts while it is imported do not inherit them
 * ignored. Workers get the default actions back, which Go's runtime then replaces. */
static const int master_signals[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN,
                                     SIGTTOU, SIGUSR1, SIGUSR2, SIGWINCH};

static void ignore_signal(int sig) { (void)sig; }

static void set_master_signals(void (*handler)(int)) {
    struct sigaction sa = {.sa_handler = handler, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof master_signals / sizeof master_signals[0]; i++)
        sigaction(master_signals[i], &sa, NULL);
}

/* What Go reads once its runtime runs (gw_zygote_*). */
static int state = GW_ZYGOTE_NONE;
static PyObject *app;
static char *notes;                 /* _prepare's lines for the error log */
static int hooks_loaded;            /* the hooks module was imported (gw_hooks_load) */
static const char *failed_step;     /* see zygote.go's failure */
static char *failed_kind, *failed_detail;
static char *worker_env;            /* the master's "KEY=VALUE\0…" for this worker */
static size_t worker_env_len;

/* orders is the text the fork server is started with: "key=value\0" entries (zygote.go). */
typedef struct {
    char *text;
    size_t len;
} orders;

static int read_orders(int fd, orders *o) {
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -1;
    o->len = (size_t)st.st_size;
    o->text = malloc(o->len + 1);
    for (size_t done = 0; done < o->len;) {
        ssize_t n = pread(fd, o->text + done, o->len - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        done += (size_t)n;
    }
    o->text[o->len] = '\0';
    close(fd);
    return 0;
}

/* next_order returns the value of the next entry named key at or after *pos, and moves *pos
 * past it; NULL when there is none. */
static const char *next_order(const orders *o, const char *key, size_t *pos) {
    size_t klen = strlen(key);
    while (*pos < o->len) {
        const char *entry = o->text + *pos;
        *pos += strlen(entry) + 1;
        if (strncmp(entry, key, klen) == 0 && entry[klen] == '=')
            return entry + klen + 1;
    }
    return NULL;
}

static const char *order(const orders *o, const char *key) {
    size_t pos = 0;
    const char *value = next_order(o, key, &pos);
    return value != NULL ? value : "";
}

static void fail(const char *step, char *kind, char *detail) {
    state = GW_ZYGOTE_FAILED;
    failed_step = step;
    failed_kind = kind;
    failed_detail = detail;
}

/* apply_environment gives Python the environment a worker's Python sees: without the
 * variables meant for gowsgi, with -e's. Go's runtime reads the environment from the array the
 * process was started with, so that forked workers resolve their settings as the master did;
 * unsetenv would change that array in place, so the C library gets a copy of its own first. */
static void apply_environment(const orders *o) {
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **copy = malloc((n + 1) * sizeof *copy);
    memcpy(copy, environ, (n + 1) * sizeof *copy);
    environ = copy;
    unsetenv(ZYGOTE_ORDERS_ENV);
    size_t pos = 0;
    for (const char *name; (name = next_order(o, "hide", &pos)) != NULL;)
        unsetenv(name);
    pos = 0;
    for (const char *pair; (pair = next_order(o, "setenv", &pos)) != NULL;) {
        const char *eq = strchr(pair, '=');
        if (eq == NULL)
            continue;
        char *name = strndup(pair, (size_t)(eq - pair));
        setenv(name, eq + 1, 1);
        free(name);
    }
}

/* load does what wsgi.Load does in a worker, up to the import of the app: the hooks module's
 * too, before the app, as a worker imports it; each worker gets its own worker object for
 * the hooks after the fork (gw_hooks_bind). It returns 0, or -1 after fail. */
static int load(const orders *o) {
    char *err = NULL;
    if (gw_initialize(order(o, "executable"), order(o, "bootstrap"), order(o, "paths"), &err) != 0) {
        fail("interpreter", NULL, err);
        return -1;
    }
    const char *gevent = order(o, "gevent");
    if (*gevent != '\0') {
        int missing = 0;
        if ((err = gw_hub_setup(gevent, &missing)) != NULL || missing) {
            fail("gevent", NULL, err);
            return -1;
        }
    }
    if (gw_setup_wsgi(atoi(order(o, "multithread")), atoi(order(o, "multiprocess"))) != 0) {
        fail("wsgi", NULL, NULL);
        return -1;
    }
    if ((notes = gw_bootstrap_call("_prepare", order(o, "settings"), &err)) == NULL) {
        fail("prepare", NULL, err);
        return -1;
    }
    char *kind = NULL, *msg = NULL;
    const char *hooks = order(o, "hooks");
    if (*hooks != '\0') {
        char *names = gw_hooks_load(order(o, "hooks_source"), hooks, order(o, "hooks_info"), &kind, &msg);
        if (names == NULL) {
            fail("hooks", kind, msg);
            return -1;
        }
        free(names);
        hooks_loaded = 1;
    }
    gw_enter();
    app = gw_load_app(order(o, "module"), order(o, "attr"), atoi(order(o, "call")),
                      order(o, "args"), &kind, &msg);
    if (app != NULL) {
        PyObject *r = PyObject_CallNoArgs(gw_bootstrap("_preloaded"));
        if (r == NULL)
            PyErr_Print();
        Py_XDECREF(r);
    }
    gw_leave();
    if (app == NULL) {
        fail("app", kind, msg);
        return -1;
    }
    return 0;
}

static int count_threads(void) {
    DIR *dir = opendir("/proc/self/task");
    if (dir == NULL)
        return 1;
    int n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

static void reply(int control, const char *text, size_t len) {
    while (send(control, text, len, MSG_NOSIGNAL) < 0 && errno == EINTR) {
    }
}

/* become_worker turns the new child into a worker, with the GIL held and the interpreter just
 * told of the fork: the heartbeat pipe takes the place of the control socket, the descriptor
 * number the master gave the worker for it, and the master's signals get their default actions
 * back. The worker must die with the master, as the workers it starts do; if the master died
 * already, the child is no longer its child. */
static void become_worker(int control, int heartbeat, pid_t master, const char *env, size_t len) {
    PyObject *r = PyObject_CallNoArgs(gw_bootstrap("_after_fork"));
    if (r == NULL)
        PyErr_Print();
    Py_XDECREF(r);
    gw_leave();
    if (dup2(heartbeat, control) < 0)
        _exit(3);
    close(heartbeat);
    /* Go's runtime gives the main thread a signal stack of its own, as in any worker, instead
     * of adopting faulthandler's. */
    stack_t no_stack = {.ss_flags = SS_DISABLE};
    sigaltstack(&no_stack, NULL);
    set_master_signals(SIG_DFL);
    worker_env = malloc(len + 1);
    memcpy(worker_env, env, len);
    worker_env[len] = '\0';
    worker_env_len = len;
    state = GW_ZYGOTE_FORKED;
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != master)
        _exit(1);
}

/* fork_worker forks with what glibc's fork does besides the clone: the child's own thread id
 * in glibc's thread descriptor (tid_address, which set_tid_address gave the kernel) and its
 * list of robust mutexes, which the kernel clears. It returns the child's pid in the fork
 * server, 0 in the child, -1 with errno set. */
static pid_t fork_worker(int *tid_address, void *robust_head, size_t robust_len) {
    unsigned long flags = CLONE_PARENT | SIGCHLD;
    if (tid_address != NULL)
        flags |= CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID;
    gw_enter();
    PyOS_BeforeFork();
    long pid = syscall(SYS_clone, flags, NULL, NULL, tid_address, NULL);
    if (pid == 0) {
        if (robust_head != NULL)
            syscall(SYS_set_robust_list, robust_head, robust_len);
        PyOS_AfterFork_Child();
        return 0;
    }
    int saved = errno;
    PyOS_AfterFork_Parent();
    gw_leave();
    errno = saved;
    return (pid_t)pid;
}

/* serve answers the master's fork requests until it closes the socket. A request is the
 * worker's own variables, "KEY=VALUE\0…", with the write end of its heartbeat pipe attached;
 * the answer is "pid=N", or "error=…". It returns only in a new worker. (Before the first
 * request, the fork server says "ready threads=N loaded=0|1": how many threads the app started
 * while it was imported, and whether it was imported.) */
static void serve(int control) {
    int *tid_address = NULL;
    if (prctl(PR_GET_TID_ADDRESS, &tid_address, 0, 0, 0) != 0)
        tid_address = NULL;
    void *robust_head = NULL;
    size_t robust_len = 0;
    syscall(SYS_get_robust_list, 0, &robust_head, &robust_len);
    pid_t master = getppid();
    for (;;) {
        char env[8192];
        union {
            struct cmsghdr header;
            char space[CMSG_SPACE(sizeof(int))];
        } control_buf;
        struct iovec iov = {.iov_base = env, .iov_len = sizeof env};
        struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control_buf.space,
                             .msg_controllen = sizeof control_buf.space};
        ssize_t n = recvmsg(control, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(0);
        int heartbeat = -1;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(&heartbeat, CMSG_DATA(c), sizeof heartbeat);
        char answer[256];
        if (heartbeat < 0 || (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
            if (heartbeat >= 0)
                close(heartbeat);
            int len = snprintf(answer, sizeof answer, "error=malformed fork request");
            reply(control, answer, (size_t)len);
            continue;
        }
        pid_t pid = fork_worker(tid_address, robust_head, robust_len);
        if (pid == 0) {
            become_worker(control, heartbeat, master, env, (size_t)n);
            return;
        }
        int len = pid > 0 ? snprintf(answer, sizeof answer, "pid=%d", (int)pid)
                          : snprintf(answer, sizeof answer, "error=%s", strerror(errno));
        close(heartbeat);
        reply(control, answer, (size_t)len);
    }
}

__attribute__((constructor)) static void zygote(int argc, char **argv, char **envp) {
    (void)envp;
    const char *fd = getenv(ZYGOTE_ORDERS_ENV);
    if (fd == NULL)
        return;
    set_master_signals(ignore_signal);
    if (argc > 0)
        prctl(PR_SET_NAME, argv[0], 0, 0, 0);
    orders o;
    if (read_orders(atoi(fd), &o) != 0) {
        char *err = NULL;
        if (asprintf(&err, "cannot read the fork server's orders: %s", strerror(errno)) < 0)
            err = NULL;
        fail("orders", NULL, err);
        return;
    }
    apply_environment(&o);
    int control = atoi(order(&o, "control"));
    if (load(&o) != 0 && !(failed_step != NULL && strcmp(failed_step, "app") == 0 &&
                           atoi(order(&o, "fork_on_load_error"))))
        return;
    free(o.text);
    /* The app's subprocesses must not hold the master's socket. */
    fcntl(control, F_SETFD, FD_CLOEXEC);
    char ready[64];
    int len = snprintf(ready, sizeof ready, "ready threads=%d loaded=%d", count_threads(), app != NULL);
    reply(control, ready, (size_t)len);
    serve(control);
}

int gw_zygote_state(void) { return state; }

int gw_zygote_hooks(void) { return hooks_loaded; }

PyObject *gw_zygote_app(void) { return app; }

char *gw_zygote_notes(void) { return notes; }

const char *gw_zygote_worker_env(size_t *len) {
    *len = worker_env_len;
    return worker_env;
}

void gw_zygote_failure(const char **step, char **kind, char **detail) {
    *step = failed_step;
    *kind = failed_kind;
    *detail = failed_detail;
}
