// Package worker is one gowsgi worker process: it embeds the Python interpreter, loads the app,
// accepts connections on the sockets the master handed over, and serves HTTP in Go, calling
// into Python only to run the app.
package worker

import (
	"cmp"
	"errors"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"gowsgi/accesslog"
	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/metrics"
	"gowsgi/proctitle"
	"gowsgi/wsgi"
)

// Version is gowsgi's release, which the app sees in SERVER_SOFTWARE.
var Version = "dev"

// Exit codes the master understands, as gunicorn uses them.
const (
	ExitBootError = 3
	ExitLoadError = 4
)

// PythonDescription says which Python the binary embeds, for --version.
func PythonDescription() string { return wsgi.PythonDescription() }

// PythonVersion is the embedded Python's version ("3.11.2"), which a virtualenv to run in must
// have been made from.
func PythonVersion() string { return wsgi.PythonVersion() }

// Run serves until the master stops the worker and returns the process exit code. It must run
// on the main goroutine locked to its OS thread: Python's main thread is this one, and the sync
// worker class runs every request on it.
//
// The Go runtime keeps its defaults, by measurement (hello app, 64 connections): GOMAXPROCS=1
// cost no less CPU per request than one per CPU, and would make the accept loop wait on the
// main thread's system calls; a request allocates nothing on the Go heap, so the collector did
// not run once in 10 s of load and GOGC or a memory limit change nothing.
func Run(cfg *config.Config, listenerFiles []*os.File) int {
	proctitle.Set(proctitle.Title("worker", cfg.ProcessName()))
	hb := openHeartbeat()
	aborts := notifyAbort()
	reopenLogsOnUSR1(cfg.ErrorLog)
	listeners, err := openListeners(listenerFiles)
	if err != nil {
		errorlog.Error("Worker cannot use its sockets: %v", err)
		return ExitBootError
	}
	// Taken before the app is imported, which must see neither its variable nor its descriptor.
	load, err := balance.Inherit()
	if err != nil {
		errorlog.Warning("Worker accepts connections without balancing them: %v", err)
	}
	counts := metrics.NewRecorder(load)
	if counts != nil {
		errorlog.CountLines(counts.CountLine)
	}
	handler, code := loadApp(cfg)
	if handler == nil {
		return code
	}
	handler.SetMetrics(counts)
	reloading := watchForReload(cfg)
	class := newWorkerClass(cfg.WorkerClass, cfg.Threads, cfg.WorkerConnections, handler)
	retire := newRetirement(hb, cfg.MaxRequests, cfg.MaxRequestsJitter)
	srv := newHTTPServer(newLimits(cfg), urlScheme(&cfg.TLS), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		retire.starting()
		class.dispatch(req, w)
	})
	srv.peers = newPeerPolicy(cfg.Proxy)
	srv.uwsgi = newUwsgiPolicy(cfg)
	srv.load = load
	srv.counts = counts
	srv.tls = newTLSLayer(&cfg.TLS, srv)
	accepting := newAcceptors(listeners, counts)
	if cfg.Preload {
		// The fork server has the replacement serving within milliseconds: stopping now keeps
		// the worker to its --max-requests, where serving on until then would not.
		retire.then = func() {
			srv.load.Leave()
			accepting.close()
			srv.closeConnections()
		}
	}
	if err := attachEngine(class, srv); err != nil {
		errorlog.Error("Worker cannot start its event loop: %v", err)
		return ExitBootError
	}
	retire.watchMemory(cfg.MaxWorkerMemory)
	if err := startAccessLog(cfg, handler, srv); err != nil {
		errorlog.Error("Can't open the access log %s: %v", cfg.AccessLog, err)
		return ExitBootError
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	go exitOnAbort(aborts, handler)
	handler.PostWorkerInit()
	gate := class.admission()
	gate.load = load
	srv.gate = gate
	gate.publish()
	accepting.start(srv, gate)
	srv.publishLoad()
	hb.ready()
	go watchdog(handler, hb, time.Duration(cfg.Timeout)*time.Second, cfg.WorkerClass == "gevent")
	exit := make(chan int, 1)
	go func() {
		exitCode := 0
		select {
		case sig := <-stop:
			if sig != syscall.SIGTERM {
				quickExit(handler) // requests in flight end with the process
			}
		case <-reloading:
			exitCode = ExitReload
		}
		// Graceful: in-flight requests finish, idle keep-alive connections close.
		srv.load.Leave()
		deadline := time.Now().Add(time.Duration(cfg.GracefulTimeout) * time.Second)
		accepting.close()
		srv.shutdown()
		accepting.wait(deadline)
		srv.wait(deadline)
		exit <- exitCode
	}()
	code = class.run(exit)
	accesslog.FlushAll()
	handler.WorkerExit()
	wsgi.AtExit()
	errorlog.Info("Worker exiting (pid: %d)", os.Getpid())
	return code
}

