/* One WSGI request in flight: the start_response callable, and the steps of the response that
 * Go writes between calls. */
#include "pyembed.h"
#include <string.h>
#include <stdlib.h>

struct gw_call {
    PyObject_HEAD
    uintptr_t io;        /* Go's side of the request; 0 once the request is over */
    PyObject *input;
    PyObject *status;    /* what start_response stored */
    PyObject *headers;
    int changed;         /* stored since Go last saw them */
    int sent;            /* a body byte (and so the header) was handed to Go */
    PyObject *result;    /* the app's iterable */
    PyObject *iter;      /* its iterator, unless result is a list or tuple */
    Py_ssize_t pos;      /* next item of a list or tuple result */
    PyObject *chunk;     /* the bytes Go is writing now */
    PyObject *write;
    PyObject *environ;   /* kept for post_request or the access log; NULL otherwise */
    char *head;          /* packed header for Go */
    Py_ssize_t head_cap;
};

static PyTypeObject call_type;
static void init_byte_class(void);
static PyObject *input_key, *close_name;

int gw_setup_wsgi(int multithread, int multiprocess) {
    init_byte_class();
    gw_enter();
    int rc = -1;
    if (PyType_Ready(&call_type) < 0 || PyType_Ready(&gw_input_type) < 0 ||
        PyType_Ready(&gw_file_wrapper_type) < 0)
        goto out;
    input_key = PyUnicode_InternFromString("wsgi.input");
    close_name = PyUnicode_InternFromString("close");
    if (input_key != NULL && close_name != NULL &&
        gw_environ_setup(multithread, multiprocess) == 0)
        rc = 0;
out:
    if (rc < 0)
        PyErr_Print();
    gw_leave();
    return rc;
}

/* What each byte may be in a header: TOKEN in a name (RFC 9110 tchar), TEXT in a value or the
 * status (anything but control characters, HTAB aside). A table, as every response checks every
 * byte of its header. */
enum { TEXT = 1, TOKEN = 2 };
static unsigned char byte_class[256];

static void init_byte_class(void) {
    for (int c = 0; c < 256; c++) {
        int token = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
        int text = (c >= 0x20 && c != 0x7f) || c == '\t';
        byte_class[c] = (token ? TOKEN : 0) | (text ? TEXT : 0);
    }
}

/* check_text checks that a header text is a str of one-byte characters without control
 * characters (HTAB aside), so it can go on the wire as it is. */
static int check_text(PyObject *s, const char *what, int token) {
    if (!PyUnicode_Check(s)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.100s", what, Py_TYPE(s)->tp_name);
        return -1;
    }
    /* Until 3.12, a str that a C extension made through the Py_UNICODE API keeps its characters
     * elsewhere until it is readied; from 3.12 every str is ready and this does nothing. */
    if (PyUnicode_READY(s) < 0)
        return -1;
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s %R is not latin-1", what, s);
        return -1;
    }
    const unsigned char *d = PyUnicode_1BYTE_DATA(s);
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    if (token && n == 0) {
        PyErr_Format(PyExc_ValueError, "%s is empty", what);
        return -1;
    }
    unsigned char need = token ? TOKEN : TEXT;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!(byte_class[d[i]] & need)) {
            PyErr_Format(PyExc_ValueError, "%s %R contains an invalid character", what, s);
            return -1;
        }
    }
    return 0;
}

static int check_status(PyObject *status) {
    if (check_text(status, "status", 0) < 0)
        return -1;
    const unsigned char *d = PyUnicode_1BYTE_DATA(status);
    Py_ssize_t n = PyUnicode_GET_LENGTH(status);
    if (n < 4 || d[0] < '1' || d[0] > '9' || d[1] < '0' || d[1] > '9' || d[2] < '0' ||
        d[2] > '9' || d[3] != ' ') {
        PyErr_Format(PyExc_ValueError, "status %R is not a 3-digit code, a space and a reason",
                     status);
        return -1;
    }
    return 0;
}

static int check_headers(PyObject *headers) {
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError, "headers must be a list, not %.100s",
                     Py_TYPE(headers)->tp_name);
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *h = PyList_GET_ITEM(headers, i);
        if (!PyTuple_Check(h) || PyTuple_GET_SIZE(h) != 2) {
            PyErr_Format(PyExc_TypeError, "header %R must be a (name, value) tuple", h);
            return -1;
        }
        if (check_text(PyTuple_GET_ITEM(h, 0), "header name", 1) < 0 ||
            check_text(PyTuple_GET_ITEM(h, 1), "header value", 0) < 0)
            return -1;
    }
    return 0;
}

