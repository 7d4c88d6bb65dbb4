/* What --reload needs from Python: the files the app has imported, and an app that answers
 * every request with the reason the real one failed to load. */
#include "pyembed.h"
#include <string.h>

/* gw_module_files returns the files to watch, one a line (malloc'd), or NULL when Python
 * failed, with the traceback printed. */
char *gw_module_files(void) {
    gw_enter();
    char *out = NULL;
    PyObject *text = PyObject_CallNoArgs(gw_bootstrap("_module_files"));
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    if (s != NULL)
        out = strdup(s);
    else
        PyErr_Print();
    Py_XDECREF(text);
    gw_leave();
    return out;
}

/* gw_failure_app returns a new reference to a WSGI app answering 500 with text (UTF-8), or
 * NULL with the traceback printed. */
PyObject *gw_failure_app(const char *text, Py_ssize_t len) {
    gw_enter();
    PyObject *app = NULL;
    PyObject *message = PyUnicode_DecodeUTF8(text, len, "replace");
    if (message != NULL)
        app = PyObject_CallOneArg(gw_bootstrap("_failure_app"), message);
    if (app == NULL)
        PyErr_Print();
    Py_XDECREF(message);
    gw_leave();
    return app;
}
