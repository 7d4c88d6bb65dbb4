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
	"os"
	"strings"
	"sync"
	"time"
	"unsafe"
)

//go:embed gevent.py
var geventSource string

// GeventMissing says that the embedded Python cannot import gevent.
type GeventMissing struct {
	// Version is the Python version ("3.11"), Executable its interpreter.
	Version, Executable string
}

func (e *GeventMissing) Error() string {
	return fmt.Sprintf("worker class gevent needs the gevent package for Python %s at %s", e.Version, e.Executable)
}

// hub is the Go side of gevent's hub, nil unless StartHub was called: then every request runs
// in a greenlet on the hub's thread, and the calls of this package post their work there.
var hub *hubState

type hubState struct {
	wakeups *os.File // the eventfd the hub writes when it posts tasks back
	mu      sync.Mutex
	tasks   []*task // by id
	free    []*task
	bound   map[IO]*task
	count   uint64 // requests so far, which numbers them
}

// task is one request's link to its greenlet: the connection's goroutine posts ops to the hub
// and waits on wake until the hub posts the task back. The C side is allocated by C, so that
// the hub may keep pointers to it.
type task struct {
	c    *C.gw_task
	wake chan struct{}
	io   IO
	gen  uint64
}

// PatchGevent applies gevent's monkey patching, as gunicorn's gevent worker does before it
// loads the app, so that the app's sleeps, sockets and locks yield to other greenlets. Call it
// after Initialize and before anything else imports modules, on the thread that will run the
// hub. A *GeventMissing means gevent is not installed.
func PatchGevent() error {
	csrc := C.CString(geventSource)
	defer C.free(unsafe.Pointer(csrc))
	var missing C.int
	if msg := takeString(C.gw_hub_setup(csrc, &missing)); msg != "" {
		return errors.New("cannot set up gevent: " + msg)
	}
	if missing != 0 {
		return geventMissing()
	}
	return nil
}

func geventMissing() *GeventMissing {
	v := Version()
	if parts := strings.SplitN(v, ".", 3); len(parts) >= 2 {
		v = parts[0] + "." + parts[1]
	}
	return &GeventMissing{Version: v, Executable: Executable()}
}

// StartHub sends every request from now on to gevent's hub, which RunHub then runs. Call it
// once, after PatchGevent and before serving.
func StartHub() error {
	fd := C.gw_hub_open()
	if fd < 0 {
		return errors.New("cannot make the eventfds that wake gevent's hub")
	}
	hub = &hubState{wakeups: os.NewFile(uintptr(fd), "gevent-hub"), bound: map[IO]*task{}}
	go hub.pump()
	return nil
}