static int head_append(gw_call *c, Py_ssize_t *len, const void *p, Py_ssize_t n) {
    if (*len + n > c->head_cap) {
        Py_ssize_t cap = c->head_cap ? c->head_cap : 512;
        while (cap < *len + n)
            cap *= 2;
        char *h = realloc(c->head, cap);
        if (h == NULL)
            return -1;
        c->head = h;
        c->head_cap = cap;
    }
    memcpy(c->head + *len, p, n);
    *len += n;
    return 0;
}

#define TEXT(s) PyUnicode_1BYTE_DATA(s), PyUnicode_GET_LENGTH(s)

/* pack_head lays out the stored status and headers as "STATUS\r\nName: value\r\n…" for Go.
 * start_response validated every piece, so the bytes go out as they are. */
static void pack_head(gw_call *c, gw_step *out) {
    Py_ssize_t len = 0;
    head_append(c, &len, TEXT(c->status));
    head_append(c, &len, "\r\n", 2);
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->headers); i++) {
        PyObject *h = PyList_GET_ITEM(c->headers, i);
        head_append(c, &len, TEXT(PyTuple_GET_ITEM(h, 0)));
        head_append(c, &len, ": ", 2);
        head_append(c, &len, TEXT(PyTuple_GET_ITEM(h, 1)));
        head_append(c, &len, "\r\n", 2);
    }
    out->head = c->head;
    out->head_len = len;
    c->changed = 0;
}

static PyObject *call_write(PyObject *self, PyObject *data) {
    gw_call *c = (gw_call *)self;
    if (!PyBytes_Check(data))
        return PyErr_Format(PyExc_TypeError, "write() argument must be bytes, not %.100s",
                            Py_TYPE(data)->tp_name);
    if (c->io == 0)
        return PyErr_Format(PyExc_RuntimeError, "write() called after the response ended");
    gw_step head = {0};
    if (!c->sent)
        pack_head(c, &head);
    c->sent = 1;
    Py_INCREF(data);
    int rc;
    if (gw_hub_mode) {
        rc = gw_hub_write((gw_task *)c->io, head.head, head.head_len, PyBytes_AS_STRING(data),
                          PyBytes_GET_SIZE(data));
    } else {
        Py_BEGIN_ALLOW_THREADS
        rc = goWSGIWrite(c->io, (char *)head.head, head.head_len, PyBytes_AS_STRING(data),
                         PyBytes_GET_SIZE(data));
        Py_END_ALLOW_THREADS
    }
    Py_DECREF(data);
    if (rc == -2)
        return NULL;
    if (rc != 0)
        return PyErr_Format(PyExc_OSError, "client disconnected");
    Py_RETURN_NONE;
}

static PyMethodDef write_def = {"write", call_write, METH_O, "Write body bytes at once."};

static PyObject *start_response(PyObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"status", "headers", "exc_info", NULL};
    gw_call *c = (gw_call *)self;
    PyObject *status, *headers, *exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OO|O:start_response", names, &status, &headers,
                                     &exc_info))
        return NULL;
    if (exc_info != Py_None) {
        if (c->sent) {
            /* Too late to change the status: the exception goes back to the app, as PEP 3333 says. */
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3)
                return PyErr_Format(PyExc_TypeError, "exc_info must be a 3-tuple");
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
                     *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(t);
            Py_INCREF(v);
            if (tb == Py_None)
                tb = NULL;
            Py_XINCREF(tb);
            PyErr_Restore(t, v, tb);
            return NULL;
        }
    } else if (c->status != NULL) {
        return PyErr_Format(PyExc_RuntimeError,
                            "start_response() called a second time without exc_info");
    }
    if (check_status(status) < 0 || check_headers(headers) < 0)
        return NULL;
    Py_INCREF(status);
    Py_XSETREF(c->status, status);
    Py_INCREF(headers);
    Py_XSETREF(c->headers, headers);
    c->changed = 1;
    if (c->write == NULL && (c->write = PyCFunction_New(&write_def, self)) == NULL)
        return NULL;
    Py_INCREF(c->write);
    return c->write;
}

static void call_dealloc(PyObject *self) {
    gw_call *c = (gw_call *)self;
    Py_XDECREF(c->input);
    Py_XDECREF(c->status);
    Py_XDECREF(c->headers);
    Py_XDECREF(c->result);
    Py_XDECREF(c->iter);
    Py_XDECREF(c->chunk);
    Py_XDECREF(c->write);
    Py_XDECREF(c->environ);
    free(c->head);
    Py_TYPE(self)->tp_free(self);
}

static PyTypeObject call_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gowsgi.start_response",
    .tp_basicsize = sizeof(gw_call),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = call_dealloc,
    .tp_call = start_response,
};

