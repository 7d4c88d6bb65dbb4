package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
int gw_environ_set_software(const char *software);
*/
import "C"

import (
	"sync"
	"sync/atomic"
	"unsafe"
)

// IO is the Go side of one request, which Python calls back with the GIL released.
type IO interface {
	// ReadBody fills p with request body bytes; 0 and io.EOF at the end.
	ReadBody(p []byte) (int, error)
	// WriteNow sends body bytes from the app's write() callable at once; head is the packed
	// header when it has not been sent yet, else nil.
	WriteNow(head, body []byte) error
}

// StepKind says what a step of the response is.
type StepKind int

// The kinds of step.
const (
	StepError StepKind = C.GW_ERROR // the app failed; Err has the reason
	StepDone  StepKind = C.GW_DONE  // no more body
	StepChunk StepKind = C.GW_CHUNK // Data is the next body chunk
	StepFile  StepKind = C.GW_FILE  // FD is a file to send to its end
)

// Step is one piece of the response. Head and Data point into memory the call owns: they stay
// valid until the next Next or Finish.
type Step struct {
	Kind StepKind
	// Head is the status and headers packed as "STATUS\r\nName: value\r\n…" when
	// start_response stored new ones since the last step; nil otherwise.
	Head []byte
	Data []byte
	// NextReady says the next step runs no app code (the body is a list), so there is no
	// reason to push Data out before taking it.
	NextReady bool
	FD        int
	Err       string
	// Last says the body ends with Data: the next step would be StepDone, and need not be
	// taken (one call into Python less for a list body).
	Last bool
}

// Call is one request in flight. Calls are never freed, only reused: C names a call's Go side
// by its slot, a small number, where a cgo.Handle would cost an allocation and a map update per
// request (measured in BenchmarkServeHello).
type Call struct {
	c    *C.gw_call
	io   IO
	slot int // 1-based: C takes 0 for "no request"
	// step is in C memory, where C writes each step: a Go pointer passed on every call would
	// be checked by cgo each time.
	step *C.gw_step
	task *task // under gevent; nil otherwise
}

// calls holds every Call ever made, by slot, and those free for the next request.
var calls struct {
	mu    sync.Mutex
	free  []*Call
	count int
	// bySlot is replaced, never changed in place, when it grows: the callbacks read it
	// without the lock.
	bySlot atomic.Pointer[[]*Call]
}

func newCall() *Call {
	calls.mu.Lock()
	defer calls.mu.Unlock()
	if n := len(calls.free); n > 0 {
		call := calls.free[n-1]
		calls.free = calls.free[:n-1]
		return call
	}
	calls.count++
	call := &Call{slot: calls.count, step: (*C.gw_step)(C.calloc(1, C.sizeof_gw_step))}
	var grown []*Call
	if old := calls.bySlot.Load(); old != nil {
		grown = append(grown, *old...)
	}
	grown = append(grown, call)
	calls.bySlot.Store(&grown)
	return call
}

// callIO is the Go side of the call in slot.
func callIO(slot C.uintptr_t) IO { return (*calls.bySlot.Load())[slot-1].io }

// Start builds the environ from the packed buffer (see EnvironBuilder), calls the app and takes
// the first step of its response. The caller must hold its OS thread until Finish, so that the
// whole request runs on one Python thread state.
func (a *App) Start(environ []byte, contentLength int64, io IO) (*Call, Step) {
	return a.start(environ, contentLength, io, false)
}

func (a *App) start(environ []byte, contentLength int64, io IO, keepEnviron bool) (*Call, Step) {
	if hub != nil {
		return a.startOnHub(environ, contentLength, io, keepEnviron)
	}
	call := newCall()
	call.io = io
	var env *C.char
	if len(environ) > 0 {
		env = (*C.char)(unsafe.Pointer(&environ[0]))
	}
	call.c = C.gw_call_start(a.obj, env, C.Py_ssize_t(len(environ)), C.uintptr_t(call.slot),
		C.Py_ssize_t(contentLength), cbool(keepEnviron), call.step)
	return call, call.result()
}

// Next takes the next step of the response.
func (call *Call) Next() Step {
	if call.task != nil {
		return call.nextOnHub()
	}
	C.gw_call_next(call.c, call.step)
	return call.result()
}

// Finish calls close() on the response and releases the request. It returns close()'s
// traceback when close() raised. interrupted says Interrupt was called for this request: a
// RequestTimeout still pending then is withdrawn.
func (call *Call) Finish(interrupted bool) string {
	if call.task != nil {
		return call.finishOnHub(interrupted, nil, nil)
	}
	var err string
	if call.c != nil {
		err = takeString(C.gw_call_finish(call.c, cbool(interrupted)))
	}
	call.release()
	return err
}

func (call *Call) release() {
	call.c, call.io, call.task = nil, nil, nil
	calls.mu.Lock()
	calls.free = append(calls.free, call)
	calls.mu.Unlock()
}

func (call *Call) result() Step {
	s := call.step
	out := Step{Kind: StepKind(s.kind), FD: int(s.fd), NextReady: s.next_ready != 0, Last: s.last != 0}
	if s.head != nil {
		out.Head = unsafe.Slice((*byte)(unsafe.Pointer(s.head)), int(s.head_len))
	}
	if s.data != nil {
		out.Data = unsafe.Slice((*byte)(unsafe.Pointer(s.data)), int(s.len))
	}
	if s.err != nil {
		out.Err = takeString(s.err)
		s.err = nil
	}
	return out
}

// CurrentThread is the Python thread id (threading.get_ident()) of the calling OS thread; the
// caller must be locked to it.
func CurrentThread() uint64 { return uint64(C.PyThread_get_thread_ident()) }

// Interrupt raises RequestTimeout in the Python thread (or under gevent the greenlet: see
// ThreadOf) and returns its stack. It waits for the GIL, so it blocks for as long as something
// holds it.
func Interrupt(thread uint64) string {
	if hub != nil {
		return interruptOnHub(thread)
	}
	return takeString(C.gw_interrupt(C.ulong(thread)))
}

// Probe returns once it has held the GIL: proof that Python can make progress. The caller
// must be locked to its OS thread.
func Probe() { C.gw_probe() }

// SetServerSoftware gives every request's environ SERVER_SOFTWARE, the server's name and
// version ("gowsgi/1.2.3"), once the interpreter is set up for WSGI (SetupWSGI, or the fork
// server's).
func SetServerSoftware(software string) error {
	cs := C.CString(software)
	defer C.free(unsafe.Pointer(cs))
	if C.gw_environ_set_software(cs) != 0 {
		return errWSGISetup
	}
	return nil
}
