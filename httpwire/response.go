package httpwire

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
)

// writePiece is the most one socket write is given at once, so that the write deadline measures
// progress rather than the time a whole large body takes.
const writePiece = 1 << 20

// What a ResponseWriter's methods return when they are called out of turn, or when a file
// cannot give the bytes promised for it.
var (
	ErrHeaderSent = errors.New("http: response header already sent")
	ErrNoHeader   = errors.New("http: response body before WriteHeader")
	ErrShortFile  = errors.New("http: file ended before the length promised for it")
)

var crlf = []byte("\r\n")

// responseWriter is the ResponseWriter of the connection's current request. The header is
// serialised into the write buffer by WriteHeader and completed (framing and Connection) by the
// first Write, SendFile or Flush; until then a second WriteHeader rewrites it in place.
type responseWriter struct {
	c      *Conn
	active bool // from Begin to Finish
	start  int  // where this response begins in c.wbuf

	queued, committed, aborted bool
	code                       int
	contentLength              int64 // declared by the application, -1 if none
	remaining                  int64 // body bytes still allowed by contentLength
	chunked, noBody            bool
	appClose, keepAlive        bool
}

var _ ResponseWriter = (*responseWriter)(nil)

func (r *responseWriter) reset(start int) {
	*r = responseWriter{c: r.c, start: start, contentLength: -1}
}

// WriteHeader queues the status line and headers; the application's hop-by-hop headers are
// dropped and its "Connection: close" is honoured.
func (r *responseWriter) WriteHeader(status []byte, code int, header []HeaderField) error {
	if r.committed {
		return ErrHeaderSent
	}
	c := r.c
	r.queued, r.code, r.contentLength, r.appClose = true, code, -1, false
	lengthAllowed := code >= 200 && code != 204 // RFC 9110 §8.6
	w := append(c.wbuf[:r.start], "HTTP/1.1 "...)
	w = append(w, status...)
	w = append(w, crlf...)
	hasServer, hasDate := false, false
	for _, f := range header {
		switch ResponseHeaderKind(f.Name) {
		case HeaderHopByHop:
			continue
		case HeaderConnection:
			r.appClose = r.appClose || hasToken(f.Value, "close")
			continue
		case HeaderContentLength:
			n, ok := ParseContentLength(f.Value)
			if !ok || !lengthAllowed || r.contentLength >= 0 {
				continue
			}
			r.contentLength = n
		case HeaderServer:
			hasServer = true
		case HeaderDate:
			hasDate = true
		}
		w = append(w, f.Name...)
		w = append(w, ": "...)
		w = append(w, f.Value...)
		w = append(w, crlf...)
	}
	if !hasServer {
		w = append(w, "Server: gowsgi\r\n"...)
	}
	if !hasDate {
		w = appendDate(w)
	}
	c.wbuf = w
	return nil
}

// commit completes the header with framing and Connection. From here on the response can no
// longer be replaced.
func (r *responseWriter) commit() {
	c, h := r.c, &r.c.head
	r.committed = true
	r.noBody = h.isHead || r.code < 200 || r.code == 204 || r.code == 304
	keep := h.keepAlive && !r.appClose && r.code >= 200 && c.eng.lim.Keepalive > 0 && !c.eng.draining.Load()
	w := c.wbuf
	switch {
	case r.noBody:
	case r.contentLength >= 0:
		r.remaining = r.contentLength
	case h.http11:
		r.chunked = true
		w = append(w, "Transfer-Encoding: chunked\r\n"...)
	default:
		keep = false // the end of the connection delimits the body
	}
	keep = keep && c.body.keepable()
	switch {
	case !keep:
		w = append(w, "Connection: close\r\n\r\n"...)
	case !h.http11:
		w = append(w, "Connection: keep-alive\r\n\r\n"...)
	default:
		w = append(w, crlf...)
	}
	c.wbuf = w
	r.keepAlive = keep
}

// Write queues body bytes; they reach the client when the write buffer fills, at Flush, or once
// the response is complete. Bytes past the declared Content-Length are dropped. p is not
// referenced after Write returns.
func (r *responseWriter) Write(p []byte) (int, error) {
	c := r.c
	switch {
	case !r.queued:
		return 0, ErrNoHeader
	case c.werr != nil:
		return 0, c.werr
	case len(p) == 0:
		return 0, nil
	}
	if !r.committed {
		r.commit()
	}
	n := len(p)
	if r.noBody {
		return n, nil
	}
	if r.contentLength >= 0 {
		p = p[:min(int64(len(p)), r.remaining)]
		r.remaining -= int64(len(p))
		if len(p) == 0 {
			return n, nil
		}
	}
	if err := c.writeBody(p, r.chunked); err != nil {
		return 0, err
	}
	return n, nil
}

// Flush sends the header, if only queued, and everything buffered.
func (r *responseWriter) Flush() error {
	if r.queued && !r.committed {
		r.commit()
	}
	return r.c.Flush()
}

