package worker

import (
	"encoding/json"
	"os"
	"os/signal"
	"strconv"
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
	info, _ := json.Marshal(map[string]any{"age": Age, "cfg": hookSettings(cfg)})
	return string(info)
}

// hookSettings are the settings hooks read from worker.cfg and server.cfg, under gunicorn's
// names and with its types (None for a path not set).
func hookSettings(cfg *config.Config) map[string]any {
	orNone := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	settings := map[string]any{
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
		"pythonpath":               orNone(strings.Join(cfg.PythonPath, ",")),
		"proc_name":                cfg.ProcessName(),
		"errorlog":                 cfg.ErrorLog,
		"accesslog":                orNone(cfg.AccessLog),
		"access_log_format":        cfg.AccessLogFormat,
		"loglevel":                 cfg.LogLevel.String(),
		"capture_output":           cfg.CaptureOutput,
		"pidfile":                  orNone(cfg.Pidfile),
		"daemon":                   cfg.Daemon,
		"raw_env":                  cfg.Env,
		"user":                     orNone(cfg.User),
		"group":                    orNone(cfg.Group),
		"umask":                    cfg.Umask,
		"reuse_port":               cfg.ReusePort,
		"sendfile":                 cfg.Sendfile,
		"preload_app":              cfg.Preload,
		"reload":                   cfg.Reload,
		"spew":                     cfg.Spew,
		"paste":                    orNone(cfg.Paste),
		"protocol":                 cfg.Protocol,
		"root_path":                cfg.RootPath,
		"proxy_protocol":           cfg.Proxy.ProxyProtocol,
		"forwarded_allow_ips":      cfg.Proxy.ForwardedAllowIPs.String(),
		"certfile":                 orNone(cfg.TLS.CertFile),
		"keyfile":                  orNone(cfg.TLS.KeyFile),
		"hooks":                    cfg.Hooks,
		"config":                   cfg.ConfigFile,
	}
	for _, setting := range cfg.Settings {
		if _, typed := settings[setting.Key]; !typed && !strings.HasPrefix(setting.Value, "<") {
			settings[setting.Key] = settingValue(setting.Value)
		}
	}
	return settings
}

// settingValue reads a value as --print-config shows it back into a Python value: a switch,
// a number, a quoted text, a list, or a text as it is.
func settingValue(text string) any {
	if b, err := strconv.ParseBool(text); err == nil {
		return b
	}
	if n, err := strconv.Atoi(text); err == nil {
		return n
	}
	if unquoted, err := strconv.Unquote(text); err == nil {
		return unquoted
	}
	if inner, isList := strings.CutPrefix(text, "["); isList && strings.HasSuffix(inner, "]") {
		items := []any{}
		for _, item := range strings.Split(strings.TrimSuffix(inner, "]"), ", ") {
			if item != "" {
				items = append(items, settingValue(item))
			}
		}
		return items
	}
	return text
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
