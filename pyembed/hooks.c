/* The hooks module: hooks.py (run once, when --hooks is given) imports it and wraps each call
 * of its functions; this file hands it the worker's events and requests. A hook that raises
 * is logged by hooks.py and changes nothing else. */
#include "pyembed.h"
#include <string.h>
#include <stdlib.h>

static PyObject *set_app_fn, *event_fn, *pre_request_fn, *post_request_fn, *bind_fn;

/* log_write is hooks.py's _log_write(level, text): one entry in gowsgi's error log. */
static PyObject *log_write(PyObject *self, PyObject *args) {
    const char *level, *text;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "sy#:_log_write", &level, &text, &n))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    goHookLog((char *)level, (char *)text, n);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef log_write_def = {"_log_write", log_write, METH_VARARGS,
                                    "Write a line to gowsgi's error log."};

/* gw_hook_log_writer is a new reference to _log_write, for Python helpers that log. */
PyObject *gw_hook_log_writer(void) { return PyCFunction_New(&log_write_def, NULL); }

/* log_pending sends the pending exception to the error log: hooks.py catches what hooks raise,
 * so this is only for a failure of gowsgi's own wrapper. */
static void log_pending(const char *what) {
    char *tb = gw_format_exception();
    size_t n = strlen(what) + strlen(tb) + 2;
    char *text = malloc(n);
    snprintf(text, n, "%s\n%s", what, tb);
    goHookLog("error", text, (Py_ssize_t)strlen(text));
    free(text);
    free(tb);
}

static PyObject *get_fn(PyObject *globals, const char *name) {
    PyObject *fn = PyDict_GetItemString(globals, name);
    Py_XINCREF(fn);
    return fn;
}

/* gw_hooks_load runs hooks.py's source and imports the hooks module with it. It returns the
 * names of the hooks the module defines, one a line (malloc'd), or NULL with kind and msg
 * malloc'd as gw_load_app does. info is the worker's description, as JSON. */
char *gw_hooks_load(const char *source, const char *module, const char *info, char **kind,
                    char **msg) {
    char *names = NULL;
    gw_enter();
    PyObject *globals = PyDict_New(), *writer = gw_hook_log_writer(), *r = NULL;
    if (globals != NULL && writer != NULL &&
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0 &&
        (r = PyRun_String(source, Py_file_input, globals, globals)) != NULL) {
        Py_DECREF(r);
        r = NULL;
        PyObject *load = PyDict_GetItemString(globals, "_load");
        if (PyDict_SetItemString(globals, "_log_write", writer) == 0 && load != NULL)
            r = PyObject_CallFunction(load, "ss", module, info);
    }
    if (r == NULL) {
        *kind = strdup("import raised");
        *msg = gw_format_exception();
    } else if (PyTuple_GET_ITEM(r, 0) == Py_None) {
        *kind = strdup(PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 1)));
        *msg = strdup(PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 2)));
    } else {
        names = strdup(PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 0)));
        set_app_fn = get_fn(globals, "_set_app");
        event_fn = get_fn(globals, "_event");
        pre_request_fn = get_fn(globals, "_pre_request");
        post_request_fn = get_fn(globals, "_post_request");
        bind_fn = get_fn(globals, "_bind");
    }
    Py_XDECREF(r);
    Py_XDECREF(writer);
    Py_XDECREF(globals);
    gw_leave();
    return names;
}

/* gw_hooks_bind gives the hooks gw_hooks_load imported before a fork the worker object of the
 * process that runs them now, described by info; it returns what gw_hooks_load returns. */
char *gw_hooks_bind(const char *info, char **msg) {
    gw_enter();
    char *names = NULL;
    PyObject *r = PyObject_CallFunction(bind_fn, "s", info);
    if (r == NULL)
        *msg = gw_format_exception();
    else
        names = strdup(PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 0)));
    Py_XDECREF(r);
    gw_leave();
    return names;
}

/* gw_hooks_set_app gives the worker object its wsgi attribute, the loaded app. */
void gw_hooks_set_app(PyObject *app) {
    gw_enter();
    PyObject *r = PyObject_CallOneArg(set_app_fn, app);
    if (r == NULL)
        log_pending("Cannot give the hooks the app");
    Py_XDECREF(r);
    gw_leave();
}

/* gw_hook_event runs one of the worker's own events (post_worker_init, worker_int, …). */
void gw_hook_event(const char *name) {
    gw_enter();
    PyObject *r = PyObject_CallFunction(event_fn, "s", name);
    if (r == NULL)
        log_pending("Exception in gowsgi's hook runner");
    Py_XDECREF(r);
    gw_leave();
}

static uint32_t field_len(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* unpack_fields turns what Go packed (each field a u32 length and its bytes) into a tuple of
 * latin-1 strings, as the environ's values are. */
static PyObject *unpack_fields(const char *buf, Py_ssize_t len) {
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    Py_ssize_t count = 0;
    for (const unsigned char *q = p; q + 4 <= end; q += 4 + field_len(q))
        count++;
    PyObject *fields = PyTuple_New(count);
    for (Py_ssize_t i = 0; fields != NULL && i < count; i++) {
        uint32_t n = field_len(p);
        PyObject *s = PyUnicode_DecodeLatin1((const char *)p + 4, n, NULL);
        if (s == NULL) {
            Py_CLEAR(fields);
            break;
        }
        PyTuple_SET_ITEM(fields, i, s);
        p += 4 + n;
    }
    return fields;
}

/* gw_hook_pre_request makes the request object from the packed fields and runs pre_request
 * with it. It returns the object, for post_request, or NULL if it could not be made. */
PyObject *gw_hook_pre_request(const char *buf, Py_ssize_t len) {
    gw_enter();
    PyObject *req = NULL, *fields = unpack_fields(buf, len);
    if (fields != NULL)
        req = PyObject_CallOneArg(pre_request_fn, fields);
    if (req == NULL)
        log_pending("Cannot run the pre_request hook");
    Py_XDECREF(fields);
    gw_leave();
    return req;
}

/* gw_call_finish_hooked does what gw_call_finish does, with post_request(worker, req,
 * environ, resp) between close() and the release of the call, as gunicorn orders them; the
 * response is described by the packed fields. c may be NULL when the call could not start. */
char *gw_call_finish_hooked(gw_call *c, int interrupted, PyObject *req, const char *buf,
                            Py_ssize_t len) {
    char *err = NULL;
    gw_enter();
    if (c != NULL)
        err = gw_call_close(c, interrupted);
    PyObject *environ = c != NULL ? gw_call_environ(c) : NULL;
    PyObject *fields = unpack_fields(buf, len), *r = NULL;
    if (fields != NULL && req != NULL)
        r = PyObject_CallFunctionObjArgs(post_request_fn, req, environ ? environ : Py_None,
                                         fields, NULL);
    if (r == NULL && PyErr_Occurred())
        log_pending("Cannot run the post_request hook");
    Py_XDECREF(r);
    Py_XDECREF(fields);
    Py_XDECREF(req);
    if (c != NULL)
        gw_call_release(c);
    gw_leave();
    return err;
}