// SendFile sends n bytes of f from off (n < 0: to the end of the file), as one chunk when the
// response is chunked.
func (r *responseWriter) SendFile(f *os.File, off, n int64) error {
	c := r.c
	switch {
	case !r.queued:
		return ErrNoHeader
	case c.werr != nil:
		return c.werr
	}
	if n < 0 {
		info, err := f.Stat()
		if err != nil {
			return err
		}
		n = max(info.Size()-off, 0)
	}
	if !r.committed {
		r.commit()
	}
	if r.noBody {
		return nil
	}
	if r.contentLength >= 0 {
		n = min(n, r.remaining)
		r.remaining -= n
	}
	if n == 0 {
		return nil
	}
	if r.chunked {
		c.wbuf = strconv.AppendInt(c.wbuf, n, 16)
		c.wbuf = append(c.wbuf, crlf...)
	}
	if err := c.Flush(); err != nil {
		return err
	}
	sent, err := c.sendFileRange(f, off, n)
	if err == nil && sent < n {
		err = ErrShortFile
	}
	if err != nil {
		c.werr = err // the promised framing is broken: the connection can only close
		return err
	}
	if r.chunked {
		c.wbuf = append(c.wbuf, crlf...)
	}
	return nil
}

// HeaderSent reports whether the header was committed: after that it cannot be replaced.
func (r *responseWriter) HeaderSent() bool { return r.committed }

// Abort makes the connection close after this response without completing it.
func (r *responseWriter) Abort() { r.aborted = true }

// finish completes the response after the application returns and reports whether its framing and
// headers let the connection serve another request.
func (r *responseWriter) finish() bool {
	c := r.c
	switch {
	case r.aborted && !r.committed:
		c.wbuf = c.wbuf[:r.start]
		return false
	case r.aborted:
		return false
	case !r.queued:
		c.wbuf = c.wbuf[:r.start]
		c.appendError(ErrNoResponse)
		return false
	}
	if !r.committed {
		r.commit()
	}
	if r.chunked {
		c.wbuf = append(c.wbuf, "0\r\n\r\n"...)
	}
	if r.contentLength >= 0 && r.remaining > 0 && !r.noBody {
		return false // fewer bytes than declared: only closing tells the client
	}
	return r.keepAlive && c.werr == nil
}

// writeBody queues p, or writes it together with the buffered bytes in one writev when it does
// not fit in the write buffer, without copying it.
func (c *Conn) writeBody(p []byte, chunked bool) error {
	const framing = 16 + 2 + 2 // hex size, CRLF, CRLF
	if len(c.wbuf)+len(p)+framing <= cap(c.wbuf) {
		if chunked {
			c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
			c.wbuf = append(c.wbuf, crlf...)
		}
		c.wbuf = append(c.wbuf, p...)
		if chunked {
			c.wbuf = append(c.wbuf, crlf...)
		}
		return nil
	}
	var tail []byte
	if chunked {
		if cap(c.wbuf)-len(c.wbuf) < framing {
			if err := c.Flush(); err != nil {
				return err
			}
		}
		c.wbuf = strconv.AppendInt(c.wbuf, int64(len(p)), 16)
		c.wbuf = append(c.wbuf, crlf...)
		tail = crlf
	}
	for first := true; first || len(p) > 0; first = false {
		piece := p[:min(len(p), writePiece)]
		p = p[len(piece):]
		c.iov = c.iovs[:0]
		if first && len(c.wbuf) > 0 {
			c.iov = append(c.iov, c.wbuf)
		}
		c.iov = append(c.iov, piece)
		if len(p) == 0 && tail != nil {
			c.iov = append(c.iov, tail)
		}
		c.armWrite()
		var err error
		if vw, ok := c.nc.(vectorWriter); ok {
			err = vw.WriteVectors(c.iov)
		} else {
			_, err = c.iov.WriteTo(c.nc)
		}
		c.iovs = [3][]byte{}
		if err != nil {
			c.werr = err
			return err
		}
		c.wbuf = c.wbuf[:0]
	}
	return nil
}

// vectorWriter is a connection, not one of Go's own sockets, that writes several buffers with
// one system call, as Go's own sockets do for net.Buffers.
type vectorWriter interface {
	WriteVectors(bufs net.Buffers) error
}

// sendFileRange sends n bytes of f from off: with sendfile(2) where the connection can do it
// (net.TCPConn's ReadFrom over a limited *os.File), otherwise by copying.
func (c *Conn) sendFileRange(f *os.File, off, n int64) (int64, error) {
	rf, ok := c.nc.(io.ReaderFrom)
	if !ok || !c.eng.lim.Sendfile {
		return c.copyFileRange(f, off, n)
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, err
	}
	var sent int64
	for sent < n {
		c.armWrite()
		limited := &io.LimitedReader{R: f, N: min(n-sent, writePiece)}
		k, err := rf.ReadFrom(limited)
		sent += k
		if err != nil || k == 0 {
			return sent, err
		}
	}
	return sent, nil
}

var copyBufPool = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

func (c *Conn) copyFileRange(f *os.File, off, n int64) (int64, error) {
	bp := copyBufPool.Get().(*[]byte)
	defer copyBufPool.Put(bp)
	var sent int64
	for sent < n {
		k, err := f.ReadAt((*bp)[:min(int64(len(*bp)), n-sent)], off+sent)
		if k > 0 {
			c.armWrite()
			if _, werr := c.nc.Write((*bp)[:k]); werr != nil {
				return sent, werr
			}
			sent += int64(k)
		}
		if err == io.EOF {
			return sent, nil
		} else if err != nil {
			return sent, err
		}
	}
	return sent, nil
}
