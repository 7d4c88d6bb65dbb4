package worker

import (
	"net"
	"runtime/debug"
	"sync"
	"time"

	"gowsgi/accesslog"
	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/metrics"
)

// limits are what a worker holds its clients to: the HTTP/1.1 engine's limits, which HTTP/2
// requests are held to as well, and the bounds of an HTTP/2 client. A zero HTTP2 field leaves
// net/http's default, except MaxHeaderListSize, where 0 means no limit of its own.
type limits struct {
	httpwire.Limits
	HTTP2 config.HTTP2Limits
}

// newLimits maps the configuration onto the limits.
func newLimits(cfg *config.Config) limits {
	p := cfg.HTTPParsing
	return limits{
		Limits: httpwire.Limits{
			RequestLine: cfg.LimitRequestLine,
			Fields:      cfg.LimitRequestFields,
			FieldSize:   cfg.LimitRequestFieldSize,
			Keepalive:   time.Duration(cfg.Keepalive) * time.Second,
			Sendfile:    cfg.Sendfile,
			Parsing: httpwire.Parsing{
				PermitUnconventionalMethod:  p.PermitUnconventionalMethod,
				PermitUnconventionalVersion: p.PermitUnconventionalVersion,
				CasefoldMethod:              p.CasefoldMethod,
				StripHeaderSpaces:           p.StripHeaderSpaces,
				PermitObsoleteFolding:       p.PermitObsoleteFolding,
			},
		},
		HTTP2: cfg.HTTP2,
	}
}

// dispatchFunc runs the application for one request and returns when the response is written.
type dispatchFunc func(req *httpwire.Request, w httpwire.ResponseWriter)

// httpServer serves HTTP/1.1 on accepted connections and hands each request to dispatch.
type httpServer struct {
	// wire is the HTTP/1.1 engine its connections share.
	wire *httpwire.Engine
	// h2 bounds HTTP/2 clients, which are held to the engine's limits as well.
	h2       config.HTTP2Limits
	scheme   string
	dispatch dispatchFunc
	peers    peerPolicy
	uwsgi    *uwsgiPolicy // nil when the sockets speak HTTP
	// access is the access log, nil when off; the server logs the requests the engine refuses.
	access *accesslog.Logger
	// counts are the worker's metrics (nil when there is no table); the server counts the
	// requests the engine refuses, which the app's handler never sees.
	counts *metrics.Recorder
	tls    *tlsLayer // nil for plain HTTP
	// adopter, when set, may take over connections that have a request ready (see serve).
	adopter connAdopter

	mu    sync.Mutex
	conns map[*httpConn]struct{}
	// preparing counts the accepted connections still in their PROXY header or TLS handshake:
	// a graceful stop waits for them too, as their client may be about to send a request.
	preparing int
	drained   chan struct{} // closed when nothing is left, once someone waits for it
	// load is where the worker publishes how many connections it holds (conns, preparing and
	// h2Open), for the accept loops of all workers (package balance); nil when there is no
	// table. h2Open counts the connections the HTTP/2 server serves.
	load   *balance.Slot
	h2Open int
	// gate, when set, counts a connection from its accept until its first request reaches the
	// worker class, or it ends (httpConn.arriving), as work waiting for Python: a burst of new
	// connections then shows at once in what the worker publishes (see admission.yields).
	gate *admission
}

// arrival counts delta connections whose first request has not reached the worker class yet.
func (s *httpServer) arrival(delta int32) {
	if s.gate != nil {
		s.gate.queued(delta)
	}
}

func newHTTPServer(lim limits, scheme string, dispatch dispatchFunc) *httpServer {
	return &httpServer{
		wire:     httpwire.NewEngine(lim.Limits),
		h2:       lim.HTTP2,
		scheme:   scheme,
		dispatch: dispatch,
		conns:    make(map[*httpConn]struct{}),
	}
}

// serveConn serves one accepted connection until it closes; it runs on its own goroutine.
func (s *httpServer) serveConn(nc net.Conn) {
	s.accepted()
	s.serveAccepted(nc)
}

// accepted counts a connection just accepted, on the accept loop itself, so that the count the
// loop compares with the other workers' includes it before the next accept.
func (s *httpServer) accepted() {
	s.mu.Lock()
	s.preparing++
	s.publishLoadLocked()
	s.mu.Unlock()
	s.arrival(1)
}

