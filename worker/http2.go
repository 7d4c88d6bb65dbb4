package worker

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
)

// proto2 is SERVER_PROTOCOL for HTTP/2 requests.
const proto2 = "HTTP/2"

// h2Server serves the connections whose TLS handshake chose HTTP/2 with the HTTP/2 server of
// Go's net/http, which owns the framing, flow control and HPACK. Its handler turns each
// request into an httpwire.Request and goes through the same dispatch as HTTP/1.1, so the worker
// class decides which thread runs the app, and the engine's limits apply to both protocols.
type h2Server struct {
	srv    *http.Server
	engine *httpServer
	queue  *connQueue
	// clients holds the PROXY header of each connection handed over until net/http starts
	// serving it: the connection itself must stay a *tls.Conn for net/http to speak HTTP/2.
	clients  sync.Map
	lim      httpwire.Limits
	dispatch dispatchFunc
	stopOnce sync.Once
	stopped  chan struct{} // closed when a graceful stop has closed every connection
}

// newH2Server makes the HTTP/2 server of engine. gunicorn's four HTTP/2 settings are what
// net/http advertises in its SETTINGS frame, and enforces, with these differences:
//   - --http2-initial-window-size is each stream's receive window, as in gunicorn. gunicorn
//     leaves the connection's window at 65535 and gives both back as soon as data arrives, so
//     they only pace the network; net/http gives them back as the app reads the body, so they
//     bound what a worker buffers. The connection's window is net/http's 1 MiB, or the stream
//     window when larger, so that one stream can use all of its own.
//   - --http2-max-header-list-size: a request over it is answered 431 on its stream, where
//     gunicorn's h2 library ends the whole connection. net/http counts the limit from
//     MaxHeaderBytes, see h2HeaderBytes; 0 leaves the HTTP/1.1 head limits (--limit-request-*),
//     not no limit at all.
//   - --http2-max-concurrent-streams and --http2-max-frame-size mean the same in both.
func newH2Server(engine *httpServer) *h2Server {
	s := &h2Server{
		engine:   engine,
		queue:    newConnQueue(),
		lim:      engine.wire.Limits(),
		dispatch: engine.dispatch,
		stopped:  make(chan struct{}),
	}
	idle := s.lim.Keepalive
	if idle <= 0 {
		idle = httpwire.DrainGrace // HTTP/2 has no connection per request: close soon after the last
	}
	h2 := engine.h2
	s.srv = &http.Server{
		Handler:        s,
		MaxHeaderBytes: h2HeaderBytes(h2.MaxHeaderListSize, engine.wire.HeadMax()),
		IdleTimeout:    idle,
		ConnContext:    s.withConnAddresses,
		ConnState:      s.countConn,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          h2.MaxConcurrentStreams,
			MaxReadFrameSize:              h2.MaxFrameSize,
			MaxReceiveBufferPerStream:     h2.InitialWindowSize,
			MaxReceiveBufferPerConnection: max(h2.InitialWindowSize, h2ConnWindow),
			WriteByteTimeout:              httpwire.IOTimeout,
		},
		// Protocol errors are the clients' to worry about; the handler reports its own failures.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go s.srv.Serve(s.queue)
	return s
}

// h2ConnWindow is net/http's own receive window for a connection.
const h2ConnWindow = 1 << 20

// h2HeaderSlop is what net/http adds to MaxHeaderBytes for SETTINGS_MAX_HEADER_LIST_SIZE: 32
// bytes, the per-field overhead of RFC 9113 §6.5.2, for 10 fields.
const h2HeaderSlop = 10 * 32

// h2HeaderBytes is the MaxHeaderBytes that makes net/http advertise and enforce limit as
// SETTINGS_MAX_HEADER_LIST_SIZE, or the HTTP/1.1 head limit headMax for 0 (no limit of its own).
// net/http cannot go below h2HeaderSlop+1 bytes, so a smaller limit acts as that.
func h2HeaderBytes(limit, headMax int) int {
	if limit == 0 {
		return headMax
	}
	return max(limit-h2HeaderSlop, 1)
}

// serve hands over a connection whose handshake chose h2; client is what its PROXY header said,
// or nil.
func (s *h2Server) serve(c *tls.Conn, client *httpwire.ProxyHeader) {
	if client != nil {
		s.clients.Store(c, client)
	}
	s.queue.push(c)
}

// countConn keeps the engine's count of HTTP/2 connections, which the worker's connection count
// for balancing includes.
func (s *h2Server) countConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.engine.countH2(1)
	case http.StateClosed, http.StateHijacked:
		s.engine.countH2(-1)
	}
}

// shutdown starts a graceful stop: each connection gets GOAWAY, finishes the streams it has
// open and closes. It returns at once.
func (s *h2Server) shutdown() {
	s.stopOnce.Do(func() {
		go func() {
			s.srv.Shutdown(context.Background())
			close(s.stopped)
		}()
	})
}

