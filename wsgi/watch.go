package wsgi

import (
	"sync"
	"time"

	"gowsgi/errorlog"
	"gowsgi/pyembed"
)

// inFlight tracks the requests running in the app, for the request timeout and for the
// worker's heartbeat, which reports the oldest one.
type inFlight struct {
	mu       sync.Mutex
	requests []*exchange
}

func (f *inFlight) add(ex *exchange) {
	ex.start = time.Now()
	ex.thread = pyembed.ThreadOf(ex)
	f.mu.Lock()
	ex.slot = len(f.requests)
	f.requests = append(f.requests, ex)
	f.mu.Unlock()
}

// remove takes the request out, so that Watch can no longer interrupt it, and reports whether
// Watch did. Called without the GIL: Watch holds the lock while it waits for the GIL.
func (f *inFlight) remove(ex *exchange) (interrupted bool) {
	f.mu.Lock()
	last := f.requests[len(f.requests)-1]
	f.requests[ex.slot] = last
	last.slot = ex.slot
	f.requests = f.requests[:len(f.requests)-1]
	interrupted = !ex.interrupted.IsZero()
	ex.interrupted = time.Time{}
	f.mu.Unlock()
	return interrupted
}

// Busy describes the oldest request in flight.
type Busy struct {
	Start        time.Time
	Method, Path string
}

// Oldest returns the oldest request in flight, or nil when there is none. It needs no GIL, so
// it answers while Python is stuck.
func (h *Handler) Oldest() *Busy {
	f := &h.inFlight
	f.mu.Lock()
	defer f.mu.Unlock()
	var oldest *exchange
	for _, ex := range f.requests {
		if oldest == nil || ex.start.Before(oldest.start) {
			oldest = ex
		}
	}
	if oldest == nil {
		return nil
	}
	return oldest.busy()
}

// Progressing reports whether Python is making progress on requests: none is running, or one
// started less than age ago.
func (h *Handler) Progressing(age time.Duration) bool {
	f := &h.inFlight
	since := time.Now().Add(-age)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ex := range f.requests {
		if ex.start.After(since) {
			return true
		}
	}
	return len(f.requests) == 0
}

// Watch enforces the request timeout: a request running longer than timeout has its Python
// stack logged and RequestTimeout raised in its thread. It returns a request that is stuck:
// interrupted, and still running after grace — Python code would have seen the exception by
// then, so its thread is blocked in C and only replacing the worker frees it.
func (h *Handler) Watch(timeout, grace time.Duration) (stuck *Busy) {
	f := &h.inFlight
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ex := range f.requests {
		switch {
		case ex.interrupted.IsZero() && now.Sub(ex.start) > timeout:
			// The lock stays held, so the request cannot end and its thread move on to
			// another request before the exception is raised in it.
			stack := pyembed.Interrupt(ex.thread)
			ex.interrupted = time.Now()
			errorlog.Error("Request timed out after %.0f s: %s %s; interrupting it. Its stack:\n%s",
				now.Sub(ex.start).Seconds(), ex.req.Method, ex.req.RawURI, stack)
		case !ex.interrupted.IsZero() && now.Sub(ex.interrupted) > grace:
			stuck = ex.busy()
		}
	}
	return stuck
}

func (ex *exchange) busy() *Busy {
	return &Busy{Start: ex.start, Method: string(ex.req.Method), Path: string(ex.req.RawURI)}
}

// timedOut reports whether Watch interrupted the request.
func (f *inFlight) timedOut(ex *exchange) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return !ex.interrupted.IsZero()
}

// Probe returns once Python can make progress (see pyembed.Probe).
func Probe() { pyembed.Probe() }
