/* The C half of pyembed: everything that touches the CPython C API lives behind these calls. */
#ifndef GOWSGI_PYEMBED_H
#define GOWSGI_PYEMBED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Interpreter life (interp.c). */
int gw_initialize(const char *executable, const char *bootstrap, const char *paths, char **err);
const char *gw_version(void);
const char *gw_library_path(void); /* library.c, in shared builds only */
void gw_enter(void);
void gw_leave(void);
char *gw_format_exception(void);
PyObject *gw_load_app(const char *module, const char *attr, int call, const char *args,
                      char **kind, char **msg);
char *gw_sys_executable(void);
char *gw_interrupt(unsigned long thread_id);
void gw_probe(void);
void gw_at_exit(void);
void gw_report_crashes(void);
PyObject *gw_bootstrap(const char *name);

/* Crashes in C end the process by their signal; faults in Go stay Go's (crash.c). */
void gw_crash_note_go_text(uintptr_t start, uintptr_t end);
void gw_crash_save_go(void);
void gw_crash_route(void);

/* The fork server of --preload (zygote.c): what a worker forked from it, or a fork server that
 * could not load the app, finds once Go's runtime runs. */
enum { GW_ZYGOTE_NONE, GW_ZYGOTE_FORKED, GW_ZYGOTE_FAILED };
int gw_zygote_state(void);
PyObject *gw_zygote_app(void);
char *gw_zygote_notes(void);
const char *gw_zygote_worker_env(size_t *len);
void gw_zygote_failure(const char **step, char **kind, char **detail);
int gw_zygote_hooks(void);

/* What --reload needs (reload.c). */
char *gw_module_files(void);
PyObject *gw_failure_app(const char *text, Py_ssize_t len);

/* The environ (environ.c) and what every request shares (call.c). */
int gw_setup_wsgi(int multithread, int multiprocess);
int gw_environ_setup(int multithread, int multiprocess);
PyObject *gw_build_environ(const char *buf, Py_ssize_t len);

/* A request in flight (call.c). */
enum { GW_ERROR = 1, GW_DONE = 2, GW_CHUNK = 3, GW_FILE = 4 };

typedef struct gw_call gw_call;

typedef struct {
    int kind;           /* GW_ERROR, GW_DONE (no more body), GW_CHUNK, GW_FILE */
    const char *data;   /* GW_CHUNK: bytes owned by the call until the next step */
    Py_ssize_t len;
    int next_ready;     /* GW_CHUNK: the next step runs no app code (a list or tuple body) */
    int last;           /* GW_CHUNK: the body ends with this chunk (a list or tuple body) */
    int fd;             /* GW_FILE: descriptor of the wrapped file */
    const char *head;   /* packed "STATUS\r\nName: value\r\n…" when start_response changed it */
    Py_ssize_t head_len;
    char *err;          /* GW_ERROR: message (and traceback), malloc'd; caller frees */
} gw_step;

gw_call *gw_call_start(PyObject *app, const char *env, Py_ssize_t env_len, uintptr_t io,
                       Py_ssize_t content_length, int keep_environ, gw_step *out);
void gw_call_next(gw_call *c, gw_step *out);
char *gw_call_finish(gw_call *c, int interrupted);
char *gw_call_close(gw_call *c, int interrupted);
void gw_call_release(gw_call *c);
PyObject *gw_call_environ(gw_call *c);
Py_ssize_t gw_call_rest_len(gw_call *c);
void gw_call_copy_rest(gw_call *c, char *p);

/* The hooks module (hooks.c). */
char *gw_hooks_load(const char *source, const char *module, const char *info, char **kind,
                    char **msg);
char *gw_hooks_bind(const char *info, char **msg);
void gw_hooks_set_app(PyObject *app);
PyObject *gw_hook_log_writer(void);
void gw_hook_event(const char *name);
PyObject *gw_hook_pre_request(const char *fields, Py_ssize_t len);
char *gw_call_finish_hooked(gw_call *c, int interrupted, PyObject *req, const char *fields,
                            Py_ssize_t len);

/* Python helpers that speak text (script.c). */
PyObject *gw_script_load(const char *source, char **err);
char *gw_script_call(PyObject *globals, const char *function, const char *arg, char **err);
char *gw_bootstrap_call(const char *function, const char *arg, char **err);

