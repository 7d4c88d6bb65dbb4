package worker

import (
	"runtime"
	"sync/atomic"
	"time"

	"gowsgi/balance"
	"gowsgi/httpwire"
	"gowsgi/wsgi"
)

// workerClass decides which OS thread runs Python for a request, and how many at once.
type workerClass interface {
	// dispatch runs the app for one request; it is called on the connection's goroutine and
	// returns when the response is written.
	dispatch(req *httpwire.Request, w httpwire.ResponseWriter)
	// admission is what the accept loop consults.
	admission() *admission
	// run occupies the main goroutine until a code arrives on exit, and returns it.
	run(exit <-chan int) int
}

func newWorkerClass(name string, threads, connections int, h *wsgi.Handler) workerClass {
	if name == "gevent" {
		return newGeventClass(connections, h)
	}
	if name == "gthread" {
		return &threadedClass{handler: h, slots: make(chan struct{}, threads),
			gate: admission{limit: int32(threads), progressing: h.Progressing}}
	}
	return newSyncClass(h)
}

// connAdopter is a worker class that serves connections itself once they have a request
// ready (see httpConn.serve).
type connAdopter interface {
	adopt(c *httpConn) bool
}

// attachEngine lets a worker class that runs its own event loop prepare it and take over the
// server's connections.
func attachEngine(class workerClass, srv *httpServer) error {
	if a, ok := class.(interface{ attach(*httpServer) error }); ok {
		return a.attach(srv)
	}
	return nil
}

// admission holds back the accept loop of a worker whose Python is busy and not visibly making
// progress — every request in it has run for slowRequest or longer — so that new connections
// go to workers that can serve them: a request stuck here strands nobody behind it. A worker
// busy with quick requests keeps accepting, or keep-alive clients would starve new ones.
type admission struct {
	limit int32
	busy  atomic.Int32 // requests in or waiting for Python
	// progressing reports whether no request is running in Python, or one started less than
	// a duration ago.
	progressing func(time.Duration) bool
	// stalled, when set, holds the accept loop back whatever the count while it reports that
	// Python has let work wait for a duration: under gevent, one greenlet that keeps the hub
	// stops every request of the worker.
	stalled func(time.Duration) bool
	// waiting counts requests handed to the worker class that have not reached Python yet
	// (the sync loop's inbox).
	waiting atomic.Int32
	// load, when set, is where the worker publishes busy plus waiting, its Python's work, for
	// the other workers (see yields).
	load *balance.Slot
}

const (
	// slowRequest is the age past which a running request no longer shows progress: longer
	// than almost any request takes, short enough that little queues behind one that hangs.
	slowRequest = 20 * time.Millisecond
	// admissionPoll is how often a held-back accept loop looks again.
	admissionPoll = 2 * time.Millisecond
)

// free reports whether the accept loop may take another connection now.
func (a *admission) free() bool {
	return !(a.busy.Load() >= a.limit && !a.progressing(slowRequest) || a.stalled != nil && a.stalled(slowRequest))
}

func (a *admission) waitFree() {
	for !a.free() {
		time.Sleep(admissionPoll)
	}
}

func (a *admission) enter() {
	a.busy.Add(1)
	a.publish()
}

func (a *admission) leave() {
	a.busy.Add(-1)
	a.publish()
}

// queued counts delta requests handed over towards Python, or taken from that queue.
func (a *admission) queued(delta int32) {
	a.waiting.Add(delta)
	a.publish()
}

// work is what the worker's Python has to do: requests running in it or waiting for it.
func (a *admission) work() int32 { return a.busy.Load() + a.waiting.Load() }

func (a *admission) publish() { a.load.PublishWork(int(a.work())) }

// yields reports whether the accept loop should leave the next connection to another worker
// for now: this worker's Python has no thread free, and another worker's Python, held or not,
// has less work. Its request would wait here behind the running ones while a Python with a
// shorter queue could serve it first: in a burst of slow requests, a worker whose request has
// only just started (and so looks free) would otherwise take every waiting connection.
func (a *admission) yields() bool {
	return a.work() >= a.limit && a.load.AheadInWork()
}

// maxYields bounds how many admissionPoll waits the accept loop makes in a row while it
// yields: a worker whose Python is only briefly ahead, or behind one that is stuck with a short
// queue, still takes a connection every slowRequest.
const maxYields = int(slowRequest / admissionPoll)

// waitWhileYielding waits, at most maxYields polls, while the loop yields.
func (a *admission) waitWhileYielding() {
	for i := 0; i < maxYields && a.yields(); i++ {
		time.Sleep(admissionPoll)
	}
}

// threadedClass runs up to --threads requests at once, each on its connection's goroutine
// locked to an OS thread for the request, with the thread's own Python thread state: no
// handoff between threads on the way in or out.
type threadedClass struct {
	handler *wsgi.Handler
	slots   chan struct{}
	gate    admission
}

func (t *threadedClass) dispatch(req *httpwire.Request, w httpwire.ResponseWriter) {
	t.gate.enter()
	t.slots <- struct{}{}
	runtime.LockOSThread()
	t.handler.Serve(req, w)
	runtime.UnlockOSThread()
	<-t.slots
	t.gate.leave()
}

func (t *threadedClass) admission() *admission { return &t.gate }

func (t *threadedClass) run(exit <-chan int) int { return <-exit }
