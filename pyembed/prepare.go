package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import "unsafe"

// LoggingError says that the Python logging configuration failed; Detail is the traceback.
type LoggingError struct{ Detail string }

func (e *LoggingError) Error() string { return "Failed to configure Python logging:\n" + e.Detail }

// Prepare hands the worker's settings for Python to the interpreter, as JSON (see
// bootstrap.py's _prepare), before the hooks and the app are imported: they configure the
// logging module and --spew at once, and say how LoadApp finds the app. It returns notes for the
// error log, one a line; a *LoggingError holds the traceback of the logging configuration that
// failed.
func Prepare(settings string) (string, error) {
	cfn, cs := C.CString("_prepare"), C.CString(settings)
	defer C.free(unsafe.Pointer(cfn))
	defer C.free(unsafe.Pointer(cs))
	var cerr *C.char
	out := C.gw_bootstrap_call(cfn, cs, &cerr)
	if out == nil {
		return "", &LoggingError{Detail: takeString(cerr)}
	}
	return takeString(out), nil
}
