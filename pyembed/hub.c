/* The gevent worker class: every request runs in a greenlet of its own on gevent's hub, in the
 * thread that imported the app. Go and the hub talk through two queues, each with an eventfd:
 * Go posts a task (an op to run, or client I/O done) and the hub's io watcher wakes to drain
 * them; the hub posts a task back (op done, or client I/O wanted) and a goroutine of Go's wakes
 * to drain those. The hub thread never waits for Go and never calls into Go: a greenlet
 * switch inside a Go callback would unwind Go's stack out of order. */
#include "pyembed.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

int gw_hub_mode;

/* Where a task's greenlet is, as the watchdog needs to know to interrupt it. */
enum { IN_APP, WAIT_OP, WAIT_IO, WAIT_DONE };
/* A request's timeout: none, raised at the next chance, raised. */
enum { TIMEOUT_NONE, TIMEOUT_DUE, TIMEOUT_RAISED };
/* What an entry of the queue to the hub asks. */
enum { ENTRY_OP, ENTRY_THROW, ENTRY_PING, ENTRY_STOP };

typedef struct {
    gw_task *task;
    int kind;
    uint64_t gen;
} entry;

typedef struct {
    pthread_mutex_t mu;
    void *items;
    int len, cap, size;
    int fd;
    int signalled;      /* a write to fd is on its way and the reader has not drained since */
    struct timespec since; /* when the oldest entry was queued */
} queue;

static queue to_hub = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, sizeof(entry), -1, 0, {0, 0}};
static queue to_go = {PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0, sizeof(int), -1, 0, {0, 0}};

static PyObject *serve_fn, *stack_fn;           /* gevent.py's _serve and _greenlet_stack */
static PyObject *hub_switch, *getcurrent, *greenlet_type, *stop_fn;
static PyObject *hub, *request_timeout, *resumed, *switch_name, *throw_name;
static PyObject *task_main_fn;
static unsigned long hub_thread;

