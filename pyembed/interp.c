/* Interpreter start-up, thread states and app loading. The fork server of --preload (zygote.c)
 * starts the interpreter with the same code, before Go's runtime exists. */
#include "pyembed.h"
#include <string.h>
#include <stdlib.h>

static PyInterpreterState *interp;
/* Each OS thread that runs Python owns one thread state for its whole life: creating and
 * destroying one per request would cost more than the request. */
static __thread PyThreadState *thread_state;
static PyObject *format_exception;  /* traceback.format_exception */
static PyObject *load_app;          /* the loader defined by the bootstrap code */
static PyObject *thread_stack;      /* bootstrap's _thread_stack(thread_id) */
static PyObject *request_timeout;   /* bootstrap's RequestTimeout exception */
static PyObject *at_exit;           /* bootstrap's _at_exit() */

/* How many gw_enter calls of this thread are not left yet: under gevent, requests run on the
 * hub's thread, which already holds the GIL when they call in. */
static __thread int entered;

void gw_enter(void) {
    if (entered++ > 0)
        return;
    if (thread_state == NULL)
        thread_state = PyThreadState_New(interp);
    PyEval_RestoreThread(thread_state);
}

void gw_leave(void) {
    if (--entered > 0)
        return;
    thread_state = PyEval_SaveThread();
}

static int report_crashes(void);

static char *dup_status(PyStatus st) {
    const char *m = st.err_msg ? st.err_msg : "unknown error";
    char *out = malloc(strlen(m) + 64);
    sprintf(out, "%s%s%s", st.func ? st.func : "", st.func ? ": " : "", m);
    return out;
}

/* gw_initialize starts the interpreter on the calling thread, which becomes Python's main thread.
 * executable decides sys.prefix (and so a virtualenv's pyvenv.cfg is honoured); bootstrap is
 * Python source defining _load_app(module, attr, call, args); paths, separated by newlines,
 * go first on sys.path. */
int gw_initialize(const char *executable, const char *bootstrap, const char *paths, char **err) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;  /* signals belong to Go */
    config.parse_argv = 0;
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, executable);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(&config, &config.executable, executable);
    if (!PyStatus_Exception(st)) {
        char *argv[] = {(char *)executable};
        st = PyConfig_SetBytesArgv(&config, 1, argv);
    }
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(st)) {
        *err = dup_status(st);
        return -1;
    }
    interp = PyInterpreterState_Get();
    entered = 1;

    PyObject *globals = PyDict_New();
    PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins());
    PyObject *r = PyRun_String(bootstrap, Py_file_input, globals, globals);
    if (r == NULL) {
        *err = gw_format_exception();
        Py_DECREF(globals);
        gw_leave();
        return -1;
    }
    Py_DECREF(r);
    load_app = PyDict_GetItemString(globals, "_load_app");
    thread_stack = PyDict_GetItemString(globals, "_thread_stack");
    request_timeout = PyDict_GetItemString(globals, "RequestTimeout");
    at_exit = PyDict_GetItemString(globals, "_at_exit");
    Py_INCREF(at_exit);
    Py_INCREF(load_app);
    Py_INCREF(thread_stack);
    Py_INCREF(request_timeout);
    PyObject *tb = PyImport_ImportModule("traceback");
    format_exception = PyObject_GetAttrString(tb, "format_exception");
    Py_DECREF(tb);
    Py_DECREF(globals);
    r = PyObject_CallFunction(gw_bootstrap("_setup"), "s", paths);
    if (r != NULL && report_crashes() == 0) {
        Py_DECREF(r);
        gw_leave();
        return 0;
    }
    Py_XDECREF(r);
    *err = gw_format_exception();
    gw_leave();
    return -1;
}

/* report_crashes makes a crash in C (a segfault in an extension) print the Python stack that
 * led to it, through faulthandler, and end the process by its signal, while Go's own faults
 * and a SIGABRT that another process sends still reach Go's handler (crash.c). Called with the
 * GIL held, after Go's runtime has installed its signal handlers when there is one. */
static int report_crashes(void) {
    gw_crash_save_go();
    PyObject *r = PyObject_CallNoArgs(gw_bootstrap("_report_crashes"));
    gw_crash_route();
    Py_XDECREF(r);
    return r != NULL ? 0 : -1;
}