// RunHub runs gevent's hub on the calling thread, which must be the one that imported the
// app, until StopHub.
func RunHub() error {
	if msg := takeString(C.gw_hub_run()); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// StopHub makes RunHub return; requests still in flight are abandoned.
func StopHub() { C.gw_hub_stop() }

// PingHub gives the hub something to do unless it has something already, so that HubStalled
// notices a hub that does not come back to its loop even when no request arrives.
func PingHub() {
	if hub != nil {
		C.gw_hub_ping()
	}
}

// HubStalled reports whether something posted to the hub has waited longer than d: a greenlet
// has kept the hub's thread, in a loop that does not yield or blocked in C. Always false
// without a hub.
func HubStalled(d time.Duration) bool {
	return hub != nil && time.Duration(C.gw_hub_pending_ms())*time.Millisecond > d
}

// ThreadOf names, for Interrupt, where the request whose Go side is io runs Python: the calling
// thread, or under gevent the request's greenlet.
func ThreadOf(io IO) uint64 {
	if hub == nil {
		return CurrentThread()
	}
	return uint64(hub.taskFor(io).c.id)
}

// pump wakes the goroutines whose tasks the hub posted back.
func (h *hubState) pump() {
	ids := make([]C.int, 512)
	var count [8]byte
	var woken []*task
	for {
		if _, err := h.wakeups.Read(count[:]); err != nil {
			panic("gevent hub: cannot read its eventfd: " + err.Error())
		}
		for {
			n := int(C.gw_hub_take(&ids[0], C.int(len(ids))))
			h.mu.Lock()
			for _, id := range ids[:n] {
				woken = append(woken, h.tasks[id])
			}
			h.mu.Unlock()
			for _, t := range woken {
				t.wake <- struct{}{}
			}
			woken = woken[:0]
			if n < len(ids) {
				break
			}
		}
	}
}

// taskFor returns the task of the request whose Go side is io, binding one to it on first use;
// release unbinds it.
func (h *hubState) taskFor(io IO) *task {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.bound[io]; t != nil {
		return t
	}
	var t *task
	if n := len(h.free); n > 0 {
		t, h.free = h.free[n-1], h.free[:n-1]
	} else {
		t = &task{c: (*C.gw_task)(C.calloc(1, C.size_t(unsafe.Sizeof(C.gw_task{})))), wake: make(chan struct{}, 1)}
		t.c.id = C.int(len(h.tasks))
		h.tasks = append(h.tasks, t)
	}
	h.count++
	t.gen, t.c.gen, t.io = h.count, C.uint64_t(h.count), io
	t.c.settled = 0
	h.bound[io] = t
	return t
}

func (h *hubState) release(t *task) {
	h.mu.Lock()
	delete(h.bound, t.io)
	t.io = nil
	h.free = append(h.free, t)
	h.mu.Unlock()
}

// run posts op to the hub and waits until the greenlet has run it, doing on the way the
// client I/O that wsgi.input and write() ask for: that is where Go blocks, not the hub.
func (t *task) run(op C.int) {
	t.c.op = op
	C.gw_hub_post(t.c)
	for {
		<-t.wake
		switch t.c.wake {
		case C.GW_WAKE_DONE:
			return
		case C.GW_WAKE_READ:
			buf := unsafe.Slice((*byte)(unsafe.Pointer(t.c.io_buf)), int(t.c.io_len))
			t.c.io_result = C.Py_ssize_t(readBody(t.io, buf))
		case C.GW_WAKE_WRITE:
			var head []byte
			if t.c.io_head != nil {
				head = unsafe.Slice((*byte)(unsafe.Pointer(t.c.io_head)), int(t.c.io_head_len))
			}
			t.c.io_result = 0
			if t.io.WriteNow(head, unsafe.Slice((*byte)(unsafe.Pointer(t.c.io_buf)), int(t.c.io_len))) != nil {
				t.c.io_result = -1
			}
		}
		t.c.op = C.GW_OP_RESUME
		C.gw_hub_post(t.c)
	}
}

// copyIn hands the hub a copy of b: Go memory must not be kept by C past a call.
func (t *task) copyIn(b []byte) {
	p := C.gw_task_reserve(t.c, C.Py_ssize_t(len(b)))
	if p == nil {
		panic("gevent hub: out of memory")
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(p)), len(b)), b)
}

// takeTaskStep takes the step the hub left in the task.
func (call *Call) takeTaskStep() Step {
	*call.step = call.task.c.step
	call.task.c.step.err = nil
	return call.result()
}

func (a *App) startOnHub(environ []byte, contentLength int64, io IO, keepEnviron bool) (*Call, Step) {
	t := hub.taskFor(io)
	t.copyIn(environ)
	t.c.app = a.obj
	t.c.content_length = C.Py_ssize_t(contentLength)
	t.c.flag = cbool(keepEnviron)
	t.run(C.GW_OP_START)
	call := newCall()
	call.c, call.task = t.c.call, t
	return call, call.takeTaskStep()
}

func (call *Call) nextOnHub() Step {
	if call.task.c.settled != 0 {
		return Step{Kind: StepDone} // the last step held the rest of the body
	}
	call.task.run(C.GW_OP_NEXT)
	return call.takeTaskStep()
}

func (call *Call) finishOnHub(interrupted bool, req *HookRequest, fields []byte) string {
	t := call.task
	t.c.flag = cbool(interrupted)
	switch {
	case req == nil && t.c.settled != 0:
		// The hub finished the call already.
	case req == nil:
		t.run(C.GW_OP_FINISH)
	default:
		t.copyIn(fields)
		t.c.hook_req = req.obj
		t.run(C.GW_OP_FINISH_HOOKED)
	}
	t.c.call = nil
	err := takeString(t.c.err)
	t.c.err = nil
	hub.release(t)
	call.release()
	return err
}

func (call *Call) readEnvironOnHub(keys *EnvironKeys) (*C.char, C.Py_ssize_t) {
	t := call.task
	t.c.keys = keys.c
	t.run(C.GW_OP_READ_ENVIRON)
	if t.c.out_len < 0 {
		return nil, 0
	}
	return t.c.out, t.c.out_len
}

func preRequestOnHub(io IO, fields []byte) HookRequest {
	t := hub.taskFor(io)
	t.copyIn(fields)
	t.run(C.GW_OP_PRE_REQUEST)
	req := HookRequest{obj: t.c.hook_req}
	t.c.hook_req = nil
	return req
}

// interruptOnHub is Interrupt for a request's greenlet.
func interruptOnHub(id uint64) string {
	hub.mu.Lock()
	t := hub.tasks[id]
	gen := t.gen
	hub.mu.Unlock()
	return takeString(C.gw_hub_interrupt(t.c, C.uint64_t(gen)))
}
