package worker

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"gowsgi/httpwire"
)

var errInformational = errors.New("http2: a 1xx status cannot be the final response")

// writeH2Error sends one of the engine's own answers, as appendError does on HTTP/1.1.
func writeH2Error(w http.ResponseWriter, e *httpwire.Refusal) {
	body := e.Status[4:] + "\n" + e.Reason + "\n"
	code := e.Code()
	h := w.Header()
	h.Set("Server", "gowsgi")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	io.WriteString(w, body)
}

// h2Body is the request body. Each read may wait at most httpwire.IOTimeout for the client; the
// deadline is lifted after the read, since it would otherwise fire while the app works.
type h2Body struct {
	body io.Reader
	rc   *http.ResponseController // nil when there is no body to wait for
}

func (b *h2Body) Read(p []byte) (int, error) {
	if b.rc == nil {
		return b.body.Read(p)
	}
	b.rc.SetReadDeadline(time.Now().Add(httpwire.IOTimeout))
	n, err := b.body.Read(p)
	b.rc.SetReadDeadline(time.Time{})
	return n, err
}

// h2Response is the httpwire.ResponseWriter of an HTTP/2 request. The header goes into
// net/http's header map, which is sent at the first Write, SendFile or Flush; until then a
// second WriteHeader replaces it. Hop-by-hop headers are dropped: HTTP/2 forbids them.
type h2Response struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	isHead bool
	// complete is called when the response is whole before the handler returns, which only
	// a HEAD response is once its header is committed: its stream may then end, and must no
	// longer count as cut short (see h2Conn.streamCutShort).
	complete func() bool

	queued, committed, aborted, noBody bool
	code                               int
	contentLength                      int64 // declared by the application, -1 if none
	remaining                          int64 // body bytes still allowed by contentLength
	err                                error // the first write error; the stream is gone
}

var _ httpwire.ResponseWriter = (*h2Response)(nil)

func (r *h2Response) WriteHeader(status []byte, code int, header []httpwire.HeaderField) error {
	switch {
	case r.committed:
		return httpwire.ErrHeaderSent
	case code < 200:
		return errInformational
	}
	h := r.w.Header()
	clear(h)
	r.queued, r.code, r.contentLength = true, code, -1
	lengthAllowed := code != 204 // RFC 9110 §8.6
	hasServer := false
	for _, f := range header {
		switch httpwire.ResponseHeaderKind(f.Name) {
		case httpwire.HeaderHopByHop, httpwire.HeaderConnection:
			continue
		case httpwire.HeaderContentLength:
			n, ok := httpwire.ParseContentLength(f.Value)
			if !ok || !lengthAllowed || r.contentLength >= 0 {
				continue
			}
			r.contentLength = n
		case httpwire.HeaderServer:
			hasServer = true
		}
		h.Add(string(f.Name), string(f.Value))
	}
	if !hasServer {
		h.Set("Server", "gowsgi")
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // as on HTTP/1.1: no type guessed from the body
	}
	return nil
}

func (r *h2Response) commit() {
	if r.isHead {
		r.complete()
	}
	r.committed = true
	r.noBody = r.isHead || r.code == 204 || r.code == 304
	r.remaining = r.contentLength
	r.w.WriteHeader(r.code)
}

// Write sends body bytes; those past the declared Content-Length are dropped.
func (r *h2Response) Write(p []byte) (int, error) {
	switch {
	case !r.queued:
		return 0, httpwire.ErrNoHeader
	case r.err != nil:
		return 0, r.err
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
	if err := r.write(p); err != nil {
		return 0, err
	}
	return n, nil
}

// write gives the client at most httpwire.IOTimeout to take p (a client that stops granting flow
// control window would otherwise hold the app's thread), and lifts the deadline after: it
// would reset the stream while the app computes its next chunk.
func (r *h2Response) write(p []byte) error {
	r.rc.SetWriteDeadline(time.Now().Add(httpwire.IOTimeout))
	_, err := r.w.Write(p)
	r.rc.SetWriteDeadline(time.Time{})
	if err != nil {
		r.err = err
	}
	return err
}

func (r *h2Response) Flush() error {
	switch {
	case !r.queued:
		return nil
	case r.err != nil:
		return r.err
	}
	if !r.committed {
		r.commit()
	}
	r.rc.SetWriteDeadline(time.Now().Add(httpwire.IOTimeout))
	err := r.rc.Flush()
	r.rc.SetWriteDeadline(time.Time{})
	if err != nil {
		r.err = err
	}
	return err
}

// h2CopyBufs are the buffers SendFile copies files through.
var h2CopyBufs = sync.Pool{New: func() any { b := make([]byte, 64<<10); return &b }}

// SendFile copies the file: HTTP/2 frames every byte, so sendfile(2) cannot help.
func (r *h2Response) SendFile(f *os.File, off, n int64) error {
	switch {
	case !r.queued:
		return httpwire.ErrNoHeader
	case r.err != nil:
		return r.err
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
	bp := h2CopyBufs.Get().(*[]byte)
	defer h2CopyBufs.Put(bp)
	for n > 0 {
		k, err := f.ReadAt((*bp)[:min(int64(len(*bp)), n)], off)
		if k > 0 {
			if werr := r.write((*bp)[:k]); werr != nil {
				return werr
			}
			off, n = off+int64(k), n-int64(k)
		}
		if err == io.EOF && n > 0 {
			r.aborted = true // the length promised cannot be kept
			return httpwire.ErrShortFile
		} else if err != nil && err != io.EOF {
			r.aborted = true
			return err
		}
	}
	return nil
}

func (r *h2Response) HeaderSent() bool { return r.committed }

func (r *h2Response) Abort() { r.aborted = true }

// finish completes the response after dispatch and reports whether the stream must be reset
// instead: the app aborted, or sent less than the Content-Length it declared.
func (r *h2Response) finish() (reset bool) {
	switch {
	case r.aborted:
		return true
	case !r.queued:
		writeH2Error(r.w, httpwire.ErrNoResponse)
		return false
	}
	if !r.committed {
		r.commit()
	}
	return r.contentLength >= 0 && r.remaining > 0 && !r.noBody
}
