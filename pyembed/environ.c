/* The environ of a request, built in one pass from the buffer Go packed: interned keys, values
 * that repeat reused, and the constants every request shares copied from a template. */
#include "pyembed.h"
#include <string.h>

/* Environ keys Go refers to by index; the order matches the key constants and commonHeaders in
 * wsgi/environ.go. */
static const char *const key_names[] = {
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "CONTENT_TYPE",
    "CONTENT_LENGTH", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR",
    "REMOTE_PORT", "RAW_URI", "wsgi.url_scheme",
    "HTTP_HOST", "HTTP_USER_AGENT", "HTTP_ACCEPT", "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE", "HTTP_CONNECTION", "HTTP_COOKIE", "HTTP_REFERER",
    "HTTP_CACHE_CONTROL", "HTTP_ORIGIN", "HTTP_AUTHORIZATION", "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO", "HTTP_X_REQUESTED_WITH", "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH", "HTTP_UPGRADE_INSECURE_REQUESTS", "HTTP_PRAGMA", "HTTP_X_REAL_IP",
};
#define KEY_COUNT ((int)(sizeof key_names / sizeof key_names[0]))
#define FIRST_HEADER_KEY 13
#define LITERAL_KEY 255

/* The keys every request sets (see buildEnviron in wsgi/serve.go), by index. The template holds
 * them already, with None, so that a request's environ replaces values in a table of the right
 * size instead of inserting keys and growing it. SCRIPT_NAME is there already with its default. */
static const int always_set[] = {0 /* REQUEST_METHOD */, 2 /* PATH_INFO */, 3 /* QUERY_STRING */,
                                 6, 7, 8 /* SERVER_NAME, _PORT, _PROTOCOL */,
                                 9, 10 /* REMOTE_ADDR, _PORT */, 11 /* RAW_URI */,
                                 12 /* wsgi.url_scheme */};
#define ALWAYS_SET_COUNT ((int)(sizeof always_set / sizeof always_set[0]))

static PyObject *keys[KEY_COUNT];
/* The last value seen for each indexed key: the method, protocol, server address, Host, Accept
 * and the like repeat from one request to the next, so most requests make no new string for
 * them. Only touched with the GIL held. */
static PyObject *last_values[KEY_COUNT];
static PyObject *environ_template;
static PyObject *comma;

static uint32_t read_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static PyObject *cached_value(int idx, const char *p, Py_ssize_t n) {
    PyObject *last = last_values[idx];
    if (last != NULL && PyUnicode_GET_LENGTH(last) == n &&
        memcmp(PyUnicode_1BYTE_DATA(last), p, n) == 0) {
        Py_INCREF(last);
        return last;
    }
    PyObject *value = PyUnicode_DecodeLatin1(p, n, NULL);
    if (value != NULL) {
        Py_INCREF(value);
        Py_XSETREF(last_values[idx], value);
    }
    return value;
}

/* build_environ reads entries of the form: key index (1 byte; 255 = a literal name follows as
 * u16 length + bytes), u32 value length, value bytes. Values are latin-1, as PEP 3333 says.
 * Repeated header keys are joined with ",". */
PyObject *gw_build_environ(const char *buf, Py_ssize_t len) {
    PyObject *env = PyDict_Copy(environ_template);
    if (env == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    uint32_t seen = 0; /* indexes below FIRST_HEADER_KEY that the request set */
    while (p < end) {
        int idx = *p++;
        if (idx < FIRST_HEADER_KEY)
            seen |= 1u << idx;
        PyObject *key;
        if (idx == LITERAL_KEY) {
            Py_ssize_t n = p[0] | p[1] << 8;
            key = PyUnicode_DecodeLatin1((const char *)p + 2, n, NULL);
            p += 2 + n;
        } else {
            key = keys[idx];
            Py_INCREF(key);
        }
        Py_ssize_t n = read_u32(p);
        PyObject *value = idx == LITERAL_KEY ? PyUnicode_DecodeLatin1((const char *)p + 4, n, NULL)
                                             : cached_value(idx, (const char *)p + 4, n);
        p += 4 + n;
        if (key == NULL || value == NULL)
            goto fail;
        if (idx >= FIRST_HEADER_KEY) {
            PyObject *prev = PyDict_GetItemWithError(env, key);
            if (prev != NULL) {
                PyObject *joined = PyUnicode_Concat(prev, comma);
                Py_SETREF(joined, joined ? PyUnicode_Concat(joined, value) : NULL);
                Py_SETREF(value, joined);
                if (value == NULL)
                    goto fail;
            }
        }
        int rc = PyDict_SetItem(env, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc < 0)
            goto fail_env;
        continue;
    fail:
        Py_XDECREF(key);
        Py_XDECREF(value);
    fail_env:
        Py_DECREF(env);
        return NULL;
    }
    for (int i = 0; i < ALWAYS_SET_COUNT; i++) {
        /* A placeholder the request did not replace must not reach the app. */
        if (!(seen & (1u << always_set[i])) && PyDict_DelItem(env, keys[always_set[i]]) < 0) {
            Py_DECREF(env);
            return NULL;
        }
    }
    return env;
}

/* gw_environ_set_software puts SERVER_SOFTWARE in the template (RFC 3875 §4.1.17: every request
 * has it). It takes the GIL. */
int gw_environ_set_software(const char *software) {
    gw_enter();
    PyObject *value = PyUnicode_FromString(software);
    int rc = value != NULL ? PyDict_SetItemString(environ_template, "SERVER_SOFTWARE", value) : -1;
    Py_XDECREF(value);
    if (rc < 0)
        PyErr_Print();
    gw_leave();
    return rc;
}

/* gw_environ_setup makes the keys and the template; called once, with the GIL held. */
int gw_environ_setup(int multithread, int multiprocess) {
    for (int i = 0; i < KEY_COUNT; i++) {
        keys[i] = PyUnicode_InternFromString(key_names[i]);
        if (keys[i] == NULL)
            return -1;
    }
    comma = PyUnicode_InternFromString(",");
    PyObject *errors = PySys_GetObject("stderr");
    environ_template = Py_BuildValue(
        "{s(ii)sOsOsOsOsOsOss}", "wsgi.version", 1, 0, "wsgi.errors", errors ? errors : Py_None,
        "wsgi.multithread", multithread ? Py_True : Py_False, "wsgi.multiprocess",
        multiprocess ? Py_True : Py_False, "wsgi.run_once", Py_False, "wsgi.input_terminated",
        Py_True, "wsgi.file_wrapper", (PyObject *)&gw_file_wrapper_type, "SCRIPT_NAME", "");
    if (comma == NULL || environ_template == NULL)
        return -1;
    for (int i = 0; i < ALWAYS_SET_COUNT; i++) {
        if (PyDict_SetItem(environ_template, keys[always_set[i]], Py_None) < 0)
            return -1;
    }
    /* and wsgi.input, which gw_call_start sets */
    return PyDict_SetItemString(environ_template, "wsgi.input", Py_None);
}
