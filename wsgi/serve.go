// Package wsgi turns a parsed HTTP request into a PEP 3333 call of the Python application and
// turns what the application returns into a response. It knows nothing of sockets or of how the
// HTTP engine frames bytes: the engine hands it an httpwire.Request and an httpwire.ResponseWriter.
package wsgi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/metrics"
	"gowsgi/pyembed"
)

// Handler calls one WSGI application for each request.
type Handler struct {
	app *pyembed.App
	// scriptName is the mount point from the SCRIPT_NAME environment variable; it is removed
	// from the front of PATH_INFO.
	scriptName []byte
	proxy      proxyPolicy
	inFlight   inFlight
	access     *accessHook // nil without an access log
	metrics    *metrics.Recorder
	// workerHooks is the hooks module (nil for none); hooks is set when it has request hooks.
	workerHooks *pyembed.Hooks
	hooks       *requestHooks
	// keepEnviron keeps each request's environ until the call ends, for the access log.
	keepEnviron bool
}

// NewHandler serves app, mounted at scriptName ("" for the root).
func NewHandler(app *pyembed.App, scriptName string) *Handler {
	return &Handler{app: app, scriptName: []byte(scriptName)}
}

// exchange is one request's state while the app runs; it is what Python's wsgi.input and
// write() call back into.
type exchange struct {
	req  *httpwire.Request
	w    httpwire.ResponseWriter
	env  environBuffer
	path []byte
	// pathInfo is PATH_INFO as the app got it.
	pathInfo []byte
	header   []httpwire.HeaderField
	status   []byte
	length   int64 // Content-Length the app declared, or -1
	written  int64
	failed   bool  // the client went away
	bodyErr  error // reading the request body failed
	access   accessState
	hooked   *hookedRequest

	// Guarded by Handler.inFlight.mu while the request is in flight.
	start       time.Time
	thread      uint64
	slot        int
	interrupted time.Time // when Watch raised RequestTimeout in the request
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// Serve runs the application for req and writes its response to w. The caller holds its OS
// thread for the duration, so the request stays on one Python thread state.
func (h *Handler) Serve(req *httpwire.Request, w httpwire.ResponseWriter) {
	ex := exchangePool.Get().(*exchange)
	ex.req, ex.w, ex.length, ex.written, ex.failed, ex.bodyErr = req, w, -1, 0, false, nil
	h.countBegin(ex)
	refused := h.buildEnviron(ex)
	if h.access != nil {
		h.access.begin(ex)
	}
	if refused != nil {
		h.refuse(ex, refused)
		return
	}
	h.inFlight.add(ex)
	call, st := h.start(ex)
	for !ex.failed {
		if st.Head != nil && !ex.setHead(st.Head, &st) {
			break
		}
		if st.Kind == pyembed.StepFile {
			ex.sendFile(st.FD)
			break
		}
		if st.Kind != pyembed.StepChunk {
			break
		}
		if _, err := w.Write(st.Data); err != nil {
			ex.failed = true
			break
		}
		ex.written += int64(len(st.Data))
		if st.Last {
			st = pyembed.Step{Kind: pyembed.StepDone}
			break
		}
		// The next chunk may take the app a while: what it produced so far goes out first,
		// unless the next is at hand. A body complete by its declared length goes out at
		// once, whatever the app still does before it stops iterating (PEP 3333: a block is
		// never delayed).
		if !st.NextReady || ex.length >= 0 && ex.written >= ex.length {
			if err := w.Flush(); err != nil {
				ex.failed = true
				break
			}
		}
		st = call.Next()
	}
	if st.Kind == pyembed.StepError {
		h.fail(ex, st.Err)
	}
	h.countEnd(ex, true)
	if h.access != nil {
		h.access.end(h, ex, call)
	}
	// Out of Watch's reach first: a timeout that came too late is then withdrawn by Finish,
	// instead of landing in whatever runs next on this thread.
	if msg := h.finish(call, ex, h.inFlight.remove(ex)); msg != "" {
		errorlog.Exception("Error closing the response of %s %s\n%s", req.Method, req.Path, msg)
	}
	ex.req, ex.w = nil, nil
	exchangePool.Put(ex)
}

// buildEnviron packs the environ of the request, or returns the answer that refuses it.
func (h *Handler) buildEnviron(ex *exchange) *errorAnswer {
	req, e := ex.req, &ex.env
	ex.pathInfo = ex.pathInfo[:0]
	var fwd forwardedView
	if refused := h.proxy.inspect(req, &fwd); refused != nil {
		return refused
	}
	e.reset()
	e.add(keyRequestMethod, req.Method)
	ex.path = appendUnescaped(ex.path[:0], req.Path)
	scriptName, pathInfo := h.mountPoint(ex.path, &fwd)
	if len(scriptName) > 0 {
		e.add(keyScriptName, scriptName)
	}
	e.add(keyPathInfo, pathInfo)
	// A copy: a PATH_INFO header from a proxy lives in the engine's buffer, which reading the
	// body overwrites before the access log wants it.
	ex.pathInfo = append(ex.pathInfo, pathInfo...)
	e.add(keyQueryString, req.Query)
	e.add(keyRawURI, req.RawURI)
	e.addString(keyServerProtocol, req.Proto)
	e.addString(keyServerName, req.ServerName)
	e.addString(keyServerPort, req.ServerPort)
	e.addString(keyRemoteAddr, req.RemoteAddr)
	e.addString(keyRemotePort, req.RemotePort)
	e.addString(keyURLScheme, fwd.scheme)
	for i := range req.Header {
		if h.proxy.passes(req.Header[i].Name, req.TrustedPeer) {
			e.addHeader(req.Header[i].Name, req.Header[i].Value)
		}
	}
	if req.ProxyProtocol != "" {
		e.addLiteral("PROXY_PROTOCOL", req.ProxyProtocol)
		e.addLiteral("PROXY_ADDR", req.ProxyAddr)
		e.addLiteral("PROXY_PORT", req.ProxyPort)
	}
	return nil
}

// underMount reports whether path lies under the mount point, at a segment boundary ("/app" and
// "/app/x" do, "/application" does not), and what remains of it. A path outside the mount is
// given to the app whole, with an empty SCRIPT_NAME, so that SCRIPT_NAME + PATH_INFO is always
// the path requested (PEP 3333).
func underMount(path, mount []byte) (bool, []byte) {
	if len(mount) == 0 || !bytes.HasPrefix(path, mount) {
		return false, path
	}
	rest := path[len(mount):]
	if len(rest) > 0 && rest[0] != '/' {
		return false, path
	}
	return true, rest
}

// setHead reads the packed status and headers the app gave start_response and queues them.
func (ex *exchange) setHead(head []byte, st *pyembed.Step) bool {
	line, rest, _ := bytes.Cut(head, crlf)
	ex.status = append(ex.status[:0], line...)
	code := int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0') // start_response checked the digits
	ex.header = ex.header[:0]
	ex.length = -1
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, _ := bytes.Cut(line, colonSpace)
		ex.header = append(ex.header, httpwire.HeaderField{Name: name, Value: value})
		if len(name) == len("Content-Length") && bytes.EqualFold(name, []byte("Content-Length")) {
			ex.length = parseLength(value)
		}
	}
	if err := ex.w.WriteHeader(ex.status, code, ex.header); err != nil {
		st.Kind, st.Err = pyembed.StepError, err.Error()
		return false
	}
	return true
}

