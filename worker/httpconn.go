package worker

import (
	"net"
	"sync"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
)

// httpConn is one HTTP/1.1 connection as the worker serves it: the engine's connection, and
// what the process needs to know of it besides.
type httpConn struct {
	httpwire.Conn
	srv *httpServer
	// dispatching says the application has the request: a panic from there is the worker's
	// failure, not the engine's.
	dispatching bool
	// arriving: the accept counted the connection as work on its way to Python (see
	// httpServer.gate), until its first request reaches the worker class or it ends.
	arriving bool
}

// connPool recycles connections, with the engine's buffers and Request, so that a new
// connection costs no allocation beyond its address strings.
var connPool = sync.Pool{New: func() any { return new(httpConn) }}

func (s *httpServer) open(nc net.Conn) *httpConn {
	c := connPool.Get().(*httpConn)
	c.srv = s
	c.Open(s.wire, nc, s.scheme)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.preparing--
	s.mu.Unlock()
	return c
}

func (s *httpServer) release(c *httpConn) {
	s.forget(c)
	c.settleArrival()
	c.Reset()
	c.srv, c.dispatching = nil, false
	connPool.Put(c)
}

// serve answers requests on the connection until it must close, or until the server's adopter
// takes the connection over with a request ready (serve then returns true, and c belongs to
// the adopter).
func (c *httpConn) serve() (adopted bool) {
	for {
		if c.nextRequest() != nil {
			return false
		}
		if a := c.srv.adopter; a != nil && a.adopt(c) {
			return true
		}
		if !c.answer() {
			return false
		}
	}
}

// nextRequest reads the next request head, or the uwsgi packet of a server that speaks uwsgi,
// as httpwire.Conn.ReadRequest does, and logs what the engine refused. A uwsgi peer not
// allowed to send packets is refused here, unanswered.
func (c *httpConn) nextRequest() error {
	var err error
	if u := c.srv.uwsgi; u != nil {
		if !trusts(u.allow, c.NetConn()) {
			errorlog.Info("Refused a uwsgi connection from %s: not in --uwsgi-allow-from", c.NetConn().RemoteAddr())
			c.Close(false)
			return errUwsgiPeer
		}
		err = c.ReadUwsgiRequest()
	} else {
		err = c.ReadRequest()
	}
	switch e := err.(type) {
	case *httpwire.Refusal:
		c.srv.logRefused(c.Request(), e)
	case httpwire.UwsgiMalformed:
		errorlog.Info("Malformed uwsgi packet from %s: %s", c.NetConn().RemoteAddr(), e)
	}
	return err
}

// answer runs the application for the request nextRequest parsed and completes the response;
// it reports whether the connection serves another request.
func (c *httpConn) answer() bool {
	c.dispatchRequest()
	return c.Finish()
}

// settleArrival stops counting c as arriving work: its request has reached the worker class,
// or it ended.
func (c *httpConn) settleArrival() {
	if c.arriving {
		c.arriving = false
		c.srv.arrival(-1)
	}
}

// dispatchRequest runs the application for the request nextRequest parsed.
func (c *httpConn) dispatchRequest() {
	c.settleArrival()
	req, w := c.Begin()
	c.dispatching = true
	c.srv.dispatch(req, w)
	c.dispatching = false
}
