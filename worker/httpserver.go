package worker

import (
	"errors"
	"net"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"gowsgi/accesslog"
	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/httpwire"
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

const (
	// headerTimeout bounds how long a request head may take to arrive once it has started, and
	// how long a new connection may stay silent: a stalled client only holds its own goroutine.
	headerTimeout = 30 * time.Second
	// ioTimeout is how long a body read or a response write may make no progress.
	ioTimeout = 30 * time.Second
	// shutdownGrace is how long an idle connection stays open once a graceful stop begins: a
	// request the client sent before it could see the close is answered, with "Connection:
	// close", instead of being cut off. RFC 9112 §9.3.1 lets clients retry such a request, but
	// few do, and a reload would otherwise lose requests on busy keep-alive connections.
	shutdownGrace = time.Second
	// rearmSlack lets progress deadlines be refreshed at most every few seconds instead of on
	// every read or write: setting a deadline is cheap but not free.
	rearmSlack = 5 * time.Second
	// maxHeadBytes caps the buffer one request head may grow to, whatever the limits allow.
	maxHeadBytes = 2 << 20
	// readBufSize and writeBufSize hold a typical request head and answer whole; larger bodies
	// bypass them (reads straight into the app's buffer, writev of the app's chunks, sendfile),
	// which measured 1.3 GB/s uploads and 2.7–4.3 GB/s 10 MiB answers on loopback, so larger
	// buffers would only cost memory per connection.
	readBufSize  = 4096
	writeBufSize = 4096
)

// Connection states, as seen by shutdown: an idle connection waits for the first byte of a
// request and gets shutdownGrace to receive one; a busy one finishes its current response first.
const (
	connBusy int32 = iota
	connIdle
)

// dispatchFunc runs the application for one request and returns when the response is written.
type dispatchFunc func(req *httpwire.Request, w httpwire.ResponseWriter)

// httpServer serves HTTP/1.1 on accepted connections and hands each request to dispatch.
type httpServer struct {
	lim      limits
	headMax  int
	scheme   string
	dispatch dispatchFunc
	peers    peerPolicy
	uwsgi    *uwsgiPolicy // nil when the sockets speak HTTP
	// access is the access log, nil when off; the engine logs the requests it refuses itself.
	access *accesslog.Logger
	tls    *tlsLayer // nil for plain HTTP
	// adopter, when set, may take over connections that have a request ready (see serve).
	adopter connAdopter

	// closing says the worker is on its way out: a connection serves its current request, or
	// one more if it is idle, and closes (see shutdown and closeConnections).
	closing atomic.Bool

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
	if lim.RequestLine <= 0 {
		lim.RequestLine = 8190
	}
	if lim.Fields <= 0 {
		lim.Fields = 32768
	}
	if lim.FieldSize <= 0 {
		lim.FieldSize = 65534
	}
	startDateClock()
	headMax := lim.RequestLine + 2 + lim.Fields*(lim.FieldSize+2) + 2
	if headMax > maxHeadBytes || headMax < 0 {
		headMax = maxHeadBytes
	}
	return &httpServer{
		lim:      lim,
		headMax:  headMax,
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
	c.setPeer(client)
	s.drive(c, func() bool {
		if refusal != nil {
			c.appendError(refusal)
			c.close(true)
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
			errorlog.Error("HTTP engine failure on a connection from %s: %v\n%s", c.req.RemoteAddr, p, debug.Stack())
			c.nc.Close()
		}
	}()
	adopted = serve()
}

// prepare reads the PROXY header and runs the TLS handshake; it returns nil when the
// connection is gone or was handed to HTTP/2.
func (s *httpServer) prepare(nc net.Conn) (net.Conn, *httpwire.ProxyHeader, *requestError) {
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
// ones after one more request or shutdownGrace without one. It returns at once.
func (s *httpServer) shutdown() {
	if s.tls != nil {
		s.tls.shutdown()
	}
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	deadline := time.Now().Add(shutdownGrace)
	for c := range s.conns {
		if c.state.Load() == connIdle {
			c.nc.SetReadDeadline(deadline)
		}
	}
}

// closeConnections makes each HTTP/1.1 connection close after its current response, or after
// the next request of an idle one: for a worker that has stopped accepting because it asked to
// be replaced (--preload), so that its keep-alive clients move to the workers that accept,
// not wait for the master to stop this one.
func (s *httpServer) closeConnections() { s.closing.Store(true) }

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

// httpConn is one connection's state. Everything a request needs lives here and is reused from
// request to request, so a keep-alive request allocates nothing in the engine.
type httpConn struct {
	srv   *httpServer
	nc    net.Conn
	state atomic.Int32 // connIdle or connBusy, read by shutdown

	// buf holds received bytes; buf[r:w] are not consumed yet. Request heads are parsed in
	// place, so the Request's slices point into buf.
	buf  []byte
	r, w int

	req  httpwire.Request
	head headInfo
	body requestBody
	resp responseWriter

	// wbuf collects output until it is flushed; werr is the first write error, after which the
	// connection only closes.
	wbuf []byte
	werr error
	iov  net.Buffers
	iovs [3][]byte

	// requestLine holds Method and RawURI once body reads need the bytes they pointed to
	// (for uwsgi, Path and Query as well); lineInBuf says they still point into buf.
	requestLine []byte
	lineInBuf   bool
	lineEnds    []int32 // of the current head, from readHead for parseHead

	readDeadline, writeDeadline time.Time
	requests                    int
	dispatching                 bool
	// arriving: the accept counted the connection as work on its way to Python (see
	// httpServer.gate), until its first request reaches the worker class or it ends.
	arriving bool
}

// connPool recycles connection state (buffers, the Request and its header slice) so that a new
// connection costs no allocation beyond its address strings.
var connPool = sync.Pool{New: func() any {
	c := &httpConn{wbuf: make([]byte, 0, writeBufSize)}
	c.body.c = c
	c.resp.c = c
	return c
}}

func (s *httpServer) open(nc net.Conn) *httpConn {
	c := connPool.Get().(*httpConn)
	c.srv = s
	c.nc = nc
	if c.buf == nil {
		c.buf = make([]byte, readBufSize)
	}
	c.requests = 0
	c.state.Store(connIdle)
	c.req.Body = &c.body
	c.setAddresses(s.scheme)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.preparing--
	s.mu.Unlock()
	return c
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

func (s *httpServer) release(c *httpConn) {
	s.forget(c)
	c.settleArrival()

	clear(c.req.Header[:cap(c.req.Header)])
	c.req = httpwire.Request{Header: c.req.Header[:0]}
	c.resp.reset(0)
	c.body.reset(0, false, false)
	if len(c.buf) != readBufSize {
		c.buf = nil
	}
	if cap(c.wbuf) > 4*writeBufSize {
		c.wbuf = make([]byte, 0, writeBufSize)
	}
	c.wbuf = c.wbuf[:0]
	c.r, c.w = 0, 0
	c.nc, c.srv, c.werr = nil, nil, nil
	c.readDeadline, c.writeDeadline = time.Time{}, time.Time{}
	c.dispatching, c.lineInBuf = false, false
	connPool.Put(c)
}

// setAddresses fills the connection's constant Request fields. For unix sockets, SERVER_NAME is
// the socket path and SERVER_PORT the scheme's default port, as gunicorn reports them.
func (c *httpConn) setAddresses(scheme string) {
	c.req.Scheme = scheme
	switch a := c.nc.LocalAddr().(type) {
	case *net.TCPAddr:
		c.req.ServerName, c.req.ServerPort = a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		c.req.ServerName, c.req.ServerPort = a.Name, "80"
		if scheme == "https" {
			c.req.ServerPort = "443"
		}
	default:
		c.req.ServerName, c.req.ServerPort = splitAddr(a)
	}
	switch a := c.nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		c.req.RemoteAddr, c.req.RemotePort = a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		c.req.RemoteAddr, c.req.RemotePort = "", ""
	default:
		c.req.RemoteAddr, c.req.RemotePort = splitAddr(a)
	}
}

func splitAddr(a net.Addr) (host, port string) {
	if a == nil {
		return "", ""
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	return host, port
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

// errClosed is what nextRequest returns once it has closed the connection.
var errClosed = errors.New("connection closed")

// nextRequest reads and parses the next request head. On failure the connection is closed,
// after an answer when the request was malformed, and errClosed returned; errWouldBlock means
// that a connection in non-blocking mode has no complete head yet, and is left as it was.
func (c *httpConn) nextRequest() error {
	if c.srv.uwsgi != nil {
		return c.nextUwsgiRequest()
	}
	n, rerr, err := c.readHead()
	if err == errWouldBlock {
		return err
	}
	if err != nil {
		c.close(false)
		return errClosed
	}
	if rerr == nil {
		rerr = parseHead(c.buf[c.r:c.r+n], c.lineEnds, &c.req, &c.head)
	}
	if rerr != nil {
		c.appendError(rerr)
		c.logRefused(rerr)
		c.close(true)
		return errClosed
	}
	c.r += n
	c.lineInBuf = true
	c.requests++
	return nil
}

// answer runs the application for the request nextRequest parsed and completes the response;
// it reports whether the connection serves another request.
func (c *httpConn) answer() bool {
	c.dispatchRequest()
	return c.finishRequest()
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
	c.body.reset(c.req.ContentLength, c.req.ContentLength < 0, c.head.expectContinue)
	c.resp.reset(len(c.wbuf))
	c.resp.active = true
	if c.body.expect {
		c.flushOutput() // earlier responses must precede "100 Continue"
	}
	c.dispatching = true
	c.srv.dispatch(&c.req, &c.resp)
	c.dispatching = false
}

// finishRequest completes the response, drains what the application left of the request body
// and reports whether the connection serves another request.
func (c *httpConn) finishRequest() bool {
	keep := c.resp.finish()
	c.resp.active = false
	if keep && !c.body.drain() {
		keep = false
	}
	if !keep {
		c.close(!c.body.done || c.r < c.w)
		return false
	}
	return true
}

// close flushes what is left of the output and closes the connection. With linger, the read
// side is drained briefly after the write side is shut, so that unread request bytes do not make
// the kernel reset the connection before the client has read the answer.
func (c *httpConn) close(linger bool) {
	c.flushOutput()
	if linger && c.werr == nil {
		if tc, ok := c.nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
			c.nc.SetReadDeadline(time.Now().Add(time.Second))
			for drained := 0; drained < 256<<10; {
				n, err := c.nc.Read(c.buf)
				drained += n
				if err != nil {
					break
				}
			}
		}
	}
	c.nc.Close()
}

// armRead makes sure a read may block for about ioTimeout, refreshing the deadline only when
// the current one is close.
func (c *httpConn) armRead() {
	now := time.Now()
	if c.readDeadline.Sub(now) < ioTimeout-rearmSlack {
		c.readDeadline = now.Add(ioTimeout)
		c.nc.SetReadDeadline(c.readDeadline)
	}
}

// armWrite is armRead for writes.
func (c *httpConn) armWrite() {
	now := time.Now()
	if c.writeDeadline.Sub(now) < ioTimeout-rearmSlack {
		c.writeDeadline = now.Add(ioTimeout)
		c.nc.SetWriteDeadline(c.writeDeadline)
	}
}

// flushOutput writes the buffered output, except a header that is only queued: that one may
// still be replaced.
func (c *httpConn) flushOutput() error {
	if c.werr != nil {
		return c.werr
	}
	n := len(c.wbuf)
	if c.resp.active && !c.resp.committed {
		n = c.resp.start
	}
	if n == 0 {
		return nil
	}
	c.armWrite()
	if _, err := c.nc.Write(c.wbuf[:n]); err != nil {
		c.werr = err
		return err
	}
	c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[n:])]
	c.resp.start = max(c.resp.start-n, 0)
	return nil
}

// currentDate is the Date header line, formatted once a second by one goroutine so that a
// response only copies it.
var (
	currentDate   atomic.Pointer[[]byte]
	dateClockOnce sync.Once
)

func startDateClock() {
	dateClockOnce.Do(func() {
		setDate(time.Now())
		go func() {
			for {
				now := time.Now()
				time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
				setDate(time.Now())
			}
		}()
	})
}

func setDate(now time.Time) {
	line := now.UTC().AppendFormat([]byte("Date: "), "Mon, 02 Jan 2006 15:04:05 GMT")
	line = append(line, crlf...)
	currentDate.Store(&line)
}

func appendDate(w []byte) []byte { return append(w, *currentDate.Load()...) }
