package worker

import (
	"runtime"
	"sync"

	"gowsgi/wsgi"
)

// workerClass decides which OS thread runs Python for a request, and how many at once.
type workerClass interface {
	// dispatch runs the app for one request; it is called on the connection's goroutine and
	// returns when the response is written.
	dispatch(req *wsgi.Request, w wsgi.ResponseWriter)
	// run occupies the main goroutine until a code arrives on exit, and returns it.
	run(exit <-chan int) int
}

func newWorkerClass(name string, threads int, h *wsgi.Handler) workerClass {
	if name == "gthread" {
		return &threadedClass{handler: h, slots: make(chan struct{}, threads)}
	}
	return &syncClass{handler: h, jobs: make(chan *syncJob)}
}

// syncClass runs every request on the main thread, the one that imported the app, as gunicorn's
// sync worker does: objects made at import time that check their thread (an sqlite3
// connection) keep working. Handing each request to that thread costs a goroutine switch;
// shared/design.md §2 measures it.
type syncClass struct {
	handler *wsgi.Handler
	jobs    chan *syncJob
}

type syncJob struct {
	req  *wsgi.Request
	w    wsgi.ResponseWriter
	done chan struct{}
}

var syncJobPool = sync.Pool{New: func() any { return &syncJob{done: make(chan struct{}, 1)} }}

func (s *syncClass) dispatch(req *wsgi.Request, w wsgi.ResponseWriter) {
	job := syncJobPool.Get().(*syncJob)
	job.req, job.w = req, w
	s.jobs <- job
	<-job.done
	job.req, job.w = nil, nil
	syncJobPool.Put(job)
}

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
}

func (t *threadedClass) dispatch(req *wsgi.Request, w wsgi.ResponseWriter) {
	t.slots <- struct{}{}
	runtime.LockOSThread()
	t.handler.Serve(req, w)
	runtime.UnlockOSThread()
	<-t.slots
}

func (t *threadedClass) run(exit <-chan int) int { return <-exit }