/* gw_report_crashes is report_crashes for a worker forked from the fork server (zygote.c),
 * whose Go runtime started after the interpreter: the fork server undid it before the fork. */
void gw_report_crashes(void) {
    gw_enter();
    if (report_crashes() < 0)
        PyErr_Print();
    gw_leave();
}

const char *gw_version(void) { return Py_GetVersion(); }

/* gw_format_exception turns the pending exception into its traceback text (malloc'd) and
 * clears it. Called with the GIL held. */
char *gw_format_exception(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return strdup("unknown error");
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    char *out = NULL;
    PyObject *lines = format_exception
        ? PyObject_CallFunctionObjArgs(format_exception, type, value, tb ? tb : Py_None, NULL)
        : NULL;
    if (lines != NULL) {
        PyObject *empty = PyUnicode_FromString("");
        PyObject *text = PyUnicode_Join(empty, lines);
        Py_DECREF(empty);
        Py_DECREF(lines);
        if (text != NULL) {
            const char *s = PyUnicode_AsUTF8(text);
            if (s != NULL)
                out = strdup(s);
            Py_DECREF(text);
        }
    }
    if (out == NULL) {
        PyErr_Clear();
        PyObject *s = PyObject_Str(value);
        const char *u = s ? PyUnicode_AsUTF8(s) : NULL;
        out = strdup(u ? u : "unprintable exception");
        Py_XDECREF(s);
        PyErr_Clear();
    }
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}

static char *str_item(PyObject *tuple, Py_ssize_t i) {
    PyObject *o = PyTuple_GetItem(tuple, i);
    const char *s = (o && PyUnicode_Check(o)) ? PyUnicode_AsUTF8(o) : NULL;
    return strdup(s ? s : "");
}

/* gw_load_app imports the application. On failure it returns NULL with kind (module not found,
 * import raised, …) and msg (the detail and traceback) malloc'd. Called with the GIL held. */
PyObject *gw_load_app(const char *module, const char *attr, int call, const char *args,
                      char **kind, char **msg) {
    PyObject *r = PyObject_CallFunction(load_app, "ssis", module, attr, call, args);
    if (r == NULL) {
        *kind = strdup("import raised");
        *msg = gw_format_exception();
        return NULL;
    }
    PyObject *app = PyTuple_GetItem(r, 0);
    if (app != Py_None) {
        Py_INCREF(app);
        Py_DECREF(r);
        return app;
    }
    *kind = str_item(r, 1);
    *msg = str_item(r, 2);
    Py_DECREF(r);
    return NULL;
}

/* gw_bootstrap returns a function the bootstrap code defined (a borrowed reference), for the
 * features that live in their own files. Called with the GIL held. */
PyObject *gw_bootstrap(const char *name) {
    return PyDict_GetItemString(PyFunction_GetGlobals(load_app), name);
}

char *gw_sys_executable(void) {
    PyObject *exe = PySys_GetObject("executable");
    const char *s = (exe && PyUnicode_Check(exe)) ? PyUnicode_AsUTF8(exe) : NULL;
    return strdup(s ? s : "");
}

/* gw_interrupt returns the Python stack of the thread (malloc'd) and raises RequestTimeout in it
 * at its next bytecode. A thread blocked in C sees the exception only when it returns. */
char *gw_interrupt(unsigned long thread_id) {
    gw_enter();
    char *out = NULL;
    PyObject *text = PyObject_CallFunction(thread_stack, "k", thread_id);
    if (text != NULL) {
        const char *s = PyUnicode_AsUTF8(text);
        out = s ? strdup(s) : NULL;
        Py_DECREF(text);
    }
    if (out == NULL)
        out = gw_format_exception();
    PyThreadState_SetAsyncExc(thread_id, request_timeout);
    gw_leave();
    return out;
}

/* gw_probe takes the GIL and gives it back: it returns only while Python can make progress. */
void gw_probe(void) {
    gw_enter();
    gw_leave();
}

/* gw_at_exit runs the app's atexit functions and flushes its output. The interpreter is not
 * finalized: Go threads that hold thread states must not be torn down under the runtime. */
void gw_at_exit(void) {
    gw_enter();
    PyObject *r = PyObject_CallNoArgs(at_exit);
    if (r == NULL)
        PyErr_Print();
    Py_XDECREF(r);
    gw_leave();
}
