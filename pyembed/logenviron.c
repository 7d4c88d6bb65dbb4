/* Reading environ keys for the access log ({key}e) once the app has returned, so that what the
 * app or a middleware put there (REMOTE_USER, a request id) is seen. */
#include "pyembed.h"
#include <stdlib.h>
#include <string.h>

struct gw_environ_keys {
    int count;
    PyObject **keys;
};

/* gw_environ_keys_new makes the keys once, from count NUL-terminated UTF-8 names laid end to
 * end. */
gw_environ_keys *gw_environ_keys_new(const char *names, int count) {
    gw_enter();
    gw_environ_keys *k = calloc(1, sizeof *k);
    if (k != NULL && (k->keys = calloc(count, sizeof *k->keys)) != NULL) {
        k->count = count;
        for (int i = 0; i < count; i++) {
            size_t n = strlen(names);
            k->keys[i] = PyUnicode_DecodeUTF8(names, n, "surrogateescape");
            if (k->keys[i] == NULL)
                PyErr_Clear();
            names += n + 1;
        }
    }
    gw_leave();
    return k;
}

/* same_key compares two str keys ignoring ASCII case, as gunicorn matches {key}e atoms. */
static int same_key(PyObject *a, PyObject *b) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(a);
    if (n != PyUnicode_GET_LENGTH(b))
        return 0;
    int ka = PyUnicode_KIND(a), kb = PyUnicode_KIND(b);
    const void *da = PyUnicode_DATA(a), *db = PyUnicode_DATA(b);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_UCS4 x = PyUnicode_READ(ka, da, i), y = PyUnicode_READ(kb, db, i);
        if (x >= 'A' && x <= 'Z')
            x += 'a' - 'A';
        if (y >= 'A' && y <= 'Z')
            y += 'a' - 'A';
        if (x != y)
            return 0;
    }
    return 1;
}

/* lookup returns a new reference to the value of key: the key as written, else any key equal
 * to it but for case; NULL when there is none. */
static PyObject *lookup(PyObject *env, PyObject *key) {
    PyObject *v = PyDict_GetItemWithError(env, key);
    if (v == NULL && !PyErr_Occurred()) {
        Py_ssize_t pos = 0;
        PyObject *k, *value;
        while (PyDict_Next(env, &pos, &k, &value)) {
            if (PyUnicode_Check(k) && same_key(k, key)) {
                v = value;
                break;
            }
        }
    }
    PyErr_Clear();
    Py_XINCREF(v);
    return v;
}

/* The packed values of the last read, per thread so that calls on different threads do not
 * share it; it grows and is reused. */
static __thread char *out;
static __thread Py_ssize_t out_cap;

static int reserve(Py_ssize_t need) {
    if (need <= out_cap)
        return 0;
    Py_ssize_t cap = out_cap ? out_cap : 256;
    while (cap < need)
        cap *= 2;
    char *grown = realloc(out, cap);
    if (grown == NULL)
        return -1;
    out = grown;
    out_cap = cap;
    return 0;
}

/* append_value writes one value as its length and its UTF-8 bytes, or length -1 when missing:
 * str as it is (lone surrogates back to their bytes), anything else through str(). */
static int append_value(Py_ssize_t *len, PyObject *v) {
    PyObject *text = NULL, *encoded = NULL;
    const char *bytes = NULL;
    Py_ssize_t n = -1;
    if (v != NULL) {
        text = PyUnicode_Check(v) ? (Py_INCREF(v), v) : PyObject_Str(v);
        if (text != NULL && (bytes = PyUnicode_AsUTF8AndSize(text, &n)) == NULL) {
            PyErr_Clear();
            encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogateescape");
            if (encoded == NULL) {
                PyErr_Clear();
                encoded = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
            }
            if (encoded != NULL) {
                bytes = PyBytes_AS_STRING(encoded);
                n = PyBytes_GET_SIZE(encoded);
            }
        }
        PyErr_Clear();
        if (bytes == NULL)
            n = -1;
    }
    int64_t size = n;
    int rc = reserve(*len + (Py_ssize_t)sizeof size + (n > 0 ? n : 0));
    if (rc == 0) {
        memcpy(out + *len, &size, sizeof size);
        *len += sizeof size;
        if (n > 0) {
            memcpy(out + *len, bytes, n);
            *len += n;
        }
    }
    Py_XDECREF(encoded);
    Py_XDECREF(text);
    return rc;
}

/* gw_call_read_environ packs the value of each key in the call's environ: an int64_t length
 * (-1 for a missing key) and the bytes, one key after the other. The buffer stays valid until
 * the thread's next read. NULL when the call kept no environ or memory ran out. */
const char *gw_call_read_environ(gw_call *c, gw_environ_keys *keys, Py_ssize_t *len) {
    *len = 0;
    if (c == NULL || gw_call_environ(c) == NULL)
        return NULL;
    gw_enter();
    PyObject *env = gw_call_environ(c);
    int rc = 0;
    for (int i = 0; i < keys->count && rc == 0; i++) {
        PyObject *v = keys->keys[i] != NULL ? lookup(env, keys->keys[i]) : NULL;
        rc = append_value(len, v);
        Py_XDECREF(v);
    }
    gw_leave();
    return rc == 0 ? out : NULL;
}
