package pyembed

/*
#include <stdlib.h>
#include <string.h>
#include "pyembed.h"

// gw_prepare calls the bootstrap's _prepare(settings) and returns the text it returned
// (malloc'd), or NULL with *err the traceback of what it raised.
static char *gw_prepare(const char *settings, char **err) {
    char *out = NULL;
    gw_enter();
    PyObject *r = PyObject_CallFunction(gw_bootstrap("_prepare"), "s", settings);
    const char *text = r != NULL ? PyUnicode_AsUTF8(r) : NULL;
    if (text != NULL)
        out = strdup(text);
    else
        *err = gw_format_exception();
    Py_XDECREF(r);
    gw_leave();
    return out;
}
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Prepare hands the worker's settings for Python to the interpreter, as JSON (see
// bootstrap.py's _prepare), before the hooks and the app are imported: they configure the
// logging module and --spew at once, and say how LoadApp finds the app. It returns notes for the
// error log, one a line; an error holds the traceback of the logging configuration that failed.
func Prepare(settings string) (string, error) {
	cs := C.CString(settings)
	defer C.free(unsafe.Pointer(cs))
	var cerr *C.char
	out := C.gw_prepare(cs, &cerr)
	if out == nil {
		return "", errors.New(takeString(cerr))
	}
	return takeString(out), nil
}
