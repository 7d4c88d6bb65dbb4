/* The C half of pyembed: everything that touches the CPython C API lives behind these calls. */
#ifndef GOWSGI_PYEMBED_H
#define GOWSGI_PYEMBED_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

/* Interpreter life (interp.c). */
int gw_initialize(const char *executable, const char *bootstrap, const char *paths, char **err);
const char *gw_version(void);
const char *gw_library_path(void);
void gw_enter(void);
void gw_leave(void);
char *gw_format_exception(void);
PyObject *gw_load_app(const char *module, const char *attr, int call, const char *args,
                      char **kind, char **msg);
char *gw_sys_executable(void);
char *gw_interrupt(unsigned long thread_id);
void gw_probe(void);
void gw_at_exit(void);
void gw_abort_save_runtime(void);
void gw_abort_route(void);
PyObject *gw_bootstrap(const char *name);

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

/* The hooks module (hooks.c). */
char *gw_hooks_load(const char *source, const char *module, const char *info, char **kind,
                    char **msg);
void gw_hooks_set_app(PyObject *app);
void gw_hook_event(const char *name);
PyObject *gw_hook_pre_request(const char *fields, Py_ssize_t len);
char *gw_call_finish_hooked(gw_call *c, int interrupted, PyObject *req, const char *fields,
                            Py_ssize_t len);

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

/* Go side (callbacks.go): called with the GIL released. */
extern Py_ssize_t goWSGIRead(uintptr_t io, char *p, Py_ssize_t n);
extern int goWSGIWrite(uintptr_t io, char *head, Py_ssize_t head_len, char *p, Py_ssize_t n);
extern void goHookLog(char *level, char *text, Py_ssize_t n);

#endif
