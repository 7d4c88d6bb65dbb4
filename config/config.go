// Package config holds the settings that the master and every worker share. Workers are the
// same binary re-executed with the same command line, so both sides build their Config with Parse.
package config

import "gowsgi/errorlog"

// Config is the resolved configuration, with gunicorn's meaning for each field.
type Config struct {
	// ConfigFile is the absolute path of the YAML config file read, "" when there was none.
	ConfigFile string
	// App is the application spec: "module:variable", "module" or "module:factory(args)".
	App AppSpec
	// Binds are the addresses to listen on ("127.0.0.1:8000", "[::1]:8000").
	Binds []string
	// Workers is the number of worker processes.
	Workers int
	// WorkerClass is "sync", "gthread" or "gevent"; sync with Threads > 1 is resolved to gthread.
	WorkerClass string
	// Threads is the number of Python threads serving requests in one worker.
	Threads int
	// WorkerConnections bounds the requests a gevent worker runs at once.
	WorkerConnections int
	// Chdir is the directory the app is loaded from; it is first on sys.path.
	Chdir string
	// PythonPath are extra directories for sys.path, after Chdir.
	PythonPath []string
	// Virtualenv is the virtualenv to run in ("" when none), from --virtualenv or VIRTUAL_ENV.
	Virtualenv string

	LimitRequestLine      int
	LimitRequestFields    int
	LimitRequestFieldSize int
	// Sendfile is false with --no-sendfile.
	Sendfile bool
	// Keepalive is the idle keep-alive time in seconds.
	Keepalive int
	// ErrorLog is the error log file, made absolute, or "-" for standard error.
	ErrorLog string
	// AccessLog is the access log file, made absolute, "-" for standard output, "" for none.
	AccessLog string
	// AccessLogFormat is gunicorn's access_log_format, already checked by accesslog.ParseFormat.
	AccessLogFormat string
	// AccessLogJSON writes the access log as JSON lines instead.
	AccessLogJSON bool
	// LogLevel is the least severe error log level written.
	LogLevel errorlog.Level
	// CaptureOutput sends the app's standard output and error to the error log file.
	CaptureOutput bool
	// GracefulTimeout is how long a graceful stop waits for in-flight requests, in seconds.
	GracefulTimeout int
	// Timeout is how many seconds a worker may go without reporting to the master before it is
	// killed and replaced; 0 disables the check.
	Timeout int
	// MaxRequests makes a worker retire after that many requests plus a random number up to
	// MaxRequestsJitter; 0 disables it.
	MaxRequests       int
	MaxRequestsJitter int
	// MaxWorkerMemory makes a worker retire when its resident memory exceeds that many MiB; 0
	// disables it.
	MaxWorkerMemory int

	// Backlog is the listen backlog of every socket the master opens.
	Backlog int
	// ReusePort sets SO_REUSEPORT on TCP sockets, so that several servers can share a port.
	ReusePort bool
	// Pidfile is the absolute path of the file that holds the master's pid; "" for none.
	Pidfile string
	// Daemon detaches the master from the terminal.
	Daemon bool
	// User and Group are the account workers run as (-u, -g), a name or a number already
	// checked to exist; "" keeps the master's. Initgroups also gives workers the user's groups.
	User       string
	Group      string
	Initgroups bool
	// Umask is the mode mask for the unix sockets the master creates.
	Umask int
	// ProcName is -n/--name, the base of process titles; see ProcessName.
	ProcName string
	// Proxy is what the proxies in front of gowsgi are believed about.
	Proxy ProxyConfig
	// TLS is --certfile and the other TLS flags; its zero value means plain HTTP.
	TLS TLSSettings
	// Hooks is the Python module whose hook functions workers call ("" for none); ShellHooks
	// are the master's hook commands.
	Hooks      string
	ShellHooks ShellHooks

	// ConfigText is the config file's content as read, so that workers apply exactly the file
	// their master parsed, even once it has been edited (see WorkerEnv).
	ConfigText string
	// CheckConfig and PrintConfig ask for a check or a print of the settings instead of serving.
	CheckConfig bool
	PrintConfig bool
	// Env holds KEY=VALUE pairs (-e, raw_env) set in the master's and workers' environment.
	Env []string
	// Reload restarts a worker when a file its app imported, or one of ReloadExtraFiles (made
	// absolute), changes; ReloadEngine is auto, inotify or poll.
	Reload           bool
	ReloadEngine     string
	ReloadExtraFiles []string

	// Preload is --preload (preload_app); Spew traces every line of Python the workers run.
	Preload bool
	Spew    bool
	// Paste is the absolute path of a PasteDeploy file, with its "#section" if given, that
	// names the app instead of App; PasteGlobal are its global_conf KEY=VALUE pairs.
	Paste       string
	PasteGlobal []string
	// Protocol is what clients speak on the sockets: "http", or "uwsgi" (nginx's uwsgi_pass).
	Protocol string
	// RootPath is the URL prefix the app is mounted at (SCRIPT_NAME), "" for none.
	RootPath    string
	HTTPParsing HTTPParsing
	HTTP2       HTTP2Limits
	// PythonLogging configures the workers' Python logging before the app is imported.
	PythonLogging PythonLogging
	Syslog        Syslog
	// EnableStdioInheritance keeps standard output and error of a daemonized master.
	EnableStdioInheritance bool
	// ControlSocket is where the master takes `gowsgi ctl` commands.
	ControlSocket ControlSocket
	// Metrics is where the master reports the workers' counts: Prometheus and statsd.
	Metrics Metrics
	// Python is the Python config file read ("" for none): its hook functions.
	Python PythonHooks
	// Notices are info lines the master logs at start-up: settings given that change nothing
	// here, and why.
	Notices []string
	// Settings are every setting as --print-config shows it, for what hooks read of the
	// settings that have no field here.
	Settings Settings
	// Warnings are lines the master logs as warnings at start-up: arguments ignored, names in a
	// Python config file that look like misspelt settings.
	Warnings []string
}

// AppSpec names the WSGI callable.
type AppSpec struct {
	// Module is the dotted module name.
	Module string
	// Attr is the variable name, or the factory name when Call is set.
	Attr string
	// Call is set for "module:factory(...)"; Args holds the literal argument text between the
	// parentheses, to be evaluated by Python's ast.literal_eval.
	Call bool
	Args string
	// Raw is the spec as the user wrote it, for messages and process titles.
	Raw string
}
