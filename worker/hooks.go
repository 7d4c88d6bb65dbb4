package worker

import (
	"encoding/json"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gowsgi/accesslog"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

// Age is this worker's spawn number from the master (gunicorn's worker.age): the first worker
// the master starts is 1, its next 2, and so on.
var Age int

// lastWordsLimit bounds the hooks a worker runs on its way out after INT, QUIT or ABRT: a
// request may hold the GIL for good, and the worker must end anyway. It is within the time the
// master gives a worker it told to quit or abort before it kills it (quickStopTimeout,
// abortGrace).
const lastWordsLimit = time.Second

// workerInfo describes the worker for the hooks' worker object: its age and the settings
// hooks read from worker.cfg, under gunicorn's names.
func workerInfo(cfg *config.Config) string {
	var pythonPath, pidfile any
	if len(cfg.PythonPath) > 0 {
		pythonPath = strings.Join(cfg.PythonPath, ",")
	}
	if cfg.Pidfile != "" {
		pidfile = cfg.Pidfile
	}
	info, _ := json.Marshal(map[string]any{
		"age": Age,
		"cfg": map[string]any{
			"wsgi_app":                 cfg.App.Raw,
			"bind":                     cfg.Binds,
			"workers":                  cfg.Workers,
			"worker_class":             cfg.WorkerClass,
			"threads":                  cfg.Threads,
			"worker_connections":       cfg.WorkerConnections,
			"timeout":                  cfg.Timeout,
			"graceful_timeout":         cfg.GracefulTimeout,
			"keepalive":                cfg.Keepalive,
			"max_requests":             cfg.MaxRequests,
			"max_requests_jitter":      cfg.MaxRequestsJitter,
			"limit_request_line":       cfg.LimitRequestLine,
			"limit_request_fields":     cfg.LimitRequestFields,
			"limit_request_field_size": cfg.LimitRequestFieldSize,
			"backlog":                  cfg.Backlog,
			"chdir":                    cfg.Chdir,
			"pythonpath":               pythonPath,
			"proc_name":                cfg.ProcessName(),
			"errorlog":                 cfg.ErrorLog,
			"pidfile":                  pidfile,
			"daemon":                   cfg.Daemon,
			"reuse_port":               cfg.ReusePort,
			"sendfile":                 cfg.Sendfile,
			"hooks":                    cfg.Hooks,
			"config":                   cfg.ConfigFile,
		},
	})
	return string(info)
}

// notifyAbort takes SIGABRT from its default action, which would crash the Go runtime with a
// dump of every goroutine: the master sends it to a worker that stopped reporting, before it
// kills it, so that worker_abort can run.
func notifyAbort() <-chan os.Signal {
	aborts := make(chan os.Signal, 1)
	signal.Notify(aborts, syscall.SIGABRT)
	return aborts
}

// exitOnAbort ends the worker with code 1 on SIGABRT, after worker_abort and worker_exit, as
// gunicorn's worker does.
func exitOnAbort(aborts <-chan os.Signal, h *wsgi.Handler) {
	<-aborts
	errorlog.Warning("Worker (pid %d) aborting on SIGABRT", os.Getpid())
	lastWords(h.WorkerAbort, h.WorkerExit)
	accesslog.FlushAll()
	os.Exit(1)
}

// quickExit ends the worker at once on INT or QUIT, after worker_int and worker_exit;
// requests in flight end with the process.
func quickExit(h *wsgi.Handler) {
	lastWords(h.WorkerInt, h.WorkerExit)
	accesslog.FlushAll()
	os.Exit(0)
}

// lastWords runs the hooks in turn for at most lastWordsLimit.
func lastWords(hooks ...func()) {
	done := make(chan struct{})
	go func() {
		for _, hook := range hooks {
			hook()
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(lastWordsLimit):
		errorlog.Warning("Worker hooks did not finish within %s (is a request holding the GIL?); exiting without them", lastWordsLimit)
	}
}