// parseLength reads a Content-Length value the app gave, or -1 when it is not a plain number.
func parseLength(v []byte) int64 {
	if len(v) == 0 || len(v) > 18 {
		return -1
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int64(c-'0')
	}
	return n
}

var (
	crlf       = []byte("\r\n")
	colonSpace = []byte(": ")
)

func (ex *exchange) sendFile(fd int) {
	// The descriptor belongs to the app's file object: send from a duplicate, from where the
	// file's position is now, as PEP 3333 asks of file_wrapper.
	off, err := syscall.Seek(fd, 0, 1)
	if err != nil {
		off = 0
	}
	dup, err := syscall.Dup(fd)
	if err != nil {
		ex.failed = true
		return
	}
	f := os.NewFile(uintptr(dup), "file_wrapper")
	defer f.Close()
	if err := ex.w.SendFile(f, off, -1); err != nil {
		ex.failed = true
	} else if info, err := f.Stat(); err == nil {
		ex.written += max(info.Size()-off, 0)
	}
}

// refuse answers a request turned away before the app saw it.
func (h *Handler) refuse(ex *exchange, answer *errorAnswer) {
	ex.w.WriteHeader(answer.status, answer.code, answer.header)
	ex.w.Write(answer.body)
	ex.access.answer = answer
	h.countEnd(ex, false)
	if h.access != nil {
		ex.start = time.Now()
		h.access.end(h, ex, nil)
	}
	ex.req, ex.w = nil, nil
	exchangePool.Put(ex)
}