static void fail(gw_step *out, char *err) {
    out->kind = GW_ERROR;
    out->err = err;
}

static void fail_with(gw_step *out, const char *msg, const char *arg) {
    PyObject *s = PyUnicode_FromFormat(msg, arg);
    const char *u = s ? PyUnicode_AsUTF8(s) : NULL;
    fail(out, strdup(u ? u : msg));
    Py_XDECREF(s);
    PyErr_Clear();
}

/* next_item takes the next non-empty bytes item of the response, or NULL at the end or on an
 * error (then out says which). */
static PyObject *next_item(gw_call *c, gw_step *out) {
    for (;;) {
        PyObject *item;
        if (c->iter == NULL) {
            if (c->pos >= PySequence_Fast_GET_SIZE(c->result)) {
                out->kind = GW_DONE;
                return NULL;
            }
            item = PySequence_Fast_GET_ITEM(c->result, c->pos);
            c->pos++;
            Py_INCREF(item);
        } else {
            item = PyIter_Next(c->iter);
            if (item == NULL) {
                if (PyErr_Occurred())
                    fail(out, gw_format_exception());
                else
                    out->kind = GW_DONE;
                return NULL;
            }
        }
        if (!PyBytes_Check(item)) {
            fail_with(out, "response item must be bytes, not %.100s", Py_TYPE(item)->tp_name);
            Py_DECREF(item);
            return NULL;
        }
        if (PyBytes_GET_SIZE(item) > 0)
            return item;
        Py_DECREF(item);
    }
}

static void step(gw_call *c, gw_step *out) {
    Py_CLEAR(c->chunk);
    PyObject *item = next_item(c, out);
    if (item == NULL && out->kind == GW_ERROR)
        return;
    if (c->status == NULL) {
        fail(out, strdup("the application returned a body without calling start_response()"));
        Py_XDECREF(item);
        return;
    }
    if (c->changed && !c->sent)
        pack_head(c, out);
    if (item != NULL) {
        c->chunk = item;
        c->sent = 1;
        out->kind = GW_CHUNK;
        out->next_ready = c->iter == NULL;
        out->last = c->iter == NULL && c->pos >= PySequence_Fast_GET_SIZE(c->result);
        out->data = PyBytes_AS_STRING(item);
        out->len = PyBytes_GET_SIZE(item);
    }
}

/* first_step decides how the result is walked: lists and tuples by index (no Python iteration),
 * a file_wrapper over a real file by descriptor (Go sends it with sendfile), anything else by
 * the iterator protocol. */
static void first_step(gw_call *c, gw_step *out) {
    PyObject *r = c->result;
    if (PyList_CheckExact(r) || PyTuple_CheckExact(r)) {
        /* The whole body is known: a bad item fails the request before a byte is sent. */
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(r); i++) {
            PyObject *item = PySequence_Fast_GET_ITEM(r, i);
            if (!PyBytes_Check(item)) {
                fail_with(out, "response item must be bytes, not %.100s", Py_TYPE(item)->tp_name);
                return;
            }
        }
        step(c, out);
        return;
    }
    int fd = gw_file_wrapper_fd(r);
    if (fd >= 0 && c->status != NULL) {
        if (c->changed)
            pack_head(c, out);
        c->sent = 1;
        out->kind = GW_FILE;
        out->fd = fd;
        return;
    }
    c->iter = PyObject_GetIter(r);
    if (c->iter == NULL) {
        fail(out, gw_format_exception());
        return;
    }
    step(c, out);
}

/* A finished call that nothing else refers to is kept for the thread's next request, with its
 * write callable and input object, so a request allocates neither. */
static __thread gw_call *spare_call;

static gw_call *new_call(void) {
    gw_call *c = spare_call;
    if (c != NULL) {
        spare_call = NULL;
        return c;
    }
    c = PyObject_New(gw_call, &call_type);
    if (c != NULL)
        memset((char *)c + sizeof(PyObject), 0, sizeof *c - sizeof(PyObject));
    return c;
}

void gw_call_release(gw_call *c) {
    Py_CLEAR(c->environ); /* first: it refers to the input, whose count is checked below */
    Py_CLEAR(c->status);
    Py_CLEAR(c->headers);
    Py_CLEAR(c->result);
    Py_CLEAR(c->iter);
    c->changed = c->sent = 0;
    c->pos = 0;
    if (c->input != NULL && Py_REFCNT(c->input) > 1)
        Py_CLEAR(c->input); /* the app kept wsgi.input: it gets a fresh one next time */
    /* write refers back to the call; dropping it unless it is ours alone breaks that cycle. */
    if (c->write != NULL && Py_REFCNT(c->write) > 1)
        Py_CLEAR(c->write);
    Py_ssize_t own = 1 + (c->write != NULL);
    if (spare_call == NULL && Py_REFCNT(c) == own) {
        spare_call = c;
        return;
    }
    Py_CLEAR(c->write);
    Py_DECREF(c);
}

