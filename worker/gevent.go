package worker

import (
	"time"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/wsgi"
)

// geventClass runs each request in a greenlet of its own on gevent's hub, which the main
// thread (the one that imported the app) runs; the request's goroutine does its client I/O
// and waits. --worker-connections bounds the requests in greenlets: the others wait here.
type geventClass struct {
	handler *wsgi.Handler
	slots   chan struct{}
	gate    admission
}

func newGeventClass(connections int, h *wsgi.Handler) *geventClass {
	g := &geventClass{handler: h, slots: make(chan struct{}, connections)}
	g.gate = admission{limit: int32(connections), progressing: h.Progressing, stalled: g.hubStalled}
	return g
}

// hubStalled holds the accept loop back while the hub keeps work waiting: a greenlet holds its
// thread, and a new connection would wait for it, where another worker could serve it. While
// requests run, the hub is given work to notice that by.
func (g *geventClass) hubStalled(d time.Duration) bool {
	if g.gate.busy.Load() > 0 {
		wsgi.PingHub()
	}
	return wsgi.HubStalled(d)
}

func (g *geventClass) dispatch(req *httpwire.Request, w httpwire.ResponseWriter) {
	g.gate.enter()
	g.slots <- struct{}{}
	g.handler.Serve(req, w)
	<-g.slots
	g.gate.leave()
}

func (g *geventClass) admission() *admission { return &g.gate }

// run runs the hub on the main thread until a code arrives on exit.
func (g *geventClass) run(exit <-chan int) int {
	code := make(chan int, 1)
	go func() {
		code <- <-exit
		wsgi.StopHub()
	}()
	if err := wsgi.RunHub(); err != nil {
		errorlog.Error("gevent's hub failed:\n%s", err)
		return ExitBootError
	}
	return <-code
}