// serveAccepted is serveConn for a connection already counted by accepted.
func (s *httpServer) serveAccepted(nc net.Conn) {
	nc, client, refusal := s.prepare(nc)
	if nc == nil {
		s.forget(nil)
		s.arrival(-1)
		return
	}
	c := s.open(nc)
	c.arriving = true
	s.peers.setPeer(c.Request(), nc, client)
	s.drive(c, func() bool {
		if refusal != nil {
			c.Refuse(refusal)
			return false
		}
		return c.serve()
	})
}

// drive runs serve for c on the calling goroutine and releases c after it, unless serve
// reports that the worker class adopted c: then c is no longer the caller's to touch.
func (s *httpServer) drive(c *httpConn, serve func() (adopted bool)) {
	adopted := false
	defer func() {
		if !adopted {
			s.release(c)
		}
	}()
	defer func() {
		if p := recover(); p != nil {
			if c.dispatching {
				panic(p) // the application side's failure is the worker's to handle
			}
			errorlog.Error("HTTP engine failure on a connection from %s: %v\n%s", c.Request().RemoteAddr, p, debug.Stack())
			c.NetConn().Close()
		}
	}()
	adopted = serve()
}

// prepare reads the PROXY header and runs the TLS handshake; it returns nil when the
// connection is gone or was handed to HTTP/2.
func (s *httpServer) prepare(nc net.Conn) (net.Conn, *httpwire.ProxyHeader, *httpwire.Refusal) {
	nc, client, refusal := s.peers.prepareConn(nc)
	if nc == nil {
		return nil, nil, nil
	}
	// A refused PROXY header is answered in plain text, before any handshake.
	if s.tls != nil && refusal == nil {
		if nc = s.tls.secure(nc, client); nc == nil {
			return nil, nil, nil
		}
	}
	return nc, client, refusal
}

// shutdown starts a graceful stop: busy connections close after their current response, idle
// ones after one more request or httpwire.DrainGrace without one. It returns at once.
func (s *httpServer) shutdown() {
	if s.tls != nil {
		s.tls.shutdown()
	}
	s.wire.Drain()
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(httpwire.DrainGrace)
	for c := range s.conns {
		if c.Idle() {
			c.NetConn().SetReadDeadline(deadline)
		}
	}
}

// closeConnections makes each HTTP/1.1 connection close after its current response, or after
// the next request of an idle one: for a worker that has stopped accepting because it asked to
// be replaced (--preload), so that its keep-alive clients move to the workers that accept,
// not wait for the master to stop this one.
func (s *httpServer) closeConnections() { s.wire.Drain() }

// wait blocks until every connection has closed or deadline passes, and reports whether all
// closed.
func (s *httpServer) wait(deadline time.Time) bool {
	if s.tls != nil && !s.tls.wait(deadline) {
		return false
	}
	s.mu.Lock()
	if len(s.conns) == 0 && s.preparing == 0 {
		s.mu.Unlock()
		return true
	}
	if s.drained == nil {
		s.drained = make(chan struct{})
	}
	drained := s.drained
	s.mu.Unlock()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-drained:
		return true
	case <-timer.C:
		return false
	}
}

// forget drops c from the connections served, or with c nil, a connection that ended (or went
// to HTTP/2) before it was served; the last one gone wakes wait.
func (s *httpServer) forget(c *httpConn) {
	s.mu.Lock()
	if c != nil {
		delete(s.conns, c)
	} else {
		s.preparing--
	}
	s.publishLoadLocked()
	if len(s.conns) == 0 && s.preparing == 0 && s.drained != nil {
		close(s.drained)
		s.drained = nil
	}
	s.mu.Unlock()
}

// publishLoad puts the worker's connection count in the balance table: once its accept loops
// run, and then whenever the count changes.
func (s *httpServer) publishLoad() {
	s.mu.Lock()
	s.publishLoadLocked()
	s.mu.Unlock()
}

func (s *httpServer) publishLoadLocked() { s.load.Publish(len(s.conns) + s.preparing + s.h2Open) }

// countH2 adds delta to the HTTP/2 connections open.
func (s *httpServer) countH2(delta int) {
	s.mu.Lock()
	s.h2Open += delta
	s.publishLoadLocked()
	s.mu.Unlock()
}
