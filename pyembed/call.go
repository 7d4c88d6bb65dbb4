package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	"runtime/cgo"
	"sync"
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
}

// Call is one request in flight.
type Call struct {
	c      *C.gw_call
	handle cgo.Handle
	step   C.gw_step
	task   *task // under gevent; nil otherwise
}

var callPool = sync.Pool{New: func() any { return new(Call) }}

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
	call := callPool.Get().(*Call)
	call.handle = cgo.NewHandle(io)
	var env *C.char
	if len(environ) > 0 {
		env = (*C.char)(unsafe.Pointer(&environ[0]))
	}
	call.c = C.gw_call_start(a.obj, env, C.Py_ssize_t(len(environ)), C.uintptr_t(call.handle),
		C.Py_ssize_t(contentLength), cbool(keepEnviron), &call.step)
	return call, call.result()
}

// Next takes the next step of the response.
func (call *Call) Next() Step {
	if call.task != nil {
		return call.nextOnHub()
	}
	C.gw_call_next(call.c, &call.step)
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
	if call.handle != 0 {
		call.handle.Delete()
	}
	*call = Call{}
	callPool.Put(call)
}

func (call *Call) result() Step {
	s := &call.step
	out := Step{Kind: StepKind(s.kind), FD: int(s.fd), NextReady: s.next_ready != 0}
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
