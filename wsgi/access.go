package wsgi

import (
	"bytes"
	"time"

	"gowsgi/accesslog"
	"gowsgi/pyembed"
)

// accessHook reports each answered request to the access log.
type accessHook struct {
	log    *accesslog.Logger
	format *accesslog.Format
	// environ is nil when the format reads no environ key: then nothing is read from Python.
	environ *pyembed.EnvironKeys
}

// accessState is what one exchange keeps for its access log line; its buffers are reused from
// request to request.
type accessState struct {
	rec accesslog.Record
	// kept holds the request headers the log wants, copied before reading the body can
	// overwrite the engine's buffer; keptLens their name and value lengths.
	kept     []byte
	keptLens []int
	environ  []byte
	// answer is the error answer sent in the app's place, if any.
	answer *errorAnswer
}

// SetAccessLog makes h report every request it answers to log. Call it before serving.
func (h *Handler) SetAccessLog(log *accesslog.Logger) {
	hook := &accessHook{log: log, format: log.Format()}
	if keys := hook.format.EnvironKeys(); len(keys) > 0 {
		hook.environ = pyembed.NewEnvironKeys(keys)
		h.keepEnviron = true
	}
	h.access = hook
}

// begin copies what the log will need of the request head.
func (a *accessHook) begin(ex *exchange) {
	st := &ex.access
	st.answer = nil
	ex.status = ex.status[:0]
	st.kept, st.keptLens = st.kept[:0], st.keptLens[:0]
	for i := range ex.req.Header {
		f := &ex.req.Header[i]
		if a.format.WantsRequestHeader(f.Name) {
			st.kept = append(append(st.kept, f.Name...), f.Value...)
			st.keptLens = append(st.keptLens, len(f.Name), len(f.Value))
		}
	}
	// The slices are taken once kept has stopped growing.
	headers, rest := st.rec.RequestHeaders[:0], st.kept
	for i := 0; i < len(st.keptLens); i += 2 {
		name, value := st.keptLens[i], st.keptLens[i+1]
		headers = append(headers, accesslog.Header{Name: rest[:name], Value: rest[name : name+value]})
		rest = rest[name+value:]
	}
	st.rec.RequestHeaders = headers
}

// end logs the request once its response is complete and before close() is called on the
// response, as gunicorn does; call is nil for a request refused before the app saw it.
func (a *accessHook) end(h *Handler, ex *exchange, call *pyembed.Call) {
	st, req := &ex.access, ex.req
	r := &st.rec
	r.RemoteAddr, r.Method, r.RawURI, r.Path, r.Query, r.Protocol = req.RemoteAddr, req.Method, req.RawURI, req.Path, req.Query, req.Proto
	r.PathInfo = ex.pathInfo
	r.Start, r.End = ex.start, time.Now()
	r.Status, r.BodyBytes = ex.outcome()
	r.ResponseHeaders = r.ResponseHeaders[:0]
	if a.format.WantsResponseHeaders() {
		header := ex.header
		if st.answer != nil {
			header = st.answer.header
		}
		for _, f := range header {
			r.ResponseHeaders = append(r.ResponseHeaders, accesslog.Header{Name: f.Name, Value: f.Value})
		}
	}
	r.Environ = r.Environ[:0]
	if a.environ != nil && call != nil {
		r.Environ, st.environ = call.ReadEnviron(a.environ, r.Environ[:0], st.environ[:0])
	}
	a.log.Log(r)
	st.answer = nil
}

var methodHead = []byte("HEAD")

// outcome is the status the client got and the body bytes it was sent: the error answer's when
// one replaced the app's response, none for HEAD and for the statuses that have no body, and
// no more than the app's Content-Length.
func (ex *exchange) outcome() (status int, body int64) {
	if a := ex.access.answer; a != nil {
		return a.code, int64(len(a.body))
	}
	if len(ex.status) < 3 {
		return answer500.code, 0 // the engine answers for an app that sent nothing
	}
	status = int(ex.status[0]-'0')*100 + int(ex.status[1]-'0')*10 + int(ex.status[2]-'0')
	if status < 200 || status == 204 || status == 304 || bytes.Equal(ex.req.Method, methodHead) {
		return status, 0
	}
	body = ex.written
	if ex.length >= 0 {
		body = min(body, ex.length)
	}
	return status, body
}
