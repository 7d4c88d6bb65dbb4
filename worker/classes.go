package worker

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gowsgi/wsgi"
)

// workerClass decides which OS thread runs Python for a request, and how many at once.
type workerClass interface {
	// dispatch runs the app for one request; it is called on the connection's goroutine and
	// returns when the response is written. r is the connection's reservation.
	dispatch(req *wsgi.Request, w wsgi.ResponseWriter, r *reservation)
	// admission is what the accept loop consults.
	admission() *admission
	// run occupies the main goroutine until a code arrives on exit, and returns it.
	run(exit <-chan int) int
}

func newWorkerClass(name string, threads int, h *wsgi.Handler) workerClass {
	if name == "gthread" {
		return &threadedClass{handler: h, slots: make(chan struct{}, threads),
			gate: admission{limit: int32(threads)}}
	}
	return &syncClass{handler: h, jobs: make(chan *syncJob), gate: admission{limit: 1}}
}

// admission lets the worker accept a connection only while Python has room for its request,
// and reserves that room for the connection's first request; until then the worker accepts no
// other connection. So a worker whose Python is busy leaves new connections to workers that can
// serve them — a request stuck here strands nobody behind it — as under gunicorn, whose workers
// accept only when they can work. Requests queued behind others still count, so busy can pass
// limit.
type admission struct {
	limit int32
	busy  atomic.Int32 // requests in or waiting for Python, and reservations
}

const (
	// admissionPoll is how often a busy worker's accept loop looks again.
	admissionPoll = 2 * time.Millisecond
	// firstRequestWait is how long a new connection's reservation waits for its first
	// request. A client sends it right behind the handshake that completed the accept, so it
	// is normally there within a millisecond; a client that stalls delays the next accept by no
	// more than this.
	firstRequestWait = 10 * time.Millisecond
)

func (a *admission) waitFree() {
	for a.busy.Load() >= a.limit {
		time.Sleep(admissionPoll)
	}
}

// reservation is the room held for a new connection's first request.
type reservation struct {
	gate  *admission
	state atomic.Int32
}

const (
	reserved int32 = iota
	claimed
	released
)

func (a *admission) reserve() *reservation {
	a.busy.Add(1)
	r := &reservation{gate: a}
	time.AfterFunc(firstRequestWait, r.release)
	return r
}

func (r *reservation) release() {
	if r.state.CompareAndSwap(reserved, released) {
		r.gate.busy.Add(-1)
	}
}

// enter counts a request in, in its connection's reservation when that is still held.
func (a *admission) enter(r *reservation) {
	if !r.state.CompareAndSwap(reserved, claimed) {
		a.busy.Add(1)
	}
}

func (a *admission) leave() { a.busy.Add(-1) }

// syncClass runs every request on the main thread, the one that imported the app, as gunicorn's
// sync worker does: objects made at import time that check their thread (an sqlite3
// connection) keep working. Handing each request to that thread costs a goroutine switch;
// shared/design.md §2 measures it.
type syncClass struct {
	handler *wsgi.Handler
	jobs    chan *syncJob
	gate    admission
}

type syncJob struct {
	req  *wsgi.Request
	w    wsgi.ResponseWriter
	done chan struct{}
}

var syncJobPool = sync.Pool{New: func() any { return &syncJob{done: make(chan struct{}, 1)} }}

func (s *syncClass) dispatch(req *wsgi.Request, w wsgi.ResponseWriter, r *reservation) {
	job := syncJobPool.Get().(*syncJob)
	job.req, job.w = req, w
	s.gate.enter(r)
	s.jobs <- job
	<-job.done
	s.gate.leave()
	job.req, job.w = nil, nil
	syncJobPool.Put(job)
}

func (s *syncClass) admission() *admission { return &s.gate }

func (s *syncClass) run(exit <-chan int) int {
	for {
		select {
		case job := <-s.jobs:
			s.handler.Serve(job.req, job.w)
			job.done <- struct{}{}
		case code := <-exit:
			return code
		}
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

func (t *threadedClass) dispatch(req *wsgi.Request, w wsgi.ResponseWriter, r *reservation) {
	t.gate.enter(r)
	t.slots <- struct{}{}
	runtime.LockOSThread()
	t.handler.Serve(req, w)
	runtime.UnlockOSThread()
	<-t.slots
	t.gate.leave()
}

func (t *threadedClass) admission() *admission { return &t.gate }

func (t *threadedClass) run(exit <-chan int) int { return <-exit }
