package httpwire

import (
	"io"
	"net"
	"sync/atomic"
	"time"
)

// Conn is the engine's side of one connection: the bytes it has received and not yet consumed,
// the request it parsed from them, that request's body and response, and the bytes it has to
// send. Everything a request needs lives here and is reused from request to request, and
// through Reset from connection to connection, so a keep-alive request allocates nothing.
//
// A Conn serves one request at a time: ReadRequest, Begin, the application, Finish, and again.
// Only Idle may be called from another goroutine.
type Conn struct {
	eng *Engine
	nc  net.Conn
	// idle says the connection waits for the first byte of a request (see Idle).
	idle atomic.Bool

	// buf holds received bytes; buf[r:w] are not consumed yet. Request heads are parsed in
	// place, so the Request's slices point into buf.
	buf  []byte
	r, w int

	req  Request
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
}

// Open readies c, new or Reset, to serve nc with e. scheme is the Request's Scheme, "http" or
// "https".
func (c *Conn) Open(e *Engine, nc net.Conn, scheme string) {
	c.eng, c.nc = e, nc
	c.body.c, c.resp.c = c, c
	if c.buf == nil {
		c.buf = make([]byte, readBufSize)
	}
	if c.wbuf == nil {
		c.wbuf = make([]byte, 0, writeBufSize)
	}
	c.requests = 0
	c.idle.Store(true)
	c.req.Body = &c.body
	c.req.SetAddresses(nc.LocalAddr(), nc.RemoteAddr(), scheme)
}

// Reset lets go of c's connection and keeps its buffers for the next one, unless a large
// request or response made them grow.
func (c *Conn) Reset() {
	clear(c.req.Header[:cap(c.req.Header)])
	c.req = Request{Header: c.req.Header[:0]}
	c.resp.reset(0)
	c.body.reset(0, false, false)
	if len(c.buf) != readBufSize {
		c.buf = nil
	}
	c.wbuf = c.wbuf[:0]
	if cap(c.wbuf) > 4*writeBufSize {
		c.wbuf = nil
	}
	c.r, c.w = 0, 0
	c.nc, c.eng, c.werr = nil, nil, nil
	c.readDeadline, c.writeDeadline = time.Time{}, time.Time{}
	c.lineInBuf = false
}

// Request is the request ReadRequest parsed. It is the same Request for the life of c, and Open
// fills its addresses: a caller may change those that depend on who the peer is.
func (c *Conn) Request() *Request { return &c.req }

// NetConn is the connection c reads and writes.
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetNetConn has c go on over nc, a connection that carries on where the one before left off:
// the same socket, handed between Go's network poller and an event loop of the caller's. The
// deadlines c set on the one before are forgotten.
func (c *Conn) SetNetConn(nc net.Conn) {
	c.nc = nc
	c.readDeadline, c.writeDeadline = time.Time{}, time.Time{}
}

// ReadRequest reads and parses the next request head. With nil, Request holds it, ready for
// Begin. ErrWouldBlock means that the connection, in a non-blocking mode of its own, has no
// complete head yet: c is left as it was, to be called again once more bytes have arrived.
// Any other error means that c closed the connection: a *Refusal after answering a head it
// refuses, otherwise without an answer (the client left or went silent, or the engine drains).
func (c *Conn) ReadRequest() error {
	n, rerr, err := c.readHead()
	if err == ErrWouldBlock {
		return err
	}
	if err != nil {
		c.Close(false)
		return err
	}
	if rerr == nil {
		rerr = parseHead(c.buf[c.r:c.r+n], c.lineEnds, &c.req, &c.head)
	}
	if rerr != nil {
		c.Refuse(rerr)
		return rerr
	}
	c.r += n
	c.lineInBuf = true
	c.requests++
	return nil
}

// Begin readies the body and the response of the request ReadRequest parsed, and returns them
// for the application.
func (c *Conn) Begin() (*Request, ResponseWriter) {
	c.body.reset(c.req.ContentLength, c.req.ContentLength < 0, c.head.expectContinue)
	c.resp.reset(len(c.wbuf))
	c.resp.active = true
	if c.body.expect {
		c.Flush() // earlier responses must precede "100 Continue"
	}
	return &c.req, &c.resp
}