static void push(queue *q, const void *item) {
    int wake = 0;
    pthread_mutex_lock(&q->mu);
    if (q->len == q->cap) {
        int cap = q->cap ? q->cap * 2 : 64;
        void *items = realloc(q->items, (size_t)cap * q->size);
        if (items == NULL)
            abort(); /* the other side would wait for this entry for ever */
        q->items = items;
        q->cap = cap;
    }
    if (q->len == 0)
        clock_gettime(CLOCK_MONOTONIC, &q->since);
    memcpy((char *)q->items + (size_t)q->len * q->size, item, q->size);
    q->len++;
    if (!q->signalled)
        q->signalled = wake = 1;
    pthread_mutex_unlock(&q->mu);
    if (wake) {
        uint64_t one = 1;
        while (write(q->fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

/* take moves up to cap entries, the oldest first, to out. The reader empties the eventfd
 * before it takes, so that a write that comes after is seen again. */
static int take(queue *q, void *out, int cap) {
    pthread_mutex_lock(&q->mu);
    int n = q->len < cap ? q->len : cap;
    memcpy(out, q->items, (size_t)n * q->size);
    memmove(q->items, (char *)q->items + (size_t)n * q->size, (size_t)(q->len - n) * q->size);
    q->len -= n;
    if (q->len == 0)
        q->signalled = 0;
    else
        clock_gettime(CLOCK_MONOTONIC, &q->since);
    pthread_mutex_unlock(&q->mu);
    return n;
}

/* gw_hub_setup runs gevent.py and patches the standard library with gevent's monkey patching,
 * before the app is imported. It returns NULL, or what went wrong (malloc'd); missing says
 * that gevent is not installed. */
char *gw_hub_setup(const char *source, int *missing) {
    gw_enter();
    char *err = NULL;
    *missing = 0;
    PyObject *globals = PyDict_New(), *r = NULL;
    if (globals != NULL && PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0)
        r = PyRun_String(source, Py_file_input, globals, globals);
    if (r != NULL) {
        Py_DECREF(r);
        r = PyObject_CallNoArgs(PyDict_GetItemString(globals, "_patch"));
    }
    if (r == NULL) {
        err = gw_format_exception();
    } else {
        *missing = r == Py_False;
        serve_fn = PyDict_GetItemString(globals, "_serve");
        stack_fn = PyDict_GetItemString(globals, "_greenlet_stack");
        Py_XINCREF(serve_fn);
        Py_XINCREF(stack_fn);
        request_timeout = gw_bootstrap("RequestTimeout");
        Py_XINCREF(request_timeout);
        resumed = PyObject_CallNoArgs((PyObject *)&PyBaseObject_Type);
        switch_name = PyUnicode_InternFromString("switch");
        throw_name = PyUnicode_InternFromString("throw");
    }
    Py_XDECREF(r);
    Py_XDECREF(globals);
    gw_leave();
    return err;
}

/* gw_hub_open makes the two eventfds; from then on requests go through the hub. It returns
 * the eventfd Go waits on, or -1. */
int gw_hub_open(void) {
    to_hub.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    to_go.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (to_hub.fd < 0 || to_go.fd < 0)
        return -1;
    gw_hub_mode = 1;
    return to_go.fd;
}

static void post_to_go(gw_task *t, int wake) {
    t->wake = wake;
    push(&to_go, &t->id);
}

/* gw_hub_take hands Go the ids of tasks posted back, up to cap; Go has emptied the eventfd. */
int gw_hub_take(int *ids, int cap) { return take(&to_go, ids, cap); }

void gw_hub_post(gw_task *t) {
    entry e = {t, ENTRY_OP, 0};
    push(&to_hub, &e);
}

/* gw_hub_ping gives the hub an entry to drain unless one waits already, so that
 * gw_hub_pending_ms sees a hub that does not come back to its loop. */
void gw_hub_ping(void) {
    pthread_mutex_lock(&to_hub.mu);
    int empty = to_hub.len == 0;
    pthread_mutex_unlock(&to_hub.mu);
    if (empty) {
        entry e = {NULL, ENTRY_PING, 0};
        push(&to_hub, &e);
    }
}

void gw_hub_stop(void) {
    entry e = {NULL, ENTRY_STOP, 0};
    push(&to_hub, &e);
}

/* gw_hub_pending_ms is how long the oldest entry has waited for the hub, 0 for none: a hub
 * that does not come back to its loop leaves entries waiting. */
long long gw_hub_pending_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&to_hub.mu);
    long long ms = 0;
    if (to_hub.len > 0)
        ms = (now.tv_sec - to_hub.since.tv_sec) * 1000LL +
             (now.tv_nsec - to_hub.since.tv_nsec) / 1000000;
    pthread_mutex_unlock(&to_hub.mu);
    return ms;
}

/* gw_task_reserve makes room for n bytes of input in the task and returns it. */
char *gw_task_reserve(gw_task *t, Py_ssize_t n) {
    if (n > t->in_cap) {
        char *in = realloc(t->in, n);
        if (in == NULL)
            return NULL;
        t->in = in;
        t->in_cap = n;
    }
    t->in_len = n;
    return t->in;
}

/* wait_for_go switches to the hub until a drain resumes this greenlet for the task. An
 * exception thrown into the wait cannot end it — Go would post to a greenlet that no longer
 * waits — so it is raised once the wait is over. */
static int wait_for_go(void) {
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    for (;;) {
        PyObject *r = PyObject_CallNoArgs(hub_switch);
        if (r == resumed) {
            Py_DECREF(r);
            break;
        }
        Py_XDECREF(r);
        if (r == NULL && type == NULL)
            PyErr_Fetch(&type, &value, &tb);
        PyErr_Clear();
    }
    if (type == NULL)
        return 0;
    PyErr_Restore(type, value, tb);
    return -1;
}

static void fail_with_timeout(gw_step *out) {
    memset(out, 0, sizeof *out);
    PyErr_SetNone(request_timeout);
    out->kind = GW_ERROR;
    out->err = gw_format_exception();
}

/* timeout_due reports whether the watchdog asked to end the request while the greenlet could
 * not be interrupted, and marks the timeout raised. */
static int timeout_due(gw_task *t) {
    if (t->timeout != TIMEOUT_DUE)
        return 0;
    t->timeout = TIMEOUT_RAISED;
    return 1;
}

static char *reserve_out(gw_task *t, Py_ssize_t n) {
    if (n > t->out_cap) {
        char *out = realloc(t->out, n);
        if (out == NULL)
            return NULL;
        t->out = out;
        t->out_cap = n;
    }
    return t->out;
}

/* The most of a list body that settle copies. */
#define SETTLE_MAX 65536

/* settle finishes the call within the op that took its step, when no app code is left to run:
 * the body ended or failed, or what is left of it is a small list. Go then has the whole
 * response and needs no op to end the request. The step's bytes are copied into the task,
 * since they belong to the call. Not for a call that keeps its environ for later. */
static int settle(gw_task *t) {
    gw_step *s = &t->step;
    Py_ssize_t rest = 0;
    if (t->call == NULL || t->keep)
        return 0;
    if (s->kind == GW_CHUNK) {
        if (!s->next_ready || (rest = gw_call_rest_len(t->call)) < 0 || s->len + rest > SETTLE_MAX)
            return 0;
    } else if (s->kind != GW_DONE && s->kind != GW_ERROR) {
        return 0;
    }
    char *p = reserve_out(t, s->head_len + (s->kind == GW_CHUNK ? s->len + rest : 0) + 1);
    if (p == NULL)
        return 0;
    if (s->head != NULL) {
        memcpy(p, s->head, s->head_len);
        s->head = p;
        p += s->head_len;
    }
    if (s->kind == GW_CHUNK) {
        memcpy(p, s->data, s->len);
        gw_call_copy_rest(t->call, p + s->len);
        s->data = p;
        s->len += rest;
    }
    t->err = gw_call_finish(t->call, t->timeout == TIMEOUT_RAISED);
    t->call = NULL;
    t->settled = 1;
    return 1;
}

/* execute runs the op Go posted, in the task's greenlet, and reports whether it was the last
 * of the request. */
static int execute(gw_task *t) {
    switch (t->op) {
    case GW_OP_PRE_REQUEST:
        t->hook_req = gw_hook_pre_request(t->in, t->in_len);
        return 0;
    case GW_OP_START:
        t->call = NULL;
        t->keep = t->flag;
        if (timeout_due(t))
            fail_with_timeout(&t->step);
        else
            t->call = gw_call_start(t->app, t->in, t->in_len, (uintptr_t)t, t->content_length,
                                    t->flag, &t->step);
        return settle(t);
    case GW_OP_NEXT:
        if (timeout_due(t))
            fail_with_timeout(&t->step);
        else
            gw_call_next(t->call, &t->step);
        return settle(t);
    case GW_OP_READ_ENVIRON: {
        /* The values live in a buffer that the next greenlet's read would overwrite. */
        Py_ssize_t n;
        const char *values = gw_call_read_environ(t->call, t->keys, &n);
        t->out_len = -1;
        if (values != NULL && reserve_out(t, n + 1) != NULL) {
            memcpy(t->out, values, n);
            t->out_len = n;
        }
        return 0;
    }
    case GW_OP_FINISH:
        t->err = t->call != NULL ? gw_call_finish(t->call, t->flag) : NULL;
        return 1;
    case GW_OP_FINISH_HOOKED: {
        /* After settle, close() has run and its traceback is in the task already. */
        char *err = gw_call_finish_hooked(t->call, t->flag, t->hook_req, t->in, t->in_len);
        if (err != NULL)
            t->err = err;
        t->hook_req = NULL;
        return 1;
    }
    }
    return 1;
}

/* task_main is the body of a request's greenlet: it runs the ops Go posts until the request
 * is finished. */
static PyObject *task_main(PyObject *self, PyObject *arg) {
    gw_task *t = PyLong_AsVoidPtr(arg);
    for (;;) {
        t->waiting = IN_APP;
        int last = execute(t);
        t->waiting = last ? WAIT_DONE : WAIT_OP;
        post_to_go(t, GW_WAKE_DONE);
        if (last)
            Py_RETURN_NONE;
        if (wait_for_go() < 0)
            PyErr_WriteUnraisable(NULL); /* gowsgi never throws there; the op must still run */
    }
}

static PyMethodDef task_main_def = {"_task_main", task_main, METH_O, "Serve one request."};

/* switched handles the end of a switch from the hub into a task's greenlet: it came back when
 * the greenlet waited or ended. */
static void switched(gw_task *t, PyObject *r) {
    if (r == NULL)
        PyErr_WriteUnraisable(t->greenlet);
    Py_XDECREF(r);
    if (t->waiting == WAIT_DONE)
        Py_CLEAR(t->greenlet);
}

static void run_op(gw_task *t) {
    if (t->op == GW_OP_RESUME) {
        PyObject *g = t->io_greenlet;
        t->io_greenlet = NULL;
        switched(t, PyObject_CallMethodOneArg(g, switch_name, resumed));
        Py_DECREF(g);
        return;
    }
    if (t->greenlet != NULL && t->greenlet_gen == t->gen) {
        switched(t, PyObject_CallMethodOneArg(t->greenlet, switch_name, resumed));
        return;
    }
    /* The first op of a request. */
    Py_CLEAR(t->greenlet);
    t->greenlet = PyObject_CallFunctionObjArgs(greenlet_type, task_main_fn, hub, NULL);
    PyObject *arg = t->greenlet != NULL ? PyLong_FromVoidPtr(t) : NULL;
    if (arg == NULL) {
        /* Go waits for this task: without a greenlet it can only be run here. */
        PyErr_WriteUnraisable(NULL);
        Py_CLEAR(t->greenlet);
        execute(t);
        post_to_go(t, GW_WAKE_DONE);
        return;
    }
    t->greenlet_gen = t->gen;
    t->waiting = IN_APP;
    t->timeout = TIMEOUT_NONE;
    switched(t, PyObject_CallMethodOneArg(t->greenlet, switch_name, arg));
    Py_DECREF(arg);
}

/* throw_timeout ends a request whose greenlet waits in the app (on a sleep, a socket, a lock)
 * past its timeout, raising RequestTimeout where it waits. */
static void throw_timeout(gw_task *t, uint64_t gen) {
    if (t->greenlet == NULL || t->greenlet_gen != gen || t->waiting != IN_APP ||
        t->timeout != TIMEOUT_DUE)
        return;
    t->timeout = TIMEOUT_RAISED;
    switched(t, PyObject_CallMethodOneArg(t->greenlet, throw_name, request_timeout));
}

/* drain is the io watcher's callback on the hub: it runs what Go posted, in order. */
static PyObject *drain(PyObject *self, PyObject *unused) {
    static entry *batch;
    static int cap;
    if (batch == NULL) {
        cap = 256;
        batch = malloc(cap * sizeof *batch);
        if (batch == NULL)
            return PyErr_NoMemory();
    }
    uint64_t count;
    while (read(to_hub.fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    int n;
    do {
        n = take(&to_hub, batch, cap);
        for (int i = 0; i < n; i++) {
            entry *e = &batch[i];
            switch (e->kind) {
            case ENTRY_OP:
                run_op(e->task);
                break;
            case ENTRY_THROW:
                throw_timeout(e->task, e->gen);
                break;
            case ENTRY_STOP: {
                PyObject *r = PyObject_CallNoArgs(stop_fn);
                if (r == NULL)
                    PyErr_WriteUnraisable(stop_fn);
                Py_XDECREF(r);
                break;
            }
            }
        }
    } while (n == cap);
    Py_RETURN_NONE;
}

static PyMethodDef drain_def = {"_drain", drain, METH_NOARGS, "Run what Go posted."};

/* attach takes what the hub side needs from gevent.py's _serve: the hub, greenlet.getcurrent,
 * the greenlet type and the function that ends _serve. */
static PyObject *attach(PyObject *self, PyObject *args) {
    PyObject *h, *current, *type, *stop;
    if (!PyArg_ParseTuple(args, "OOOO:_attach", &h, &current, &type, &stop))
        return NULL;
    PyObject *sw = PyObject_GetAttr(h, switch_name);
    if (sw == NULL)
        return NULL;
    Py_XSETREF(hub_switch, sw);
    Py_INCREF(h);
    Py_XSETREF(hub, h);
    Py_INCREF(current);
    Py_XSETREF(getcurrent, current);
    Py_INCREF(type);
    Py_XSETREF(greenlet_type, type);
    Py_INCREF(stop);
    Py_XSETREF(stop_fn, stop);
    Py_RETURN_NONE;
}

static PyMethodDef attach_def = {"_attach", attach, METH_VARARGS, "Take the hub's objects."};

/* gw_hub_run serves requests on gevent's hub in the calling thread, which must be the one that
 * imported the app, until gw_hub_stop. It returns NULL, or the traceback of a failure. */
char *gw_hub_run(void) {
    gw_enter();
    char *err = NULL;
    hub_thread = PyThread_get_thread_ident();
    PyObject *drain_fn = PyCFunction_New(&drain_def, NULL);
    PyObject *attach_fn = PyCFunction_New(&attach_def, NULL);
    if (task_main_fn == NULL)
        task_main_fn = PyCFunction_New(&task_main_def, NULL);
    PyObject *r = NULL;
    if (drain_fn != NULL && attach_fn != NULL && task_main_fn != NULL)
        r = PyObject_CallFunction(serve_fn, "iOO", to_hub.fd, drain_fn, attach_fn);
    if (r == NULL)
        err = gw_format_exception();
    Py_XDECREF(r);
    Py_XDECREF(drain_fn);
    Py_XDECREF(attach_fn);
    gw_leave();
    return err;
}

/* io_wait posts the task to Go for client I/O and lets other greenlets run until Go is done. */
static int io_wait(gw_task *t, int wake) {
    if (t->io_greenlet != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "wsgi.input and write() of one request were used by two greenlets at once");
        return -1;
    }
    t->io_greenlet = PyObject_CallNoArgs(getcurrent);
    if (t->io_greenlet == NULL)
        return -1;
    int was = t->waiting;
    t->waiting = WAIT_IO;
    post_to_go(t, wake);
    int rc = wait_for_go();
    t->waiting = was;
    if (rc == 0 && timeout_due(t)) {
        PyErr_SetNone(request_timeout);
        rc = -1;
    }
    return rc;
}

/* gw_hub_read serves wsgi.input in a greenlet: Go reads from the client while others run. It
 * returns the bytes read, 0 at the end, -1 when the body could not be read, -2 with an
 * exception set. */
Py_ssize_t gw_hub_read(gw_task *t, char *p, Py_ssize_t n) {
    t->io_buf = p;
    t->io_len = n;
    if (io_wait(t, GW_WAKE_READ) < 0)
        return -2;
    return t->io_result;
}

/* gw_hub_write serves write() in a greenlet: 0 once Go has sent the bytes, -1 when the client
 * is gone, -2 with an exception set. */
int gw_hub_write(gw_task *t, const char *head, Py_ssize_t head_len, const char *p, Py_ssize_t n) {
    t->io_head = (char *)head;
    t->io_head_len = head_len;
    t->io_buf = (char *)p;
    t->io_len = n;
    if (io_wait(t, GW_WAKE_WRITE) < 0)
        return -2;
    return t->io_result < 0 ? -1 : 0;
}

/* gw_hub_interrupt is the request timeout under gevent, called by the watchdog for the task's
 * request gen. A greenlet running now (a loop that never yields) gets RequestTimeout raised
 * in the hub's thread; one waiting in the app has it thrown in where it waits, by the hub; one
 * waiting for Go gets it when Go is done. It returns the greenlet's stack (malloc'd). */
char *gw_hub_interrupt(gw_task *t, uint64_t gen) {
    gw_enter();
    char *out = NULL;
    if (t->greenlet == NULL || t->greenlet_gen != gen || t->waiting == WAIT_DONE) {
        out = strdup("(the request is not in Python)\n");
    } else if (t->waiting == WAIT_OP) {
        t->timeout = TIMEOUT_DUE;
        out = strdup("(between two parts of the response, while gowsgi sends one to the client)\n");
    } else {
        PyObject *g = t->waiting == WAIT_IO ? t->io_greenlet : t->greenlet;
        PyObject *r = PyObject_CallFunction(stack_fn, "Ok", g, hub_thread);
        int running = 0;
        const char *stack;
        if (r != NULL && PyArg_ParseTuple(r, "ps", &running, &stack))
            out = strdup(stack);
        else
            out = gw_format_exception();
        Py_XDECREF(r);
        if (running) {
            PyThreadState_SetAsyncExc(hub_thread, request_timeout);
            t->timeout = TIMEOUT_RAISED;
        } else {
            t->timeout = TIMEOUT_DUE;
            if (t->waiting == IN_APP) {
                entry e = {t, ENTRY_THROW, gen};
                push(&to_hub, &e);
            }
        }
    }
    gw_leave();
    return out;
}
