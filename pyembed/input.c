/* wsgi.input over a body that Go owns and reads lazily (so "100 Continue" goes out only when the
 * app asks for the body), and wsgi.file_wrapper, which Go recognises to use sendfile. */
#include "pyembed.h"
#include <string.h>
#include <stdlib.h>

typedef struct {
    PyObject_HEAD
    uintptr_t io;              /* 0 once the request is over */
    Py_ssize_t content_length; /* -1 when unknown (chunked) */
    Py_ssize_t taken;          /* bytes Go has handed over */
    char *buf;                 /* read-ahead for readline */
    Py_ssize_t start, end, cap;
    int eof;
} gw_input;

#define READ_AHEAD 8192

/* pull asks Go for up to n body bytes with the GIL released. 0 means the body has ended. */
static Py_ssize_t pull(gw_input *in, char *p, Py_ssize_t n) {
    if (in->eof || n == 0)
        return 0;
    if (in->io == 0) {
        PyErr_SetString(PyExc_ValueError, "wsgi.input read after the request ended");
        return -1;
    }
    Py_ssize_t got;
    if (gw_hub_mode) {
        got = gw_hub_read((gw_task *)in->io, p, n);
        if (got == -2)
            return -1;
    } else {
        Py_BEGIN_ALLOW_THREADS
        got = goWSGIRead(in->io, p, n);
        Py_END_ALLOW_THREADS
    }
    if (got < 0) {
        PyErr_SetString(PyExc_OSError, "request body could not be read (client gone or bad chunk)");
        return -1;
    }
    if (got == 0)
        in->eof = 1;
    in->taken += got;
    return got;
}

/* fill reads more into the read-ahead buffer, growing it up to need bytes. */
static Py_ssize_t fill(gw_input *in, Py_ssize_t need) {
    if (in->start > 0) {
        memmove(in->buf, in->buf + in->start, in->end - in->start);
        in->end -= in->start;
        in->start = 0;
    }
    Py_ssize_t want = need > READ_AHEAD ? need : READ_AHEAD;
    if (want > in->cap) {
        char *b = realloc(in->buf, want);
        if (b == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        in->buf = b;
        in->cap = want;
    }
    Py_ssize_t got = pull(in, in->buf + in->end, in->cap - in->end);
    if (got > 0)
        in->end += got;
    return got;
}

static Py_ssize_t size_arg(PyObject *const *args, Py_ssize_t nargs) {
    if (nargs == 0 || args[0] == Py_None)
        return -1;
    return PyLong_AsSsize_t(args[0]);
}

/* input_read returns size bytes (fewer only at the end of the body), or the whole rest of the
 * body without size. Memory grows with what arrives, not with what the app asks for. */
static PyObject *input_read(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    gw_input *in = (gw_input *)self;
    Py_ssize_t size = size_arg(args, nargs);
    if (size == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t buffered = in->end - in->start;
    Py_ssize_t limit = size < 0 ? PY_SSIZE_T_MAX : size;
    if (in->content_length >= 0 && buffered + in->content_length - in->taken < limit)
        limit = buffered + in->content_length - in->taken;
    Py_ssize_t cap = in->content_length >= 0 || limit < 65536 ? limit : 65536;
    PyObject *out = PyBytes_FromStringAndSize(NULL, cap);
    if (out == NULL)
        return NULL;
    Py_ssize_t have = buffered < cap ? buffered : cap;
    memcpy(PyBytes_AS_STRING(out), in->buf + in->start, have);
    in->start += have;
    while (have < limit) {
        if (have == cap) {
            cap = cap > limit / 2 ? limit : cap * 2;
            if (_PyBytes_Resize(&out, cap) < 0)
                return NULL;
        }
        Py_ssize_t got = pull(in, PyBytes_AS_STRING(out) + have, cap - have);
        if (got < 0) {
            Py_DECREF(out);
            return NULL;
        }
        if (got == 0)
            break;
        have += got;
    }
    if (have != cap && _PyBytes_Resize(&out, have) < 0)
        return NULL;
    return out;
}

static PyObject *readline(gw_input *in, Py_ssize_t limit) {
    Py_ssize_t scanned = 0;
    for (;;) {
        Py_ssize_t avail = in->end - in->start;
        Py_ssize_t span = limit >= 0 && limit < avail ? limit : avail;
        char *nl = span > scanned ? memchr(in->buf + in->start + scanned, '\n', span - scanned)
                                  : NULL;
        Py_ssize_t n = -1;
        if (nl != NULL)
            n = nl - (in->buf + in->start) + 1;
        else if ((limit >= 0 && avail >= limit) || in->eof)
            n = span;
        if (n >= 0) {
            PyObject *line = PyBytes_FromStringAndSize(in->buf + in->start, n);
            in->start += n;
            return line;
        }
        scanned = span; /* relative to in->start, which fill keeps pointing at the same byte */
        if (fill(in, avail + READ_AHEAD) < 0)
            return NULL;
    }
}

static PyObject *input_readline(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t limit = size_arg(args, nargs);
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    return readline((gw_input *)self, limit);
}

static PyObject *input_readlines(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_ssize_t hint = size_arg(args, nargs);
    if (hint == -1 && PyErr_Occurred())
        return NULL;
    PyObject *lines = PyList_New(0);
    Py_ssize_t total = 0;
    while (lines != NULL) {
        PyObject *line = readline((gw_input *)self, -1);
        if (line == NULL || PyBytes_GET_SIZE(line) == 0) {
            if (line == NULL)
                Py_CLEAR(lines);
            Py_XDECREF(line);
            break;
        }
        total += PyBytes_GET_SIZE(line);
        if (PyList_Append(lines, line) < 0)
            Py_CLEAR(lines);
        Py_DECREF(line);
        if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

static PyObject *input_next(PyObject *self) {
    PyObject *line = readline((gw_input *)self, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL; /* StopIteration */
    }
    return line;
}

static void input_dealloc(PyObject *self) {
    free(((gw_input *)self)->buf);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL, "read([size])"},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL, "readline([size])"},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL, "readlines([hint])"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject gw_input_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gowsgi.Input",
    .tp_basicsize = sizeof(gw_input),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = input_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = input_next,
    .tp_methods = input_methods,
};

PyObject *gw_input_new(uintptr_t io, Py_ssize_t content_length) {
    gw_input *in = PyObject_New(gw_input, &gw_input_type);
    if (in == NULL)
        return NULL;
    memset((char *)in + sizeof(PyObject), 0, sizeof *in - sizeof(PyObject));
    in->io = io;
    in->content_length = content_length;
    in->eof = content_length == 0;
    return (PyObject *)in;
}

/* gw_input_reset readies a finished request's input for the next request, keeping its buffer. */
void gw_input_reset(PyObject *input, uintptr_t io, Py_ssize_t content_length) {
    gw_input *in = (gw_input *)input;
    in->io = io;
    in->content_length = content_length;
    in->taken = in->start = in->end = 0;
    in->eof = content_length == 0;
}

void gw_input_detach(PyObject *input) { ((gw_input *)input)->io = 0; }

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t block_size;
} gw_file_wrapper;

static PyObject *wrapper_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    static char *names[] = {"filelike", "block_size", NULL};
    PyObject *filelike;
    Py_ssize_t block_size = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n:file_wrapper", names, &filelike, &block_size))
        return NULL;
    gw_file_wrapper *w = (gw_file_wrapper *)type->tp_alloc(type, 0);
    if (w == NULL)
        return NULL;
    Py_INCREF(filelike);
    w->filelike = filelike;
    w->block_size = block_size > 0 ? block_size : 8192;
    return (PyObject *)w;
}