/* gw_call_start builds the environ and calls the app. keep_environ holds on to the environ
 * until the call is released, for a post_request hook or the access log. */
gw_call *gw_call_start(PyObject *app, const char *env_buf, Py_ssize_t env_len, uintptr_t io,
                       Py_ssize_t content_length, int keep_environ, gw_step *out) {
    memset(out, 0, sizeof *out);
    gw_enter();
    gw_call *c = new_call();
    if (c == NULL) {
        fail(out, gw_format_exception());
        gw_leave();
        return NULL;
    }
    c->io = io;
    PyObject *env = gw_build_environ(env_buf, env_len);
    if (env != NULL) {
        if (c->input != NULL)
            gw_input_reset(c->input, io, content_length);
        else
            c->input = gw_input_new(io, content_length);
        if (c->input == NULL || PyDict_SetItem(env, input_key, c->input) < 0)
            Py_CLEAR(env);
    }
    if (env == NULL) {
        fail(out, gw_format_exception());
        gw_leave();
        return c;
    }
    c->result = PyObject_CallFunctionObjArgs(app, env, (PyObject *)c, NULL);
    if (keep_environ)
        c->environ = env;
    else
        Py_DECREF(env);
    if (c->result == NULL)
        fail(out, gw_format_exception());
    else
        first_step(c, out);
    gw_leave();
    return c;
}

void gw_call_next(gw_call *c, gw_step *out) {
    memset(out, 0, sizeof *out);
    gw_enter();
    step(c, out);
    gw_leave();
}

/* lookup_attr gets an attribute that may be missing without raising and formatting an
 * AttributeError for nothing. */
static int lookup_attr(PyObject *obj, PyObject *name, PyObject **out) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, out);
#else
    return _PyObject_LookupAttr(obj, name, out);
#endif
}

/* gw_call_close ends the response: close() on the result whatever happened (PEP 3333). Returns
 * close()'s traceback, if it raised. interrupted says that RequestTimeout was raised in this
 * thread for the request. Called with the GIL held; gw_call_release then lets the call go. */
char *gw_call_close(gw_call *c, int interrupted) {
    char *err = NULL;
    if (interrupted) /* a timeout that came too late must not hit the thread's next request */
        PyThreadState_SetAsyncExc(PyThread_get_thread_ident(), NULL);
    Py_CLEAR(c->chunk);
    c->io = 0;
    if (c->input != NULL)
        gw_input_detach(c->input);
    PyObject *r = c->result;
    if (r != NULL && !PyList_CheckExact(r) && !PyTuple_CheckExact(r)) {
        PyObject *close = NULL;
        if (lookup_attr(r, close_name, &close) < 0)
            err = gw_format_exception();
        if (close != NULL) {
            PyObject *res = PyObject_CallNoArgs(close);
            Py_DECREF(close);
            if (res == NULL)
                err = gw_format_exception();
            Py_XDECREF(res);
        }
    }
    return err;
}

/* gw_call_environ is the environ the app was called with (borrowed), when it was kept. */
PyObject *gw_call_environ(gw_call *c) { return c->environ; }

/* gw_call_finish closes the response and releases the call (see gw_call_close). */
char *gw_call_finish(gw_call *c, int interrupted) {
    gw_enter();
    char *err = gw_call_close(c, interrupted);
    gw_call_release(c);
    gw_leave();
    return err;
}

/* gw_call_rest_len is how many bytes are left of a list or tuple body after the current
 * chunk, or -1 for any other body: one whose rest needs the app to run. */
Py_ssize_t gw_call_rest_len(gw_call *c) {
    if (c->result == NULL || c->iter != NULL ||
        !(PyList_CheckExact(c->result) || PyTuple_CheckExact(c->result)))
        return -1;
    Py_ssize_t n = 0;
    for (Py_ssize_t i = c->pos; i < PySequence_Fast_GET_SIZE(c->result); i++)
        n += PyBytes_GET_SIZE(PySequence_Fast_GET_ITEM(c->result, i));
    return n;
}

/* gw_call_copy_rest copies what gw_call_rest_len counted to p, which then counts as sent. */
void gw_call_copy_rest(gw_call *c, char *p) {
    for (; c->pos < PySequence_Fast_GET_SIZE(c->result); c->pos++) {
        PyObject *item = PySequence_Fast_GET_ITEM(c->result, c->pos);
        memcpy(p, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item));
        p += PyBytes_GET_SIZE(item);
    }
}
