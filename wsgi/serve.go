package wsgi

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"

	"gowsgi/errorlog"
	"gowsgi/pyembed"
)

// Handler calls one WSGI application for each request.
type Handler struct {
	app *pyembed.App
	// scriptName is the mount point from the SCRIPT_NAME environment variable; it is removed
	// from the front of PATH_INFO.
	scriptName []byte
}

// NewHandler serves app, mounted at scriptName ("" for the root).
func NewHandler(app *pyembed.App, scriptName string) *Handler {
	return &Handler{app: app, scriptName: []byte(scriptName)}
}

// exchange is one request's state while the app runs; it is what Python's wsgi.input and
// write() call back into.
type exchange struct {
	req     *Request
	w       ResponseWriter
	env     environBuffer
	path    []byte
	header  []HeaderField
	status  []byte
	length  int64 // Content-Length the app declared, or -1
	written int64
	failed  bool  // the client went away
	bodyErr error // reading the request body failed
}

var exchangePool = sync.Pool{New: func() any { return new(exchange) }}

// Serve runs the application for req and writes its response to w. The caller holds its OS
// thread for the duration, so the request stays on one Python thread state.
func (h *Handler) Serve(req *Request, w ResponseWriter) {
	ex := exchangePool.Get().(*exchange)
	ex.req, ex.w, ex.length, ex.written, ex.failed, ex.bodyErr = req, w, -1, 0, false, nil
	h.buildEnviron(ex)
	call, st := h.app.Start(ex.env.b, req.ContentLength, ex)
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
		// The next chunk may take the app a while: what it produced so far goes out first,
		// unless the declared length is complete and nothing more can be sent anyway.
		if ex.length < 0 || ex.written < ex.length {
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
	if msg := call.Finish(); msg != "" {
		errorlog.Error("Error closing the response of %s %s\n%s", req.Method, req.Path, msg)
	}
	ex.req, ex.w = nil, nil
	exchangePool.Put(ex)
}

func (h *Handler) buildEnviron(ex *exchange) {
	req, e := ex.req, &ex.env
	e.reset()
	e.add(keyRequestMethod, req.Method)
	ex.path = appendUnescaped(ex.path[:0], req.Path)
	pathInfo := ex.path
	if len(h.scriptName) > 0 {
		e.add(keyScriptName, h.scriptName)
		pathInfo = bytes.TrimPrefix(pathInfo, h.scriptName)
	}
	e.add(keyPathInfo, pathInfo)
	e.add(keyQueryString, req.Query)
	e.add(keyRawURI, req.RawURI)
	e.addString(keyServerProtocol, req.Proto)
	e.addString(keyServerName, req.ServerName)
	e.addString(keyServerPort, req.ServerPort)
	e.addString(keyRemoteAddr, req.RemoteAddr)
	e.addString(keyRemotePort, req.RemotePort)
	e.addString(keyURLScheme, req.Scheme)
	for i := range req.Header {
		e.addHeader(req.Header[i].Name, req.Header[i].Value)
	}
}

// setHead reads the packed status and headers the app gave start_response and queues them.
func (ex *exchange) setHead(head []byte, st *pyembed.Step) bool {
	line, rest, _ := bytes.Cut(head, crlf)
	ex.status = append(ex.status[:0], line...)
	code, _ := strconv.Atoi(string(line[:3]))
	ex.header = ex.header[:0]
	ex.length = -1
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, crlf)
		name, value, _ := bytes.Cut(line, colonSpace)
		ex.header = append(ex.header, HeaderField{Name: name, Value: value})
		if len(name) == len("Content-Length") && bytes.EqualFold(name, []byte("Content-Length")) {
			if n, err := strconv.ParseInt(string(value), 10, 64); err == nil && n >= 0 {
				ex.length = n
			}
		}
	}
	if err := ex.w.WriteHeader(ex.status, code, ex.header); err != nil {
		st.Kind, st.Err = pyembed.StepError, err.Error()
		return false
	}
	return true
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
	}
}

// fail answers 500 when nothing was sent yet, and cuts the connection otherwise. When the app
// failed because the client's body was malformed, the answer is 400 and the client is to blame.
func (h *Handler) fail(ex *exchange, reason string) {
	sent := ex.failed || ex.w.HeaderSent()
	if errors.Is(ex.bodyErr, ErrMalformedBody) {
		errorlog.Warning("Bad request body from %s: %v", ex.req.RemoteAddr, ex.bodyErr)
		if !sent {
			ex.w.WriteHeader(status400, 400, header400)
			ex.w.Write(body400)
		}
	} else {
		errorlog.Error("Error handling request %s %s\n%s", ex.req.Method, ex.req.RawURI, reason)
		if !sent {
			ex.w.WriteHeader(status500, 500, header500)
			ex.w.Write(body500)
		}
	}
	if sent {
		ex.w.Abort()
	}
}

var (
	status500, body500, header500 = errorAnswer("500 Internal Server Error")
	status400, body400, header400 = errorAnswer("400 Bad Request")
)

// errorAnswer makes a short plain-text answer that closes the connection.
func errorAnswer(status string) ([]byte, []byte, []HeaderField) {
	body := []byte(status[4:] + "\n")
	return []byte(status), body, []HeaderField{
		{Name: []byte("Content-Type"), Value: []byte("text/plain; charset=utf-8")},
		{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len(body)))},
		{Name: []byte("Connection"), Value: []byte("close")},
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