// wait blocks until every connection has closed or deadline passes, and reports whether all
// closed.
func (s *h2Server) wait(deadline time.Time) bool {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-s.stopped:
		return true
	case <-timer.C:
		return false
	}
}

// h2ConnKey finds a connection's h2Conn in its requests' context.
type h2ConnKey struct{}

// withConnAddresses starts the h2Conn of a connection. It works out the addresses and the
// trust of the connection once, by the HTTP/1.1 engine's own rules, so that both protocols
// report them alike.
func (s *h2Server) withConnAddresses(ctx context.Context, nc net.Conn) context.Context {
	conn := &h2Conn{nc: nc, resetBudget: h2ResetBudget(s.engine.h2.MaxConcurrentStreams)}
	conn.addrs.SetAddresses(nc.LocalAddr(), nc.RemoteAddr(), "https")
	client, _ := s.clients.LoadAndDelete(nc)
	header, _ := client.(*httpwire.ProxyHeader)
	s.engine.peers.setPeer(&conn.addrs, nc, header)
	if tc, ok := nc.(*tls.Conn); ok {
		conn.nc = tc.NetConn() // closing the socket itself cannot wait on a close_notify alert
	}
	return context.WithValue(ctx, h2ConnKey{}, conn)
}

// h2ResetWindow is the time over which a connection's streams cut short are counted against
// its h2ResetBudget: a window opens at the first such stream after the last window ran out.
const h2ResetWindow = 10 * time.Second

// h2ResetBudget is how many streams a client may cut short within h2ResetWindow: enough to
// cancel every stream it may open twice over, as a browser leaving a page does, and never fewer
// than 100. net/http only bounds the streams whose handlers are still to start (CVE-2023-44487),
// which leaves a client free to open and reset streams as fast as the app answers them: each
// one costs the app a request, the client a few bytes.
func h2ResetBudget(maxStreams int) int {
	return max(2*maxStreams, 100)
}

// h2Conn is what the requests of one HTTP/2 connection share: its addresses, and the count of
// its streams that ended before their response did, which cuts the connection off when it
// goes over budget.
type h2Conn struct {
	addrs       httpwire.Request
	nc          net.Conn
	resetBudget int

	mu          sync.Mutex
	windowStart time.Time
	resets      int
	cut         bool
}

// streamCutShort counts a stream that ended while its handler still had to answer it: the
// client reset it, or net/http did on a protocol error of the client's. Over budget, the
// connection closes, which ends every stream on it and the handlers' waits for its client.
func (c *h2Conn) streamCutShort() {
	now := time.Now()
	c.mu.Lock()
	if now.Sub(c.windowStart) > h2ResetWindow {
		c.windowStart, c.resets = now, 0
	}
	c.resets++
	cutNow := c.resets > c.resetBudget && !c.cut
	c.cut = c.cut || cutNow
	c.mu.Unlock()
	if cutNow {
		errorlog.Debug("HTTP/2 client %s ended over %d streams early within %s: connection closed",
			net.JoinHostPort(c.addrs.RemoteAddr, c.addrs.RemotePort), c.resetBudget, h2ResetWindow)
		c.nc.Close()
	}
}

// h2Exchange is one HTTP/2 request on its way through the app, recycled between requests.
type h2Exchange struct {
	req  httpwire.Request
	resp h2Response
	body h2Body
	// names holds the method, target and header names and values of the request, which
	// httpwire.Request wants as bytes; spans says where each header is in it.
	names []byte
	spans []h2HeaderSpan
}

// h2HeaderSpan is the length of a header's name and value in h2Exchange.names.
type h2HeaderSpan struct{ name, value int }

var h2ExchangePool = sync.Pool{New: func() any { return new(h2Exchange) }}

// h2NamesKept is the most of h2Exchange.names kept for the next request, what an HTTP/1.1
// head takes in the engine's read buffer: one request with huge headers should not pin its
// buffer.
const h2NamesKept = 4096

// ServeHTTP runs one request. A panic on the application side ends the worker, as it does for
// HTTP/1.1, instead of being swallowed by net/http with the worker in an unknown state.
func (s *h2Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ex := h2ExchangePool.Get().(*h2Exchange)
	reset := s.run(ex, w, r)
	ex.req = httpwire.Request{Header: ex.req.Header[:0]}
	ex.resp = h2Response{}
	ex.body = h2Body{}
	if cap(ex.names) > h2NamesKept {
		ex.names = nil
	}
	h2ExchangePool.Put(ex)
	if reset {
		panic(http.ErrAbortHandler) // resets the stream: the only way to say "incomplete"
	}
}

