package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// ModuleFiles lists the file of every module imported so far and of those a failed load went
// through: what --reload watches. It takes the GIL and gives it back; the caller should stay on
// its OS thread, which keeps one Python thread state.
func ModuleFiles() []string {
	text := takeString(C.gw_module_files())
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}

// FailureApp is a WSGI app that answers every request with 500 and text: the app of a worker
// under --reload whose real app failed to load.
func FailureApp(text string) (*App, error) {
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	obj := C.gw_failure_app(ctext, C.Py_ssize_t(len(text)))
	if obj == nil {
		return nil, errors.New("cannot make the app that reports the load failure (see the traceback above)")
	}
	return &App{obj: obj}, nil
}
