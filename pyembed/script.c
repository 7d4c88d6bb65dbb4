/* Python helpers that speak text to Go: a source run once as a namespace of its own, whose
 * functions take a str and return a str (JSON, as the config reader and the master's hook
 * runner use them). */
#include "pyembed.h"
#include <string.h>
#include <stdlib.h>

/* gw_script_load runs source in a new namespace, then binds its _log_write to gowsgi's error
 * log, and returns the namespace, or NULL with *err the traceback (malloc'd). */
PyObject *gw_script_load(const char *source, char **err) {
    gw_enter();
    PyObject *globals = PyDict_New(), *writer = gw_hook_log_writer(), *r = NULL;
    if (globals != NULL && writer != NULL &&
        PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) == 0)
        r = PyRun_String(source, Py_file_input, globals, globals);
    if (r != NULL && PyDict_SetItemString(globals, "_log_write", writer) != 0) {
        Py_DECREF(r);
        r = NULL;
    }
    Py_XDECREF(writer);
    if (r == NULL) {
        *err = gw_format_exception();
        Py_XDECREF(globals);
        globals = NULL;
    }
    Py_XDECREF(r);
    gw_leave();
    return globals;
}

/* call_text calls fn with arg and returns what it returned, a str, malloc'd; NULL with *err the
 * traceback when it raised. */
static char *call_text(PyObject *fn, const char *arg, char **err) {
    char *out = NULL;
    gw_enter();
    PyObject *r = PyObject_CallFunction(fn, "s", arg);
    const char *text = r == NULL ? NULL : PyUnicode_AsUTF8(r);
    if (text != NULL)
        out = strdup(text);
    else
        *err = gw_format_exception();
    Py_XDECREF(r);
    gw_leave();
    return out;
}

/* gw_script_call calls a function of the script's namespace with arg (see call_text). */
char *gw_script_call(PyObject *globals, const char *function, const char *arg, char **err) {
    gw_enter();
    PyObject *fn = PyDict_GetItemString(globals, function);
    char *out = fn == NULL ? NULL : call_text(fn, arg, err);
    if (fn == NULL)
        *err = strdup("no such function");
    gw_leave();
    return out;
}

/* gw_bootstrap_call calls a function of the bootstrap (bootstrap.py) with arg (see call_text). */
char *gw_bootstrap_call(const char *function, const char *arg, char **err) {
    gw_enter();
    char *out = call_text(gw_bootstrap(function), arg, err);
    gw_leave();
    return out;
}
