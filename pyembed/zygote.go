package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// ZygoteOrdersEnv names the descriptor from which the fork server of --preload reads its
// orders (see ExecZygote); zygote.c looks for it before Go's runtime starts.
const ZygoteOrdersEnv = "GOWSGI_ZYGOTE_ORDERS"

// ZygoteOrders is what the fork server needs to load the app as a worker would. It runs before
// Go's runtime starts, so it cannot work any of it out itself.
type ZygoteOrders struct {
	// Control is the descriptor of the socket on which the master asks for workers. A worker
	// forked from the fork server finds its heartbeat pipe at that number.
	Control int
	// Options start the interpreter, as Initialize takes them.
	Options
	// Hide are variables the app must not see in os.environ, and Setenv -e's KEY=VALUE pairs,
	// which it must; Go's runtime in forked workers sees the environment as it was.
	Hide, Setenv []string
	// Gevent patches the standard library for gevent before the app is imported (PatchGevent).
	Gevent bool
	// Multithread and Multiprocess go to SetupWSGI, and Settings (JSON) to Prepare.
	Multithread, Multiprocess bool
	Settings                  string
	// Module, Attr, Call and Args name the app, as LoadApp takes them.
	Module, Attr string
	Call         bool
	Args         string
	// Hooks are the hooks module's sources, and HooksInfo a worker object, as LoadHooks takes
	// them; each forked worker gets its own object (PreloadedHooks).
	Hooks, HooksInfo string
	// ForkOnLoadError keeps the fork server forking workers when the app cannot be imported:
	// Preloaded gives them the *LoadError, which they serve until a file changes (--reload).
	ForkOnLoadError bool
}

// encode lays the orders out as zygote.c reads them: "key=value" entries, each ended by NUL;
// hide and setenv repeat.
func (o *ZygoteOrders) encode() []byte {
	exe := o.Executable
	if exe == "" {
		exe = BaseExecutable()
	}
	var b []byte
	add := func(key, value string) {
		b = append(append(append(append(b, key...), '='), value...), 0)
	}
	flag := func(key string, on bool) {
		add(key, strconv.Itoa(int(cbool(on))))
	}
	add("control", strconv.Itoa(o.Control))
	add("executable", exe)
	add("paths", strings.Join(o.Paths, "\n"))
	for _, name := range o.Hide {
		add("hide", name)
	}
	for _, pair := range o.Setenv {
		add("setenv", pair)
	}
	add("bootstrap", bootstrap)
	if o.Gevent {
		add("gevent", geventSource)
	}
	flag("multithread", o.Multithread)
	flag("multiprocess", o.Multiprocess)
	add("settings", o.Settings)
	if o.Hooks != "" {
		add("hooks", o.Hooks)
		add("hooks_source", hooksSource)
		add("hooks_info", o.HooksInfo)
	}
	add("module", o.Module)
	add("attr", o.Attr)
	flag("call", o.Call)
	add("args", o.Args)
	flag("fork_on_load_error", o.ForkOnLoadError)
	return b
}

// ExecZygote replaces this process with the fork server: the same binary, arguments and
// environment, with the orders in a memory file named by ZygoteOrdersEnv. It returns only when
// that fails.
func ExecZygote(o ZygoteOrders) error {
	fd, err := unix.MemfdCreate("gowsgi-zygote-orders", 0)
	if err != nil {
		return err
	}
	for text := o.encode(); len(text) > 0; {
		n, err := unix.Write(fd, text)
		if err != nil {
			unix.Close(fd)
			return err
		}
		text = text[n:]
	}
	env := append(os.Environ(), ZygoteOrdersEnv+"="+strconv.Itoa(fd))
	err = syscall.Exec("/proc/self/exe", os.Args, env)
	unix.Close(fd)
	return err
}

// A worker forked by the fork server starts Go's runtime with the environment the fork server
// was started with. The variables the master gave this worker alone (its number, its
// heartbeat and balance descriptors) came with the fork request, and are set here, before the
// packages that import this one read the environment.
func init() {
	if C.gw_zygote_state() != C.GW_ZYGOTE_FORKED {
		return
	}
	os.Unsetenv(ZygoteOrdersEnv)
	var n C.size_t
	env := C.gw_zygote_worker_env(&n)
	for _, pair := range strings.Split(C.GoStringN(env, C.int(n)), "\x00") {
		if key, value, ok := strings.Cut(pair, "="); ok {
			os.Setenv(key, value)
		}
	}
}

// Forked reports whether this process is a worker forked by the fork server.
func Forked() bool { return C.gw_zygote_state() == C.GW_ZYGOTE_FORKED }

// Preloaded returns, in a worker forked by the fork server, the app the fork server loaded
// and the notes its Prepare returned; it sets up crash reports as Initialize does, which the
// fork server undid for Go's runtime to start. The app is nil with the *LoadError when the
// fork server could not load it (ForkOnLoadError). In a fork server that could not load the
// app, it returns the error that the step that failed returns in a worker (*LoadError,
// *GeventMissing, *LoggingError, or the interpreter's). Anywhere else it returns nothing.
func Preloaded() (*App, string, error) {
	switch C.gw_zygote_state() {
	case C.GW_ZYGOTE_FORKED:
		C.gw_report_crashes()
		notes := C.GoString(C.gw_zygote_notes())
		if obj := C.gw_zygote_app(); obj != nil {
			return &App{obj: obj}, notes, nil
		}
		return nil, notes, zygoteFailure()
	case C.GW_ZYGOTE_FAILED:
		return nil, "", zygoteFailure()
	}
	return nil, "", nil
}

// HooksFailure says that the fork server could not import the hooks module.
type HooksFailure struct{ *LoadError }

// PreloadFailed reports whether this process is a fork server that could not load the app.
func PreloadFailed() bool { return C.gw_zygote_state() == C.GW_ZYGOTE_FAILED }

func zygoteFailure() error {
	var step *C.char
	var kind, detail *C.char
	C.gw_zygote_failure(&step, &kind, &detail)
	k, d := takeString(kind), takeString(detail)
	switch C.GoString(step) {
	case "gevent":
		if d == "" {
			return geventMissing()
		}
		return errors.New("cannot set up gevent: " + d)
	case "wsgi":
		return errWSGISetup
	case "prepare":
		return &LoggingError{Detail: d}
	case "app":
		return &LoadError{Kind: k, Detail: d}
	case "hooks":
		return &HooksFailure{&LoadError{Kind: k, Detail: d}}
	}
	return errors.New(d)
}