func (s *h2Server) run(ex *h2Exchange, w http.ResponseWriter, r *http.Request) (reset bool) {
	defer func() {
		if p := recover(); p != nil {
			errorlog.Error("Worker failed while serving an HTTP/2 request from %s: %v\n%s", r.RemoteAddr, p, debug.Stack())
			os.Exit(2)
		}
	}()
	conn := r.Context().Value(h2ConnKey{}).(*h2Conn)
	// Until the response is complete, a stream that ends was cut short. It counts as it ends,
	// not once the app is done with it, so that a client cannot go on resetting streams while
	// the app works through the ones it has already reset.
	watch := context.AfterFunc(r.Context(), conn.streamCutShort)
	defer watch()
	if r.Context().Err() != nil {
		return false // reset before its handler started: the app would answer no one
	}
	if rerr := s.readRequest(ex, &conn.addrs, r); rerr != nil {
		writeH2Error(w, rerr)
		return false
	}
	rc := http.NewResponseController(w)
	ex.body = h2Body{body: r.Body}
	if r.Body != http.NoBody {
		ex.body.rc = rc
	}
	ex.req.Body = &ex.body
	ex.resp = h2Response{w: w, rc: rc, isHead: r.Method == "HEAD", contentLength: -1, complete: watch}
	s.dispatch(&ex.req, &ex.resp)
	return ex.resp.finish()
}

// readRequest fills ex.req from r, received on a connection with addrs, applying the engine's
// limits to what net/http let through. Header names with "_" are dropped, as on HTTP/1.1.
func (s *h2Server) readRequest(ex *h2Exchange, addrs *httpwire.Request, r *http.Request) *httpwire.Refusal {
	req := &ex.req
	req.RemoteAddr, req.RemotePort = addrs.RemoteAddr, addrs.RemotePort
	req.ServerName, req.ServerPort, req.Scheme = addrs.ServerName, addrs.ServerPort, addrs.Scheme
	req.TrustedPeer = addrs.TrustedPeer
	req.ProxyProtocol, req.ProxyAddr, req.ProxyPort = addrs.ProxyProtocol, addrs.ProxyAddr, addrs.ProxyPort
	req.Proto = proto2
	req.ContentLength = r.ContentLength
	if len(r.Method)+1+len(r.RequestURI)+1+len(proto2) > s.lim.RequestLine {
		return httpwire.ErrLineTooLong
	}
	// Everything goes into one buffer first, then gets sliced: appending may move it.
	ex.names = append(ex.names[:0], r.Method...)
	ex.names = append(ex.names, r.RequestURI...)
	ex.spans = ex.spans[:0]
	count := 0
	if r.Host != "" {
		ex.addHeader("Host", r.Host)
		count++
	}
	for name, values := range r.Header {
		if name == "Host" {
			continue // :authority, given above, wins
		}
		for _, value := range values {
			count++
			switch {
			case count > s.lim.Fields:
				return httpwire.ErrTooManyFields
			case len(name)+2+len(value) > s.lim.FieldSize:
				return httpwire.ErrFieldTooLarge
			case strings.IndexByte(name, '_') < 0:
				ex.addHeader(name, value)
			}
		}
	}
	b := ex.names
	req.Method, b = b[:len(r.Method)], b[len(r.Method):]
	req.RawURI, b = b[:len(r.RequestURI)], b[len(r.RequestURI):]
	req.SplitTarget()
	req.Header = req.Header[:0]
	for _, f := range ex.spans {
		req.Header = append(req.Header, httpwire.HeaderField{Name: b[:f.name], Value: b[f.name : f.name+f.value]})
		b = b[f.name+f.value:]
	}
	return nil
}

func (ex *h2Exchange) addHeader(name, value string) {
	ex.names = append(ex.names, name...)
	ex.names = append(ex.names, value...)
	ex.spans = append(ex.spans, h2HeaderSpan{len(name), len(value)})
}

// connQueue is the net.Listener of the HTTP/2 server: it yields the connections that the TLS
// layer hands over after their handshake chose h2.
type connQueue struct {
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func newConnQueue() *connQueue {
	return &connQueue{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push waits until the server takes c, or closes c when the server has stopped.
func (q *connQueue) push(c net.Conn) {
	select {
	case q.conns <- c:
	case <-q.closed:
		c.Close()
	}
}

func (q *connQueue) Accept() (net.Conn, error) {
	select {
	case c := <-q.conns:
		return c, nil
	case <-q.closed:
		return nil, net.ErrClosed
	}
}

func (q *connQueue) Close() error {
	q.closeOnce.Do(func() { close(q.closed) })
	return nil
}

func (q *connQueue) Addr() net.Addr { return h2QueueAddr{} }

// h2QueueAddr stands for the worker's listening sockets, which the queue gathers from.
type h2QueueAddr struct{}

func (h2QueueAddr) Network() string { return "tls" }
func (h2QueueAddr) String() string  { return "h2" }