// Finish completes the response once the application has returned, drains what it left of the
// request body, and reports whether the connection serves another request. If not, it has
// closed the connection.
func (c *Conn) Finish() bool {
	keep := c.resp.finish()
	c.resp.active = false
	if keep && !c.body.drain() {
		keep = false
	}
	if !keep {
		c.Close(!c.body.done || c.r < c.w)
		return false
	}
	return true
}

// FinishWouldWait reports whether Finish may wait for the client: the application left part of
// the request body unread, the connection can be kept by draining it, and not all of it has
// arrived yet.
func (c *Conn) FinishWouldWait() bool {
	b := &c.body
	return !b.done && b.keepable() && (b.chunked || int64(c.w-c.r) < b.remaining)
}

// Buffered is how many received bytes c has not consumed yet: the start of the next request,
// when there are any.
func (c *Conn) Buffered() int { return c.w - c.r }

// Refuse answers r in the application's place and closes the connection.
func (c *Conn) Refuse(r *Refusal) {
	c.appendError(r)
	c.Close(true)
}

// Close flushes what is left of the output and closes the connection. With linger, the read
// side is drained briefly after the write side is shut, so that unread request bytes do not make
// the kernel reset the connection before the client has read the answer.
func (c *Conn) Close(linger bool) {
	c.Flush()
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

// Idle reports whether c waits for the first byte of a request. A server that drains its
// engine cuts such a wait short itself, by setting the connection's read deadline.
func (c *Conn) Idle() bool { return c.idle.Load() }

// GoIdle marks c as waiting for its next request and sets the read deadline of that wait:
// HeaderTimeout on a new connection, Keepalive after a request, and no more than DrainGrace
// once the engine drains. The engine does so itself before it reads a head; a caller that
// waits for the client in a poller of its own (an event loop) does so before it leaves c there.
func (c *Conn) GoIdle() {
	wait := HeaderTimeout
	if c.requests > 0 {
		wait = c.eng.lim.Keepalive
	}
	c.nc.SetReadDeadline(time.Now().Add(wait))
	c.readDeadline = time.Time{}
	c.idle.Store(true)
	// Checked after the state is published: a drain that did not see c idle began before
	// this load.
	if c.eng.draining.Load() {
		c.nc.SetReadDeadline(time.Now().Add(min(wait, DrainGrace)))
	}
}

// Receive reads once from the connection into the read buffer, for an idle c whose caller's
// own poller says bytes have arrived, and marks c busy; ReadRequest then parses them.
func (c *Conn) Receive() error {
	c.idle.Store(false)
	if c.r == c.w {
		c.r, c.w = 0, 0
	}
	return c.readIn()
}

// readIn reads once from the connection into the free end of the read buffer. A read that
// brings nothing is an error.
func (c *Conn) readIn() error {
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Flush writes the buffered output, except a response header that is only queued: that one
// may still be replaced. On a connection in a non-blocking mode of its own, ErrWouldBlock
// leaves what was not written buffered.
func (c *Conn) Flush() error {
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
	written, err := c.nc.Write(c.wbuf[:n])
	c.wbuf = c.wbuf[:copy(c.wbuf, c.wbuf[written:])]
	c.resp.start = max(c.resp.start-written, 0)
	if err != nil && err != ErrWouldBlock {
		c.werr = err
	}
	return err
}

// armRead makes sure a read may block for about IOTimeout, refreshing the deadline only when
// the current one is close.
func (c *Conn) armRead() {
	now := time.Now()
	if c.readDeadline.Sub(now) < IOTimeout-rearmSlack {
		c.readDeadline = now.Add(IOTimeout)
		c.nc.SetReadDeadline(c.readDeadline)
	}
}

// armWrite is armRead for writes.
func (c *Conn) armWrite() {
	now := time.Now()
	if c.writeDeadline.Sub(now) < IOTimeout-rearmSlack {
		c.writeDeadline = now.Add(IOTimeout)
		c.nc.SetWriteDeadline(c.writeDeadline)
	}
}
