package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	_ "embed"
	"encoding/json"
	"strings"
	"unsafe"
)

//go:embed hooks.py
var hooksSource string

// The hooks a hooks module may define, by the names gunicorn gives them.
const (
	PostFork       = "post_fork"
	PostWorkerInit = "post_worker_init"
	PreRequest     = "pre_request"
	PostRequest    = "post_request"
	WorkerInt      = "worker_int"
	WorkerAbort    = "worker_abort"
	WorkerExit     = "worker_exit"
)

// HookLog receives what hook code writes through worker.log, and the traceback of a hook that
// raised; level is "debug", "info", "warning", "error" or "critical". It is called with the
// GIL released.
var HookLog = func(level, text string) {}

//export goHookLog
func goHookLog(level *C.char, text *C.char, n C.Py_ssize_t) {
	HookLog(C.GoString(level), C.GoStringN(text, C.int(n)))
}

// Hooks is an imported hooks module.
type Hooks struct {
	defined map[string]bool
}

// LoadHooks imports the hooks: sources are, one a line, module names and Python config files
// ("file:PATH", "python:MODULE"), a later one's functions replacing an earlier's. workerInfo is the worker object's description as JSON:
// {"age": N, "cfg": {setting: value, …}}. A *LoadError says why the module failed.
func LoadHooks(sources, workerInfo string) (*Hooks, error) {
	csrc, cm, cinfo := C.CString(hooksSource), C.CString(sources), C.CString(workerInfo)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cm))
	defer C.free(unsafe.Pointer(cinfo))
	var kind, msg *C.char
	names := C.gw_hooks_load(csrc, cm, cinfo, &kind, &msg)
	if names == nil {
		return nil, &LoadError{Kind: takeString(kind), Detail: takeString(msg)}
	}
	return definedHooks(names), nil
}

// PreloadedHooks returns, in a worker forked by the fork server of --preload, the hooks the
// fork server imported, given this worker's object (workerInfo, as LoadHooks takes it); nil
// when the fork server imported none. A *LoadError says why the worker object failed.
func PreloadedHooks(workerInfo string) (*Hooks, error) {
	if C.gw_zygote_state() != C.GW_ZYGOTE_FORKED || C.gw_zygote_hooks() == 0 {
		return nil, nil
	}
	cinfo := C.CString(workerInfo)
	defer C.free(unsafe.Pointer(cinfo))
	var msg *C.char
	names := C.gw_hooks_bind(cinfo, &msg)
	if names == nil {
		return nil, &LoadError{Kind: "import raised", Detail: takeString(msg)}
	}
	return definedHooks(names), nil
}

// definedHooks takes hooks.py's names of the hooks defined, one a line.
func definedHooks(names *C.char) *Hooks {
	h := &Hooks{defined: map[string]bool{}}
	for _, name := range strings.Split(takeString(names), "\n") {
		if name != "" {
			h.defined[name] = true
		}
	}
	return h
}

// Defines reports whether the module has the named hook.
func (h *Hooks) Defines(name string) bool { return h.defined[name] }

// SetApp makes the app the worker object's wsgi attribute.
func (h *Hooks) SetApp(app *App) { C.gw_hooks_set_app(app.obj) }

// Run calls one of the worker's own hooks (post_worker_init, worker_int, worker_abort,
// worker_exit) if the module defines it. It waits for the GIL.
func (h *Hooks) Run(name string) {
	if !h.defined[name] {
		return
	}
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	C.gw_hook_event(cname)
}

// HookRequest is the request object pre_request received, kept for post_request.
type HookRequest struct {
	obj *C.PyObject
}

// PreRequest makes the request object from fields (see AppendField: method, target, path,
// query, protocol, client address and port, scheme, then header names and values) and calls
// pre_request with it when the module defines it. Call it on the request's thread; io is the
// request's Go side, which under gevent names its greenlet.
func (h *Hooks) PreRequest(io IO, fields []byte) HookRequest {
	if hub != nil {
		return preRequestOnHub(io, fields)
	}
	return HookRequest{obj: C.gw_hook_pre_request(bytesPtr(fields), C.Py_ssize_t(len(fields)))}
}

// StartKeepingEnviron is Start for a request that post_request will see: the environ stays
// with the call until FinishHooked.
func (a *App) StartKeepingEnviron(environ []byte, contentLength int64, io IO) (*Call, Step) {
	return a.start(environ, contentLength, io, true)
}

// FinishHooked is Finish with post_request called after close(), with the request object,
// the environ and a response made from fields (body bytes sent in decimal, status, then header
// names and values).
func (call *Call) FinishHooked(interrupted bool, req HookRequest, fields []byte) string {
	if call.task != nil {
		return call.finishOnHub(interrupted, &req, fields)
	}
	err := takeString(C.gw_call_finish_hooked(call.c, cbool(interrupted), req.obj,
		bytesPtr(fields), C.Py_ssize_t(len(fields))))
	call.release()
	return err
}

// AppendField packs one field for PreRequest or FinishHooked: its length, then its bytes.
func AppendField[T string | []byte](b []byte, field T) []byte {
	n := uint32(len(field))
	b = append(b, byte(n), byte(n>>8), byte(n>>16), byte(n>>24))
	return append(b, field...)
}

func bytesPtr(b []byte) *C.char {
	if len(b) == 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// MasterHooks run the master hooks of a Python config file, in the process that runs them for
// the master, which has no Python. Their answers are JSON for the master: {"defined", "env"}
// from Load, {"env"} from Call, env being the variables the file or hook put in the
// environment, which workers inherit.
type MasterHooks struct {
	script *Script
}

// NewMasterHooks prepares the hooks' Python side; Load then loads them.
func NewMasterHooks() (*MasterHooks, error) {
	script, err := LoadScript(hooksSource)
	if err != nil {
		return nil, err
	}
	return &MasterHooks{script: script}, nil
}

// Load loads the master hooks of sources (as LoadHooks takes them), or loads them again in
// place on HUP; cfg is the settings hooks read as server.cfg, a JSON object. An error keeps
// the hooks loaded before.
func (m *MasterHooks) Load(sources, cfg string) (string, error) {
	request, _ := json.Marshal(map[string]any{"sources": sources, "cfg": json.RawMessage(cfg)})
	return m.script.Call("_master_load", string(request))
}

// Call runs one master hook: event is {"hook", "server": {"num_workers", "binds", "workers"},
// "worker", "new", "old"} as JSON. What the hook raises is logged through HookLog.
func (m *MasterHooks) Call(event string) (string, error) {
	return m.script.Call("_master_call", event)
}