/* Environ keys the access log reads after the app returns (logenviron.c). */
PyObject *gw_call_environ(gw_call *c);
typedef struct gw_environ_keys gw_environ_keys;
gw_environ_keys *gw_environ_keys_new(const char *names, int count);
const char *gw_call_read_environ(gw_call *c, gw_environ_keys *keys, Py_ssize_t *len);

/* wsgi.input and wsgi.file_wrapper types (input.c). */
extern PyTypeObject gw_input_type;
extern PyTypeObject gw_file_wrapper_type;
PyObject *gw_input_new(uintptr_t io, Py_ssize_t content_length);
void gw_input_reset(PyObject *input, uintptr_t io, Py_ssize_t content_length);
void gw_input_detach(PyObject *input);
int gw_file_wrapper_fd(PyObject *obj);

/* The gevent hub (hub.c): requests run in greenlets on the thread that runs gevent's hub. Go
 * posts an op to a task and waits; the hub runs it in the task's greenlet and posts the task
 * back, either done or asking Go for client I/O, which Go does and posts as GW_OP_RESUME. */
enum {
    GW_OP_PRE_REQUEST = 1, GW_OP_START, GW_OP_NEXT, GW_OP_READ_ENVIRON, GW_OP_FINISH,
    GW_OP_FINISH_HOOKED, GW_OP_RESUME
};
enum { GW_WAKE_DONE = 1, GW_WAKE_READ, GW_WAKE_WRITE };

typedef struct gw_task {
    /* Go's, read by the hub once posted. */
    int id;
    uint64_t gen;            /* the request the task serves now; Go counts them */
    int op;
    PyObject *app;
    char *in;                /* the environ (GW_OP_START) or the hook fields, copied from Go */
    Py_ssize_t in_len, in_cap;
    Py_ssize_t content_length;
    int flag;                /* GW_OP_START: keep the environ; GW_OP_FINISH*: interrupted */
    gw_environ_keys *keys;
    Py_ssize_t io_result;    /* GW_OP_RESUME: bytes read, or 0 / -1 for a write */
    /* The hub's, read by Go once posted back. */
    int wake;
    int settled;             /* the call is finished: the step holds the rest of the response */
    gw_call *call;
    PyObject *hook_req;
    gw_step step;
    char *err;               /* close()'s traceback (malloc'd) */
    char *out;               /* GW_OP_READ_ENVIRON's values */
    Py_ssize_t out_len, out_cap;
    char *io_buf;            /* GW_WAKE_READ: where to read to; GW_WAKE_WRITE: the body */
    Py_ssize_t io_len;
    char *io_head;           /* GW_WAKE_WRITE: the packed header when it has not gone yet */
    Py_ssize_t io_head_len;
    /* The hub's own, under the GIL. */
    PyObject *greenlet;      /* the greenlet serving the request of greenlet_gen */
    uint64_t greenlet_gen;
    PyObject *io_greenlet;   /* the greenlet waiting for Go's I/O */
    int waiting;
    int timeout;
    int keep;                /* the call keeps its environ until GW_OP_FINISH* */
} gw_task;

extern int gw_hub_mode;
char *gw_hub_setup(const char *source, int *missing);
int gw_hub_open(void);
char *gw_hub_run(void);
void gw_hub_post(gw_task *t);
void gw_hub_ping(void);
void gw_hub_stop(void);
int gw_hub_take(int *ids, int cap);
long long gw_hub_pending_ms(void);
char *gw_hub_interrupt(gw_task *t, uint64_t gen);
char *gw_task_reserve(gw_task *t, Py_ssize_t n);
Py_ssize_t gw_hub_read(gw_task *t, char *p, Py_ssize_t n);
int gw_hub_write(gw_task *t, const char *head, Py_ssize_t head_len, const char *p, Py_ssize_t n);

/* Go side (callbacks.go): called with the GIL released. */
extern Py_ssize_t goWSGIRead(uintptr_t io, char *p, Py_ssize_t n);
extern int goWSGIWrite(uintptr_t io, char *head, Py_ssize_t head_len, char *p, Py_ssize_t n);
extern void goHookLog(char *level, char *text, Py_ssize_t n);

#endif
