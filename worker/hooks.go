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
// hooks read from worker.cfg.
func workerInfo(cfg *config.Config) string {
	info, _ := json.Marshal(map[string]any{"age": Age, "cfg": config.HookSettings(cfg)})
	return string(info)
}

// hookSources are the sources of the worker's hooks, for wsgi.Options.Hooks: the Python config
// file when it defines worker hooks, then --hooks, whose functions win.
func hookSources(cfg *config.Config) string {
	var sources []string
	if cfg.Python.Defines(config.WorkerHooks) {
		sources = append(sources, cfg.Python.Source)
	}
	if cfg.Hooks != "" {
		sources = append(sources, cfg.Hooks)
	}
	return strings.Join(sources, "\n")
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
	errorlog.Info("Worker exiting (pid: %d)", os.Getpid())
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