static PyObject *wrapper_next(PyObject *self) {
    gw_file_wrapper *w = (gw_file_wrapper *)self;
    PyObject *data = PyObject_CallMethod(w->filelike, "read", "n", w->block_size);
    if (data != NULL && PyObject_Length(data) == 0) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *wrapper_close(PyObject *self, PyObject *unused) {
    PyObject *f = ((gw_file_wrapper *)self)->filelike;
    if (!PyObject_HasAttrString(f, "close"))
        Py_RETURN_NONE;
    return PyObject_CallMethod(f, "close", NULL);
}

static void wrapper_dealloc(PyObject *self) {
    Py_XDECREF(((gw_file_wrapper *)self)->filelike);
    Py_TYPE(self)->tp_free(self);
}

static PyMethodDef wrapper_methods[] = {
    {"close", wrapper_close, METH_NOARGS, "Close the wrapped file."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject gw_file_wrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "gowsgi.FileWrapper",
    .tp_basicsize = sizeof(gw_file_wrapper),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = wrapper_new,
    .tp_dealloc = wrapper_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = wrapper_next,
    .tp_methods = wrapper_methods,
};

/* gw_file_wrapper_fd returns the descriptor behind a file_wrapper result when there is a real
 * file to sendfile from, else -1. */
int gw_file_wrapper_fd(PyObject *obj) {
    if (Py_TYPE(obj) != &gw_file_wrapper_type)
        return -1;
    PyObject *fd = PyObject_CallMethod(((gw_file_wrapper *)obj)->filelike, "fileno", NULL);
    int n = fd && PyLong_Check(fd) ? (int)PyLong_AsLong(fd) : -1;
    Py_XDECREF(fd);
    PyErr_Clear();
    return n;
}