// fail answers 500 when nothing was sent yet, and cuts the connection otherwise. A request
// ended by its timeout gets 503, and one whose client sent a malformed body 400: the client is
// to blame there, not the app.
func (h *Handler) fail(ex *exchange, reason string) {
	answer := &answer500
	switch {
	case h.inFlight.timedOut(ex):
		errorlog.Warning("Request %s %s ended by its timeout", ex.req.Method, ex.req.RawURI)
		answer = &answer503
	case errors.Is(ex.bodyErr, httpwire.ErrMalformedBody):
		errorlog.Warning("Bad request body from %s: %v", ex.req.RemoteAddr, ex.bodyErr)
		answer = &answer400
	case ex.bodyErr != nil:
		// The client went away while sending its body: nobody is left to answer, and the
		// app did nothing wrong.
		errorlog.Info("Client %s left while %s %s read its body: %v", ex.req.RemoteAddr,
			ex.req.Method, ex.req.RawURI, ex.bodyErr)
		answer = &answer400
	default:
		errorlog.Exception("Error handling request %s %s\n%s", ex.req.Method, ex.req.RawURI, reason)
	}
	if ex.failed || ex.w.HeaderSent() {
		ex.w.Abort()
		return
	}
	ex.access.answer = answer
	ex.w.WriteHeader(answer.status, answer.code, answer.header)
	ex.w.Write(answer.body)
}

// errorAnswer is a short plain-text answer that closes the connection.
type errorAnswer struct {
	status []byte
	code   int
	header []httpwire.HeaderField
	body   []byte
}

var (
	answer400 = newErrorAnswer(400, "Bad Request")
	answer500 = newErrorAnswer(500, "Internal Server Error")
	answer503 = newErrorAnswer(503, "Service Unavailable")
)

func newErrorAnswer(code int, reason string) errorAnswer {
	body := []byte(reason + "\n")
	return errorAnswer{
		status: []byte(strconv.Itoa(code) + " " + reason),
		code:   code,
		body:   body,
		header: []httpwire.HeaderField{
			{Name: []byte("Content-Type"), Value: []byte("text/plain; charset=utf-8")},
			{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len(body)))},
			{Name: []byte("Connection"), Value: []byte("close")},
		},
	}
}

// ReadBody serves wsgi.input.
func (ex *exchange) ReadBody(p []byte) (int, error) {
	n, err := ex.req.Body.Read(p)
	if err != nil && err != io.EOF {
		ex.bodyErr = err
	}
	return n, err
}

// WriteNow serves the write() callable: the header first if it has not gone yet, then the
// bytes, flushed, as PEP 3333 asks of write().
func (ex *exchange) WriteNow(head, body []byte) error {
	if head != nil {
		var st pyembed.Step
		if !ex.setHead(head, &st) {
			return os.ErrInvalid
		}
	}
	if _, err := ex.w.Write(body); err != nil {
		ex.failed = true
		return err
	}
	ex.written += int64(len(body))
	if err := ex.w.Flush(); err != nil {
		ex.failed = true
		return err
	}
	return nil
}
