package httpwire

import (
	"bytes"
	"fmt"
	"io"
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
	errChunkSize        = fmt.Errorf("%w: invalid chunk size line", ErrMalformedBody)
	errChunkEnd         = fmt.Errorf("%w: chunk data not followed by CRLF", ErrMalformedBody)
	errTrailerSize      = fmt.Errorf("%w: chunked trailer section too large", ErrMalformedBody)
	errChunkLineEnd     = fmt.Errorf("%w: chunked framing line not ended by CRLF", ErrMalformedBody)
	errChunkLineByte    = fmt.Errorf("%w: control character in chunked framing", ErrMalformedBody)
	errTrailerLine      = fmt.Errorf("%w: malformed trailer line", ErrMalformedBody)
	errTrailerFolding   = fmt.Errorf("%w: obsolete line folding in trailers", ErrMalformedBody)
	errTrailerFieldSize = fmt.Errorf("%w: trailer line too long", ErrMalformedBody)
	errTrailerForbidden = fmt.Errorf("%w: field not allowed in trailers", ErrMalformedBody)
	errTrailerTypeTwice = fmt.Errorf("%w: more than one Content-Type trailer", ErrMalformedBody)
	continueMessage     = []byte("HTTP/1.1 100 Continue\r\n\r\n")
)

// Chunked body decoding states.
const (
	chunkSize = iota // next: a chunk-size line
	chunkData        // next: remaining bytes of chunk data
	chunkEnd         // next: the CRLF after chunk data
)

// requestBody is the Request's Body: the decoded request body, read from the connection
// only when the application asks.
type requestBody struct {
	c         *Conn
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
			c.Flush()
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

// fillBody reads more request body into the read buffer. What the response has committed is
// flushed first, so a client that waits for it before sending more is not deadlocked.
func (c *Conn) fillBody() error {
	if c.lineInBuf {
		c.keepRequestLine()
	}
	if c.r == c.w {
		c.r, c.w = 0, 0
	} else if c.w == len(c.buf) {
		c.w = copy(c.buf, c.buf[c.r:c.w])
		c.r = 0
	}
	if err := c.Flush(); err != nil {
		return err
	}
	c.armRead()
	return c.readIn()
}

// keepRequestLine copies Method and RawURI out of the read buffer before body bytes overwrite
// them, so that the request line stays valid for the whole request (error and access logs use
// it after the body was read); the header fields are not kept.
func (c *Conn) keepRequestLine() {
	c.lineInBuf = false
	c.requestLine = append(append(c.requestLine[:0], c.req.Method...), c.req.RawURI...)
	c.req.Method = c.requestLine[:len(c.req.Method)]
	c.req.RawURI = c.requestLine[len(c.req.Method):]
	c.req.SplitTarget()
}

// readLine returns the next line of body framing, without its CRLF, if it is at most max bytes.
// Chunked framing gets none of the leniency request heads get (RFC 9112 §2.2 allows a bare LF
// only there): a line must end in CRLF and hold no other control character, so that the engine
// and a proxy in front of it cannot disagree on where a chunk ends. The line is valid until the
// next read.
func (c *Conn) readLine(max int) ([]byte, error) {
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
