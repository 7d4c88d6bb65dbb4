// Package pyembed is gowsgi's own thin layer over the CPython C API, and the only package that
// knows it: interpreter start-up, thread states and the GIL, objects and errors. The published Go
// bindings target Python 3.7 and no longer compile against 3.9+, so this layer is ours.
package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	_ "embed"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"unsafe"
)

//go:embed bootstrap.py
var bootstrap string

// Options configures the interpreter.
type Options struct {
	// Executable is the python executable the interpreter takes as its own: it decides sys.prefix,
	// so a virtualenv's bin/python makes its pyvenv.cfg and site-packages count. Empty means the
	// interpreter beside the libpython this binary is linked with.
	Executable string
	// Paths go first on sys.path, in this order.
	Paths []string
}

// Initialize starts the interpreter. The calling goroutine must be locked to its OS thread, which
// becomes Python's main thread; the GIL is released on return.
func Initialize(opts Options) error {
	exe := opts.Executable
	if exe == "" {
		exe = BaseExecutable()
	}
	cexe := C.CString(exe)
	defer C.free(unsafe.Pointer(cexe))
	cboot := C.CString(bootstrap)
	defer C.free(unsafe.Pointer(cboot))
	cpaths := C.CString(strings.Join(opts.Paths, "\n"))
	defer C.free(unsafe.Pointer(cpaths))
	var cerr *C.char
	if C.gw_initialize(cexe, cboot, cpaths, &cerr) != 0 {
		return errors.New(takeString(cerr))
	}
	return nil
}

// Version is the embedded Python's version, such as "3.11.2".
func Version() string {
	v := C.GoString(C.gw_version())
	if i := strings.IndexByte(v, ' '); i > 0 {
		v = v[:i]
	}
	return v
}

// BaseExecutable is the python executable of the Python this binary embeds (linked in
// statically or found beside the shared libpython; see link_static.go and link_shared.go).
func BaseExecutable() string {
	v := Version()
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		v = parts[0] + "." + parts[1]
	}
	return baseExecutable(v)
}

// Describe says which Python this binary embeds, for --version.
func Describe() string {
	return fmt.Sprintf("Python %s (%s, %s)", Version(), BaseExecutable(), linkage())
}

// Executable is sys.executable of the running interpreter.
func Executable() string {
	defer lockThread()()
	C.gw_enter()
	defer C.gw_leave()
	return takeString(C.gw_sys_executable())
}

// lockThread keeps the calling goroutine on its OS thread until the function it returns is
// called: a thread state and the GIL belong to a thread, so gw_enter and the gw_leave after it,
// which are separate cgo calls, must run on the same one.
func lockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}

// LoadError says why the application could not be loaded.
type LoadError struct {
	// Kind is one of: module not found, import raised, attribute missing, not callable,
	// factory failed.
	Kind string
	// Detail is the Python message or traceback.
	Detail string
}

func (e *LoadError) Error() string { return e.Kind + ": " + e.Detail }

// App is the loaded WSGI callable.
type App struct {
	obj *C.PyObject
}

// LoadApp imports module and takes attr from it; with call set, attr is a factory called with
// the literal arguments in args.
func LoadApp(module, attr string, call bool, args string) (*App, error) {
	cm, ca, cargs := C.CString(module), C.CString(attr), C.CString(args)
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(ca))
	defer C.free(unsafe.Pointer(cargs))
	var kind, msg *C.char
	ccall := C.int(0)
	if call {
		ccall = 1
	}
	unlock := lockThread()
	C.gw_enter()
	obj := C.gw_load_app(cm, ca, ccall, cargs, &kind, &msg)
	C.gw_leave()
	unlock()
	if obj == nil {
		return nil, &LoadError{Kind: takeString(kind), Detail: takeString(msg)}
	}
	return &App{obj: obj}, nil
}

var errWSGISetup = errors.New("cannot prepare the WSGI environ (see the traceback above)")

// SetupWSGI prepares the environ constants every request shares.
func SetupWSGI(multithread, multiprocess bool) error {
	if C.gw_setup_wsgi(cbool(multithread), cbool(multiprocess)) != 0 {
		return errWSGISetup
	}
	return nil
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// takeString copies a malloc'd C string into Go and frees it.
func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.free(unsafe.Pointer(s))
	return C.GoString(s)
}

// AtExit runs the app's atexit functions and flushes sys.stdout and sys.stderr, as a Python
// process does when it exits. The caller must be locked to its OS thread.
func AtExit() { C.gw_at_exit() }
