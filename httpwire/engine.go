package httpwire

import (
	"errors"
	"sync/atomic"
	"time"
)

const (
	// HeaderTimeout bounds how long a request head may take to arrive once it has started, and
	// how long a new connection may stay silent: a stalled client only holds its own goroutine.
	HeaderTimeout = 30 * time.Second
	// IOTimeout is how long a body read or a response write may make no progress.
	IOTimeout = 30 * time.Second
	// DrainGrace is how long an idle connection stays open once its engine drains: a request the
	// client sent before it could see the close is answered, with "Connection: close", instead
	// of being cut off. RFC 9112 §9.3.1 lets clients retry such a request, but few do, and a
	// reload would otherwise lose requests on busy keep-alive connections.
	DrainGrace = time.Second
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

// ErrWouldBlock is what a net.Conn in a non-blocking mode of its own (a socket that an event
// loop owns) returns from Read or Write instead of waiting for its client. The engine then
// leaves the Conn as it was, to go on once the socket is ready.
var ErrWouldBlock = errors.New("connection would block")

// Engine is what the connections of one server share: the limits they are held to, and whether
// the server is draining them.
type Engine struct {
	lim     Limits
	headMax int // the most bytes one request head may take
	// draining says the server is on its way out: each connection serves its current request,
	// or one more if it is idle, and closes.
	draining atomic.Bool
}

// NewEngine makes the engine of a server that holds its connections to lim, and starts the
// clock of the Date header.
func NewEngine(lim Limits) *Engine {
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
	return &Engine{lim: lim, headMax: headMax}
}

// Limits are the limits in force, with each one Limits left at 0 resolved.
func (e *Engine) Limits() Limits { return e.lim }

// HeadMax is the most bytes one request head may take, request line and blank line included.
func (e *Engine) HeadMax() int { return e.headMax }

// Drain makes every connection close after its current response, and one waiting for a
// request after that request or DrainGrace without one. A wait already under way when Drain is
// called is the caller's to cut short (see Conn.Idle).
func (e *Engine) Drain() { e.draining.Store(true) }
