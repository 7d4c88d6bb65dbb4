package wsgi

import (
	"os"
	"strconv"
	"sync"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/pyembed"
)

// HooksError says why the hooks module (--hooks) could not be imported.
type HooksError struct {
	Module string
	*pyembed.LoadError
}

// loadHooks imports the hooks before the app, as gunicorn reads its config file before it
// loads the app, and runs post_fork, which gunicorn runs in a new worker before the app loads.
func loadHooks(sources, workerInfo string) (*pyembed.Hooks, error) {
	pyembed.HookLog = LogFromPython
	hooks, err := pyembed.LoadHooks(sources, workerInfo)
	if err != nil {
		return nil, &HooksError{Module: sources, LoadError: err.(*pyembed.LoadError)}
	}
	hooks.Run(pyembed.PostFork)
	return hooks, nil
}

// LogFromPython writes what hooks log through worker.log or server.log at its level, which
// --log-level filters.
func LogFromPython(level, text string) {
	switch level {
	case "debug":
		errorlog.Debug("%s", text)
	case "info":
		errorlog.Info("%s", text)
	case "warning":
		errorlog.Warning("%s", text)
	case "critical":
		errorlog.Critical("%s", text)
	default:
		errorlog.Error("%s", text)
	}
}

// useHooks gives the handler the hooks module; pre_request and post_request then run around
// every request, on its thread.
func (h *Handler) useHooks(hooks *pyembed.Hooks, app *pyembed.App) {
	hooks.SetApp(app)
	h.workerHooks = hooks
	if hooks.Defines(pyembed.PreRequest) || hooks.Defines(pyembed.PostRequest) {
		h.hooks = &requestHooks{py: hooks, post: hooks.Defines(pyembed.PostRequest)}
	}
}

// PostWorkerInit runs the post_worker_init hook, if there is one: the app is loaded and the
// worker does not accept yet.
func (h *Handler) PostWorkerInit() { h.runHook(pyembed.PostWorkerInit) }

// WorkerInt runs the worker_int hook, if there is one: INT or QUIT is about to end the worker.
func (h *Handler) WorkerInt() { h.runHook(pyembed.WorkerInt) }

// WorkerAbort runs the worker_abort hook, if there is one: SIGABRT is about to end the worker.
func (h *Handler) WorkerAbort() { h.runHook(pyembed.WorkerAbort) }

// WorkerExit runs the worker_exit hook, if there is one, as the worker ends.
func (h *Handler) WorkerExit() { h.runHook(pyembed.WorkerExit) }

func (h *Handler) runHook(name string) {
	if h.workerHooks != nil {
		h.workerHooks.Run(name)
	}
}

// requestHooks runs pre_request and post_request. A Handler has one only when the module
// defines either, so a request without them costs one nil check.
type requestHooks struct {
	py   *pyembed.Hooks
	post bool
}

// hookedRequest is a request's state between its hooks.
type hookedRequest struct {
	req    pyembed.HookRequest
	rec    hookRecorder
	fields []byte
}

var hookedPool = sync.Pool{New: func() any { return new(hookedRequest) }}

// start calls the app for the request in ex, with pre_request before it when there are hooks.
func (h *Handler) start(ex *exchange) (*pyembed.Call, pyembed.Step) {
	if h.hooks != nil {
		return h.startHooked(ex)
	}
	if h.keepEnviron {
		return h.app.StartKeepingEnviron(ex.env.b, ex.req.ContentLength, ex)
	}
	return h.app.Start(ex.env.b, ex.req.ContentLength, ex)
}

func (h *Handler) startHooked(ex *exchange) (*pyembed.Call, pyembed.Step) {
	hr := hookedPool.Get().(*hookedRequest)
	ex.hooked = hr
	hr.fields = packRequest(hr.fields[:0], ex.req)
	hr.req = h.hooks.py.PreRequest(ex, hr.fields)
	hr.rec = hookRecorder{ResponseWriter: ex.w, head: hr.rec.head[:0]}
	ex.w = &hr.rec
	if h.hooks.post || h.keepEnviron {
		return h.app.StartKeepingEnviron(ex.env.b, ex.req.ContentLength, ex)
	}
	return h.app.Start(ex.env.b, ex.req.ContentLength, ex)
}

// finish ends the call (see pyembed.Call.Finish), with post_request after close() when there
// are hooks.
func (h *Handler) finish(call *pyembed.Call, ex *exchange, interrupted bool) string {
	if ex.hooked != nil {
		return h.finishHooked(call, ex, interrupted)
	}
	return call.Finish(interrupted)
}

func (h *Handler) finishHooked(call *pyembed.Call, ex *exchange, interrupted bool) string {
	hr := ex.hooked
	ex.hooked = nil
	hr.fields = hr.fields[:0]
	if h.hooks.post {
		var number [20]byte
		hr.fields = pyembed.AppendField(hr.fields, strconv.AppendInt(number[:0], ex.written+hr.rec.fileBytes, 10))
		if len(hr.rec.head) == 0 {
			hr.fields = pyembed.AppendField(hr.fields, "")
		}
		hr.fields = append(hr.fields, hr.rec.head...)
	}
	msg := call.FinishHooked(interrupted, hr.req, hr.fields)
	hr.req, hr.rec.ResponseWriter = pyembed.HookRequest{}, nil
	hookedPool.Put(hr)
	return msg
}

// packRequest lays out what the request object carries, in the order pyembed.PreRequest
// reads it; header names are upper-cased, as gunicorn gives them.
func packRequest(b []byte, req *httpwire.Request) []byte {
	b = pyembed.AppendField(b, req.Method)
	b = pyembed.AppendField(b, req.RawURI)
	b = pyembed.AppendField(b, req.Path)
	b = pyembed.AppendField(b, req.Query)
	b = pyembed.AppendField(b, req.Proto)
	b = pyembed.AppendField(b, req.RemoteAddr)
	b = pyembed.AppendField(b, req.RemotePort)
	b = pyembed.AppendField(b, req.Scheme)
	for _, f := range req.Header {
		start := len(b)
		b = pyembed.AppendField(b, f.Name)
		for i := start + 4; i < len(b); i++ {
			if 'a' <= b[i] && b[i] <= 'z' {
				b[i] -= 'a' - 'A'
			}
		}
		b = pyembed.AppendField(b, f.Value)
	}
	return b
}

// hookRecorder notes the response that went to the engine for post_request: the last status
// and headers given (an error answer replaces the app's), and the bytes sent from files.
type hookRecorder struct {
	httpwire.ResponseWriter
	head      []byte
	fileBytes int64
}

func (r *hookRecorder) WriteHeader(status []byte, code int, header []httpwire.HeaderField) error {
	r.head = pyembed.AppendField(r.head[:0], status)
	for _, f := range header {
		r.head = pyembed.AppendField(r.head, f.Name)
		r.head = pyembed.AppendField(r.head, f.Value)
	}
	return r.ResponseWriter.WriteHeader(status, code, header)
}

func (r *hookRecorder) SendFile(f *os.File, off, n int64) error {
	err := r.ResponseWriter.SendFile(f, off, n)
	if err == nil && n < 0 {
		if info, statErr := f.Stat(); statErr == nil {
			n = info.Size() - off
		}
	}
	if err == nil && n > 0 {
		r.fileBytes += n
	}
	return err
}