// reopenLogsOnUSR1 follows logrotate: the master and every worker open the error log again,
// and workers their access log.
func reopenLogsOnUSR1(path string) {
	if err := errorlog.Open(path); err != nil {
		errorlog.Error("Can't open the error log %s: %v", path, err)
	}
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	go func() {
		for range usr1 {
			if err := errorlog.Reopen(); err != nil {
				errorlog.Error("Can't reopen the error log %s: %v", path, err)
			}
			if err := accesslog.ReopenAll(); err != nil {
				errorlog.Error("Can't reopen the access log: %v", err)
			}
		}
	}()
}

func openListeners(files []*os.File) ([]net.Listener, error) {
	if len(files) == 0 {
		return nil, errors.New("no listening socket was passed")
	}
	var out []net.Listener
	for _, f := range files {
		l, err := net.FileListener(f)
		if err != nil {
			return nil, err
		}
		f.Close()
		out = append(out, l)
	}
	return out, nil
}

// loadApp starts Python and imports the app; on failure it logs why and returns the exit code
// that tells the master not to respawn.
func loadApp(cfg *config.Config) (*wsgi.Handler, int) {
	if err := os.Chdir(cfg.Chdir); err != nil {
		errorlog.Error("Cannot change to directory %s: %v", cfg.Chdir, err)
		return nil, ExitBootError
	}
	runtime.LockOSThread()
	setEnvironment(cfg.Env)
	handler, err := wsgi.Load(appOptions(cfg))
	var loadErr *wsgi.LoadError
	var hooksErr *wsgi.HooksError
	var noGevent *wsgi.GeventMissing
	var loggingErr *wsgi.LoggingError
	switch {
	case errors.As(err, &noGevent):
		errorlog.Error("%v", noGevent)
		return nil, ExitLoadError
	case errors.As(err, &loggingErr):
		errorlog.Error("%v", loggingErr)
		return nil, ExitLoadError
	case errors.As(err, &hooksErr):
		errorlog.Error("Failed to load hooks module %q: %s: %s", hooksErr.Module, hooksErr.Kind, hooksErr.Detail)
		return nil, ExitLoadError
	case errors.As(err, &loadErr):
		errorlog.Error("Failed to load application %q: %s: %s", cmp.Or(cfg.Paste, cfg.App.Raw), loadErr.Kind, loadErr.Detail)
		if cfg.Reload {
			return serveLoadFailure(cfg, loadErr)
		}
		return nil, ExitLoadError
	case err != nil:
		errorlog.Error("Worker failed to boot: %v", err)
		return nil, ExitBootError
	}
	return handler, 0
}

// appOptions says how the worker starts Python and loads the app.
func appOptions(cfg *config.Config) wsgi.Options {
	return wsgi.Options{
		Virtualenv:     cfg.Virtualenv,
		Paths:          append([]string{cfg.Chdir}, cfg.PythonPath...),
		Multithread:    cfg.WorkerClass != "sync",
		Gevent:         cfg.WorkerClass == "gevent",
		Multiprocess:   cfg.Workers > 1,
		ServerSoftware: "gowsgi/" + Version,
		ScriptName:     scriptName(cfg),
		ProxyHeaders:   proxyHeaders(cfg.Proxy),
		Module:         cfg.App.Module,
		Attr:           cfg.App.Attr,
		Call:           cfg.App.Call,
		Args:           cfg.App.Args,
		Hooks:          hookSources(cfg),
		WorkerInfo:     workerInfo(cfg),
		Logging:        wsgi.Logging(cfg.PythonLogging),
		Spew:           cfg.Spew,
		Paste:          cfg.Paste,
		PasteGlobal:    cfg.PasteGlobal,
	}
}

// scriptName is the URL prefix the app is mounted at: --root-path, else the SCRIPT_NAME
// environment variable, as gunicorn takes it.
func scriptName(cfg *config.Config) string {
	if cfg.RootPath != "" {
		return cfg.RootPath
	}
	return os.Getenv("SCRIPT_NAME")
}
