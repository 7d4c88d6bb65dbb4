package worker

import (
	"bytes"
	"fmt"
	"io"
	"time"

	"gowsgi/httpwire"
)

const (
	// drainLimit is how much request body the engine reads and throws away after the
	// application returns, to keep the connection; past it the connection closes instead.
	drainLimit = 1 << 20
	// maxChunkLine bounds a chunk-size line with its extensions; it must stay well below
	// readBufSize so that a whole line always fits in the read buffer.
	maxChunkLine = 1024
	// maxTrailerBytes bounds the trailer section of a chunked body, which is read and dropped.
	maxTrailerBytes = 64 << 10
)

var (
	errChunkSize        = fmt.Errorf("%w: invalid chunk size line", httpwire.ErrMalformedBody)
	errChunkEnd         = fmt.Errorf("%w: chunk data not followed by CRLF", httpwire.ErrMalformedBody)
	errTrailerSize      = fmt.Errorf("%w: chunked trailer section too large", httpwire.ErrMalformedBody)
	errChunkLineEnd     = fmt.Errorf("%w: chunked framing line not ended by CRLF", httpwire.ErrMalformedBody)
	errChunkLineByte    = fmt.Errorf("%w: control character in chunked framing", httpwire.ErrMalformedBody)
	errTrailerLine      = fmt.Errorf("%w: malformed trailer line", httpwire.ErrMalformedBody)
	errTrailerFolding   = fmt.Errorf("%w: obsolete line folding in trailers", httpwire.ErrMalformedBody)
	errTrailerFieldSize = fmt.Errorf("%w: trailer line too long", httpwire.ErrMalformedBody)
	errTrailerForbidden = fmt.Errorf("%w: field not allowed in trailers", httpwire.ErrMalformedBody)
	errTrailerTypeTwice = fmt.Errorf("%w: more than one Content-Type trailer", httpwire.ErrMalformedBody)
	continueMessage     = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

// Chunked body decoding states.
const (
	chunkSize = iota // next: a chunk-size line
	chunkData        // next: remaining bytes of chunk data
	chunkEnd         // next: the CRLF after chunk data
)

// requestBody is the httpwire.Request's Body: the decoded request body, read from the connection
// only when the application asks.
type requestBody struct {
	c         *httpConn
	chunked   bool
	state     int
	remaining int64 // bytes left in the body (Content-Length) or in the current chunk
	done      bool
	err       error
	expect    bool // "100 Continue" is still owed on the first Read
}

func (b *requestBody) reset(contentLength int64, chunked, expect bool) {
	*b = requestBody{c: b.c, chunked: chunked, expect: expect, state: chunkSize}
	if !chunked {
		b.remaining = contentLength
		b.done = contentLength == 0
	}
}

// Read returns decoded body bytes, then io.EOF. A malformed chunked body or a connection that
// ends early is an error, and the connection closes after the response.
func (b *requestBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if b.done {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.expect {
		if err := b.sendContinue(); err != nil {
			return 0, err
		}
	}
	for b.chunked && b.state != chunkData {
		if err := b.nextChunk(); err != nil {
			return 0, b.fail(err)
		}
		if b.done {
			return 0, io.EOF
		}
	}
	n, err := b.readData(p)
	if err != nil {
		return n, b.fail(err)
	}
	if b.remaining == 0 {
		if b.chunked {
			b.state = chunkEnd
		} else {
			b.done = true
		}
	}
	return n, nil
}

// sendContinue answers "Expect: 100-continue", unless the client has already started sending
// the body or the final response is already on its way.
func (b *requestBody) sendContinue() error {
	b.expect = false
	c := b.c
	if c.r < c.w || c.resp.committed {
		return nil
	}
	c.armWrite()
	if _, err := c.nc.Write(continueMessage); err != nil {
		c.werr = err
		return b.fail(err)
	}
	return nil
}

func (b *requestBody) fail(err error) error {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	b.err = err
	return err
}

// readData moves up to len(p) bytes of the current body or chunk into p. Reads larger than the
// read buffer go straight from the connection into p.
func (b *requestBody) readData(p []byte) (int, error) {
	c := b.c
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	if c.r == c.w {
		if len(p) >= len(c.buf) {
			c.flushOutput()
			c.armRead()
			n, err := c.nc.Read(p)
			b.remaining -= int64(n)
			if n > 0 {
				err = nil
			}
			return n, err
		}
		if err := c.fillBody(); err != nil {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	b.remaining -= int64(n)
	return n, nil
}

// nextChunk consumes the framing between chunk data: the CRLF after a chunk, then a chunk-size
// line, and at the last chunk the trailer section.
func (b *requestBody) nextChunk() error {
	if b.state == chunkEnd {
		line, err := b.c.readLine(maxChunkLine)
		if err != nil {
			return err
		}
		if len(line) != 0 {
			return errChunkEnd
		}
		b.state = chunkSize
	}
	line, err := b.c.readLine(maxChunkLine)
	if err != nil {
		return err
	}
	size, ok := parseChunkSize(line)
	if !ok {
		return errChunkSize
	}
	if size == 0 {
		if err := b.c.skipTrailers(); err != nil {
			return err
		}
		b.done = true
		return nil
	}
	b.remaining, b.state = size, chunkData
	return nil
}

// parseChunkSize reads the hexadecimal size and ignores chunk extensions (";name=value").
// Blanks may follow the size only before an extension (RFC 9112 §7.1.1's BWS), as in gunicorn:
// a size line ending in blanks is not chunk-size [ chunk-ext ] (§7.1), and readers that trim
// them and readers that refuse them disagree on where the body ends.
func parseChunkSize(line []byte) (int64, bool) {
	var size int64
	digits := 0
	for ; digits < len(line); digits++ {
		d := hexValue(line[digits])
		if d < 0 {
			break
		}
		if digits == 15 {
			return 0, false
		}
		size = size<<4 | int64(d)
	}
	if digits == len(line) {
		return size, digits > 0
	}
	ext := bytes.TrimLeft(line[digits:], " \t")
	return size, digits > 0 && len(ext) > 0 && ext[0] == ';'
}

// drain consumes what the application left unread of the body, within drainLimit, and reports
// whether the connection can serve another request.
func (b *requestBody) drain() bool {
	if b.done {
		return true
	}
	if !b.keepable() {
		return false
	}
	b.expect = false // the client is not waiting: the body is already here
	for budget := int64(drainLimit); budget > 0; {
		for b.chunked && b.state != chunkData {
			if b.nextChunk() != nil {
				return false
			}
			if b.done {
				return true
			}
		}
		c := b.c
		if c.r == c.w {
			if c.fillBody() != nil {
				return false
			}
		}
		n := int64(c.w - c.r)
		n = min(n, b.remaining, budget)
		c.r += int(n)
		b.remaining -= n
		budget -= n
		if b.remaining == 0 {
			if !b.chunked {
				b.done = true
				return true
			}
			b.state = chunkEnd
		}
	}
	return false
}

// keepable reports whether the unread rest of the body can be drained to keep the connection:
// not when the client still waits for "100 Continue" and has sent nothing, nor when more than
// drainLimit is announced.
func (b *requestBody) keepable() bool {
	switch {
	case b.done:
		return true
	case b.err != nil:
		return false
	case b.expect:
		return !b.chunked && int64(b.c.w-b.c.r) >= b.remaining
	case !b.chunked:
		return b.remaining <= drainLimit
	}
	return true
}

// fillHead reads more of a request head. With nothing of the next request received yet the
// connection is idle: it may wait Keepalive (a new connection: headerTimeout), and once shutdown
// has begun no longer than shutdownGrace. Once a head has started, it has headerTimeout in all
// to arrive.
func (c *httpConn) fillHead(headArmed *bool) error {
	if err := c.flushOutput(); err != nil {
		return err
	}
	idle := c.r == c.w
	switch {
	case idle:
		c.r, c.w = 0, 0
	case c.r > 0:
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	case c.w == len(c.buf):
		grown := make([]byte, min(2*len(c.buf), c.srv.headMax+1))
		c.w = copy(grown, c.buf[:c.w])
		c.buf = grown
	}
	if idle {
		wait := headerTimeout
		if c.requests > 0 {
			wait = c.srv.lim.Keepalive
		}
		c.nc.SetReadDeadline(time.Now().Add(wait))
		c.readDeadline = time.Time{}
		c.state.Store(connIdle)
		// Checked after the state is published: a shutdown that did not see this connection idle
		// has set closing before this load.
		if c.srv.closing.Load() {
			c.nc.SetReadDeadline(time.Now().Add(min(wait, shutdownGrace)))
		}
	} else if !*headArmed {
		*headArmed = true
		c.readDeadline = time.Now().Add(headerTimeout)
		c.nc.SetReadDeadline(c.readDeadline)
	}
	n, err := c.nc.Read(c.buf[c.w:])
	c.w += n
	if idle {
		c.state.Store(connBusy)
	}
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// fillBody reads more request body into the read buffer. What the response has committed is
// flushed first, so a client that waits for it before sending more is not deadlocked.
func (c *httpConn) fillBody() error {
	if c.lineInBuf {
		c.keepRequestLine()
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.buf) {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if err := c.flushOutput(); err != nil {
		return err
	}
	c.armRead()
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

// keepRequestLine copies Method and RawURI out of the read buffer before body bytes overwrite
// them, so that the request line stays valid for the whole request (error and access logs use
// it after the body was read); the header fields are not kept.
func (c *httpConn) keepRequestLine() {
	c.lineInBuf = false
	c.requestLine = append(append(c.requestLine[:0], c.req.Method...), c.req.RawURI...)
	c.req.Method = c.requestLine[:len(c.req.Method)]
	c.req.RawURI = c.requestLine[len(c.req.Method):]
	splitTarget(c.req.RawURI, &c.req)
}

// readLine returns the next line of body framing, without its CRLF, if it is at most max bytes.
// Chunked framing gets none of the leniency request heads get (RFC 9112 §2.2 allows a bare LF
// only there): a line must end in CRLF and hold no other control character, so that the engine
// and a proxy in front of it cannot disagree on where a chunk ends. The line is valid until the
// next read.
func (c *httpConn) readLine(max int) ([]byte, error) {
	for {
		if i := bytes.IndexByte(c.buf[c.r:c.w], '\n'); i >= 0 {
			if i > max {
				return nil, errChunkSize
			}
			line := c.buf[c.r : c.r+i]
			c.r += i + 1
			if len(line) == 0 || line[len(line)-1] != '\r' {
				return nil, errChunkLineEnd
			}
			line = line[:len(line)-1]
			for _, b := range line {
				if !fieldValueByte[b] {
					return nil, errChunkLineByte
				}
			}
			return line, nil
		}
		if c.w-c.r > max {
			return nil, errChunkSize
		}
		if err := c.fillBody(); err != nil {
			return nil, err
		}
	}
}

// skipTrailers reads the trailer section of a chunked body up to its blank line and drops it.
// Its lines follow readLine's rules, but may be longer than the read buffer; trailerScan checks
// them as gunicorn checks trailer fields.
func (c *httpConn) skipTrailers() error {
	scan := trailerScan{lim: &c.srv.lim.Limits}
	for total := 0; total <= maxTrailerBytes; {
		if c.r == c.w {
			if err := c.fillBody(); err != nil {
				return err
			}
		}
		for c.r < c.w && total <= maxTrailerBytes {
			b := c.buf[c.r]
			c.r++
			total++
			if done, err := scan.step(b); done || err != nil {
				return err
			}
		}
	}
	return errTrailerSize
}

// Trailer scanning states.
const (
	trailerLineStart   = iota // next: a field line, a continuation line or the blank line
	trailerName               // in a field name
	trailerBeforeColon        // in blanks after a field name (--strip-header-spaces)
	trailerValue              // in a field value
	trailerLineCR             // after the CR that ends a field line
	trailerEndCR              // after the CR of the blank line that ends the section
)

// trailerScan checks a trailer section one byte at a time, so that a line needs no room in the
// read buffer. Trailer fields are dropped, but a proxy in front may act on them, so they are
// held to the header rules and limits: each line a field line (or, with
// --permit-obsolete-folding, a continuation), counted with its CRLF against the field size
// limit, no more fields than the field count limit, no second Content-Type, and none of the
// fields RFC 9110 §6.5.1 keeps out of trailers (checkName).
type trailerScan struct {
	lim       *httpwire.Limits
	state     int
	fields    int
	fieldSize int // bytes of the current field so far, continuation lines and CRLFs included
	typeSeen  bool
	// name holds the start of the current field name, enough for every name checkName looks
	// for; nameLen is the whole name's length.
	name    [len("transfer-encoding")]byte
	nameLen int
}

// step takes the next byte of the section and reports whether it ended it.
func (t *trailerScan) step(b byte) (done bool, err error) {
	switch t.state {
	case trailerEndCR:
		if b != '\n' {
			return false, errChunkLineEnd
		}
		return true, nil
	case trailerLineStart:
		if err := t.startLine(b); err != nil || t.state == trailerEndCR {
			return false, err
		}
	}
	if t.fieldSize++; t.fieldSize > t.lim.FieldSize {
		return false, errTrailerFieldSize
	}
	switch t.state {
	case trailerName:
		switch {
		case tokenByte[b]:
			if t.nameLen < len(t.name) {
				t.name[t.nameLen] = b
			}
			t.nameLen++
		case b == ':':
			t.state = trailerValue
			return false, t.checkName()
		case (b == ' ' || b == '\t') && t.lim.Parsing.StripHeaderSpaces:
			t.state = trailerBeforeColon
		default:
			return false, errTrailerLine
		}
	case trailerBeforeColon:
		switch {
		case b == ':':
			t.state = trailerValue
			return false, t.checkName()
		case b != ' ' && b != '\t':
			return false, errTrailerLine
		}
	case trailerValue:
		switch {
		case b == '\r':
			t.state = trailerLineCR
		case b == '\n':
			return false, errChunkLineEnd
		case !fieldValueByte[b]:
			return false, errChunkLineByte
		}
	case trailerLineCR:
		if b != '\n' {
			return false, errChunkLineEnd
		}
		t.state = trailerLineStart
	}
	return false, nil
}

// startLine sets the state for a line that starts with b: the blank line, a continuation of
// the field before, or a new field.
func (t *trailerScan) startLine(b byte) error {
	switch {
	case b == '\r':
		t.state = trailerEndCR
	case b == ' ' || b == '\t':
		if t.fields == 0 || !t.lim.Parsing.PermitObsoleteFolding {
			return errTrailerFolding
		}
		t.state = trailerValue
	case tokenByte[b]:
		if t.fields++; t.fields > t.lim.Fields {
			return errTrailerSize
		}
		t.fieldSize, t.nameLen, t.state = 0, 0, trailerName
	case b == '\n':
		return errChunkLineEnd
	default:
		return errTrailerLine
	}
	return nil
}

// checkName refuses a field gunicorn refuses in trailers: one RFC 9110 §6.5.1 keeps out of
// them because it frames, routes or authenticates the request (gunicorn's list), or a second
// Content-Type (RFC 9110 §5.3).
func (t *trailerScan) checkName() error {
	if t.nameLen > len(t.name) {
		return nil
	}
	name := t.name[:t.nameLen]
	switch {
	case equalFold(name, "content-type"):
		if t.typeSeen {
			return errTrailerTypeTwice
		}
		t.typeSeen = true
	case equalFold(name, "content-length"), equalFold(name, "transfer-encoding"), equalFold(name, "host"),
		equalFold(name, "trailer"), equalFold(name, "authorization"), equalFold(name, "te"):
		return errTrailerForbidden
	}
	return nil
}
