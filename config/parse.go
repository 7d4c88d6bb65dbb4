package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"gowsgi/accesslog"
)

// ErrHelp and ErrVersion are returned by Parse for -h and -v, so that the caller prints the
// usage or the version and exits 0 instead of treating them as mistakes.
var (
	ErrHelp    = errors.New("help requested")
	ErrVersion = errors.New("version requested")
)

// Limits above which gunicorn's parser refuses to go; 0 on the command line means "the most
// we allow" for the request line and the header count, as it does in gunicorn, and the default
// for the header line size.
const (
	maxRequestLine          = 8190
	maxRequestFields        = 32768
	maxRequestFieldSize     = 65534
	defaultRequestFieldSize = 8190
)

// options holds the command line as typed, before defaults from the environment are applied.
type options struct {
	binds           []string
	workers         numberFlag
	workerClass     string
	threads         numberFlag
	connections     numberFlag
	chdir           string
	pythonPath      string
	virtualenv      string
	limitLine       numberFlag
	limitFields     numberFlag
	limitFieldSize  numberFlag
	noSendfile      bool
	keepalive       numberFlag
	gracefulTimeout numberFlag
	timeout         numberFlag
	maxRequests     numberFlag
	maxJitter       numberFlag
	maxMemory       numberFlag
	backlog         numberFlag
	reusePort       bool
	pidfile         string
	daemon          bool
	user            string
	group           string
	initgroups      bool
	umask           umaskFlag
	procName        string
	errorLog        string
	proxy           proxyOptions
	accessLog       string
	accessLogFormat string
	accessLogJSON   bool
	logLevel        string
	captureOutput   bool
	config          string
	tls             tlsOptions
	hooks           hookOptions
	extra           extraOptions
	checkConfig     bool
	printConfig     bool
	env             []string
	reload          bool
	reloadEngine    string
	reloadExtra     []string
	version         bool
	help            bool
}

// numberFlag is an integer flag that validates itself, so that a bad value is reported in our
// words rather than with strconv's.
type numberFlag struct {
	value    int
	min      int
	set      bool
	fallback int
}

// Set reads the number as gunicorn's int(text, 0) does: blanks around it, and a 0x, 0o or 0b
// prefix, are allowed.
func (n *numberFlag) Set(text string) error {
	text = strings.TrimSpace(text)
	base := 10
	if len(text) > 2 && text[0] == '0' && strings.ContainsRune("xXoObB", rune(text[1])) {
		base = 0
	}
	v64, err := strconv.ParseInt(text, base, 0)
	if err != nil {
		return errors.New("not a number")
	}
	v := int(v64)
	if v < n.min {
		if n.min == 0 {
			return errors.New("must not be negative")
		}
		return fmt.Errorf("must be at least %d", n.min)
	}
	n.value, n.set = v, true
	return nil
}

func (n *numberFlag) String() string {
	if n.set {
		return strconv.Itoa(n.value)
	}
	return strconv.Itoa(n.fallback)
}

func (n *numberFlag) Type() string { return "int" }

func (n *numberFlag) get() int {
	if n.set {
		return n.value
	}
	return n.fallback
}

func newOptions() *options {
	return &options{
		workers:         numberFlag{min: 1, fallback: 1},
		threads:         numberFlag{min: 1, fallback: 1},
		connections:     numberFlag{min: 1, fallback: 1000},
		limitLine:       numberFlag{fallback: 4094},
		limitFields:     numberFlag{fallback: 100},
		limitFieldSize:  numberFlag{fallback: defaultRequestFieldSize},
		keepalive:       numberFlag{fallback: 2},
		gracefulTimeout: numberFlag{fallback: 30},
		timeout:         numberFlag{fallback: 30},
		backlog:         numberFlag{min: 1, fallback: 2048},
		proxy:           newProxyOptions(),
		extra:           newExtraOptions(),
	}
}

// flagSet declares gowsgi's flags with gunicorn's spelling. The word in backquotes in a usage
// text names the flag's argument; Usage shows it after the flag.
func (o *options) flagSet() *pflag.FlagSet {
	fs := pflag.NewFlagSet("gowsgi", pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.SortFlags = false
	fs.StringArrayVarP(&o.binds, "bind", "b", nil,
		"listen on `ADDRESS`: HOST:PORT, [IPv6]:PORT, HOST, unix:PATH or fd://N; repeatable (default 127.0.0.1:8000, or 0.0.0.0:$PORT when PORT is set)")
	fs.VarP(&o.workers, "workers", "w", "run `INT` worker processes (default $WEB_CONCURRENCY or 1)")
	fs.StringVarP(&o.workerClass, "worker-class", "k", "sync",
		"worker class `NAME`: sync, gthread or gevent (default sync)")
	fs.Var(&o.threads, "threads", "run `INT` Python threads per worker; sync with more than 1 becomes gthread (default 1)")
	fs.Var(&o.connections, "worker-connections", "run up to `INT` requests at once in each gevent worker; more wait their turn (default 1000)")
	fs.StringVar(&o.chdir, "chdir", "", "load the app from `DIR` (default the current directory)")
	fs.StringVar(&o.pythonPath, "pythonpath", "", "add `DIRS`, comma-separated, to sys.path")
	fs.StringVar(&o.virtualenv, "virtualenv", "", "run in the virtualenv at `PATH` (default $VIRTUAL_ENV)")
	fs.Var(&o.limitLine, "limit-request-line", "refuse request lines over `INT` bytes; 0 means 8190, the most allowed (default 4094)")
	fs.Var(&o.limitFields, "limit-request-fields", "refuse requests with more than `INT` headers; 0 means 32768, the most allowed (default 100)")
	fs.Var(&o.limitFieldSize, "limit-request-field_size", "refuse header lines over `INT` bytes, their CRLF included; 0 means the default, as in gunicorn; at most 65534 (default 8190)")
	fs.BoolVar(&o.noSendfile, "no-sendfile", false, "do not use sendfile for wsgi.file_wrapper")
	fs.Var(&o.keepalive, "keep-alive", "wait `INT` seconds for the next request on a keep-alive connection (default 2)")
	fs.Var(&o.gracefulTimeout, "graceful-timeout", "give workers `INT` seconds to finish their requests when stopping (default 30)")
	fs.VarP(&o.timeout, "timeout", "t", "interrupt a request running over `INT` seconds, and replace a worker silent for as long; 0 disables (default 30)")
	fs.Var(&o.maxRequests, "max-requests", "replace a worker after it has served `INT` requests; 0 disables (default 0)")
	fs.Var(&o.maxJitter, "max-requests-jitter", "add a random 0 to `INT` to each worker's --max-requests (default 0)")
	fs.Var(&o.maxMemory, "max-worker-memory", "replace a worker whose resident memory exceeds `MIB` MiB; 0 disables (default 0)")
	fs.Var(&o.backlog, "backlog", "let up to `INT` connections wait to be accepted on each socket (default 2048)")
	fs.BoolVar(&o.reusePort, "reuse-port", false, "set SO_REUSEPORT, so that several servers can listen on one port")
	o.proxy.addFlags(fs)
	fs.StringVarP(&o.pidfile, "pid", "p", "", "write the master's pid to `FILE`")
	fs.BoolVarP(&o.daemon, "daemon", "D", false, "detach from the terminal and run in the background")
	fs.StringVarP(&o.user, "user", "u", "", "run workers as `USER`, a name or uid (when started as root)")
	fs.StringVarP(&o.group, "group", "g", "", "run workers as `GROUP`, a name or gid (when started as root)")
	fs.BoolVar(&o.initgroups, "initgroups", false, "give workers all the groups of --user")
	fs.VarP(&o.umask, "umask", "m", "create unix sockets with the file mode `MASK`, e.g. 0o22 or 022 (default 0)")
	fs.StringVarP(&o.procName, "name", "n", "", "show `NAME` in process titles (default the APP_MODULE)")
	fs.StringVar(&o.errorLog, "error-logfile", "-", "write the error log to `FILE`; - is standard error (default -)")
	fs.StringVar(&o.errorLog, "log-file", "-", "the same as --error-logfile")
	fs.StringVar(&o.accessLog, "access-logfile", "", "write the access log to `FILE`; - is standard output (default none)")
	fs.StringVar(&o.accessLogFormat, "access-logformat", accesslog.DefaultFormat,
		"access log lines in `FORMAT`, gunicorn's %(h)s atoms (default Apache's combined log format)")
	fs.BoolVar(&o.accessLogJSON, "access-log-json", false, "write the access log as one JSON object a line")
	fs.StringVar(&o.logLevel, "log-level", "info", "error log `LEVEL`: debug, info, warning, error or critical (default info)")
	fs.BoolVar(&o.captureOutput, "capture-output", false, "send the app's standard output (print()) to the --error-logfile file too")
	o.tls.declare(fs)
	o.hooks.declare(fs)
	o.extra.declare(fs)
	fs.StringVarP(&o.config, "config", "c", "", "read settings from `FILE`: Python as gunicorn's (FILE.py, file:PATH, python:MODULE) or YAML (FILE.yaml) (default ./gunicorn.conf.py or ./gowsgi.yaml when present)")
	fs.BoolVar(&o.checkConfig, "check-config", false, "load the app in a worker process to check the settings and the app, then exit: 0 when it loads")
	fs.BoolVar(&o.printConfig, "print-config", false, "print every resolved setting and where its value came from, then exit")
	fs.StringArrayVarP(&o.env, "env", "e", nil, "set `KEY=VALUE` in the environment of the master and the workers; repeatable")
	fs.BoolVar(&o.reload, "reload", false, "restart a worker when a Python file its app imported changes (for development)")
	fs.StringVar(&o.reloadEngine, "reload-engine", "auto", "watch files for --reload with `ENGINE`: auto, inotify or poll (default auto)")
	fs.StringArrayVar(&o.reloadExtra, "reload-extra-file", nil, "with --reload, also restart workers when `FILE` changes; repeatable")
	fs.BoolVarP(&o.version, "version", "v", false, "print gowsgi's and the embedded Python's versions and exit")
	fs.BoolVarP(&o.help, "help", "h", false, "show this help and exit")
	return fs
}

// Parse builds the Config from the command line (without the program name), the config file
// and the environment, in gunicorn's order: defaults < config file < GOWSGI_CMD_ARGS < command
// line. It resolves every default and relative path, so that the master and its workers, which
// parse the same arguments, agree on everything.
func Parse(args []string, getenv func(string) string) (*Config, error) {
	cfg, _, err := Resolve(args, getenv)
	return cfg, err
}

// Resolve is Parse that also tells each setting's value and where it came from, for
// --print-config and for the master's account of what a reload changed.
func Resolve(args []string, getenv func(string) string) (*Config, Settings, error) {
	first := newOptions()
	firstFlags := first.flagSet()
	var envSources []envArgs
	for _, name := range []string{GunicornCmdArgsEnv, CmdArgsEnv} {
		words, err := SplitCommandLine(getenv(name))
		if err == nil {
			words, err = expandPrefixes(firstFlags, words)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", name, err)
		}
		envSources = append(envSources, envArgs{name, words})
	}
	args, err := expandPrefixes(firstFlags, args)
	if err != nil {
		return nil, nil, err
	}
	// A first look at the arguments finds -c, -h and -v before the file is read, so that help
	// works even when the file is broken.
	for _, source := range envSources {
		if err := firstFlags.Parse(source.args); err != nil {
			return nil, nil, fmt.Errorf("%s: %v", source.name, describeFlagError(err))
		}
	}
	if err := firstFlags.Parse(args); err != nil {
		return nil, nil, describeFlagError(err)
	}
	if first.help {
		return nil, nil, ErrHelp
	}
	if first.version {
		return nil, nil, ErrVersion
	}
	path, name, err := findFile(first.config, getenv(FileEnv))
	if err != nil {
		return nil, nil, err
	}
	o := newOptions()
	fs := o.flagSet()
	setup := PythonSetup{Chdir: first.chdir, PythonPath: first.pythonPath}
	setup.Virtualenv, _ = chooseVirtualenv(first.virtualenv, getenv("VIRTUAL_ENV"))
	file, err := loadFile(path, name, getenv(FileTextEnv), setup, fs)
	if err != nil {
		return nil, nil, err
	}
	// fromFile says which flags still hold the config file's value, so that a value found bad
	// when the settings are resolved is reported at its line in the file.
	fromFile := map[string]fileSetting{}
	for _, setting := range file.settings {
		if _, err := parseSource(fs, o, setting.args, func(flag string) { fromFile[flag] = setting }); err != nil {
			return nil, nil, file.errorAt(setting.line, "%v", describeFileError(err, setting.key))
		}
	}
	origins := map[string]string{}
	overridden := func(source string) func(string) {
		return func(flag string) {
			delete(fromFile, flag)
			origins[canonicalFlag(flag)] = source
		}
	}
	var envApp []string
	envAppSource := ""
	for _, source := range envSources {
		positional, err := parseSource(fs, o, source.args, overridden(source.name))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %v", source.name, describeFlagError(err))
		}
		if len(positional) > 0 {
			envApp, envAppSource = positional, source.name
		}
	}
	cliApp, err := parseSource(fs, o, args, overridden(fromCommandLine))
	if err != nil {
		return nil, nil, describeFlagError(err)
	}
	cfg, err := resolve(o, fs, file, cliApp, envApp, getenv)
	var bad *valueError
	if errors.As(err, &bad) {
		if setting, found := fromFile[bad.flag]; found {
			return nil, nil, file.errorAt(setting.line, "invalid value %q for %s: %s", bad.value, setting.key, bad.reason)
		}
	}
	var refused *refusedError
	if errors.As(err, &refused) {
		if setting, found := fromFile[refused.flag]; found {
			return nil, nil, file.errorAt(setting.line, "%s", refused.describe(setting.key))
		}
	}
	if err != nil {
		return nil, nil, err
	}
	fileOrigins(origins, fromFile, file)
	settings := describe(cfg, fs, origins, appOrigin(cliApp, envAppSource, file), getenv)
	settings = append(settings, schemeHeadersSetting(cfg, file))
	cfg.Settings = settings.withHooks(file.hookSettings())
	return cfg, cfg.Settings, nil
}

// envArgs are the arguments an environment variable gives (GUNICORN_CMD_ARGS, GOWSGI_CMD_ARGS).
type envArgs struct {
	name string
	args []string
}

// resolve turns the parsed options into a Config, applying the defaults that come from the
// environment and checking what a flag cannot check alone.
func resolve(o *options, fs *pflag.FlagSet, file *configFile, cliApp, envApp []string, getenv func(string) string) (*Config, error) {
	cfg := &Config{
		Threads:               o.threads.get(),
		WorkerConnections:     o.connections.get(),
		LimitRequestLine:      capLimit(o.limitLine.get(), maxRequestLine),
		LimitRequestFields:    capLimit(o.limitFields.get(), maxRequestFields),
		LimitRequestFieldSize: fieldSizeLimit(o.limitFieldSize.get()),
		Sendfile:              !o.noSendfile,
		Keepalive:             o.keepalive.get(),
		GracefulTimeout:       o.gracefulTimeout.get(),
		Timeout:               o.timeout.get(),
		MaxRequests:           o.maxRequests.get(),
		MaxRequestsJitter:     o.maxJitter.get(),
		MaxWorkerMemory:       o.maxMemory.get(),
		Backlog:               o.backlog.get(),
		ReusePort:             o.reusePort,
		Pidfile:               o.pidfile,
		Daemon:                o.daemon,
		User:                  o.user,
		Group:                 o.group,
		Initgroups:            o.initgroups,
		Umask:                 o.umask.value,
		ProcName:              o.procName,
		ConfigFile:            file.path,
	}
	var err error
	if cfg.App, cfg.Warnings, err = chooseApp(cliApp, envApp, file, o.extra.paste != ""); err != nil {
		return nil, err
	}
	cfg.Warnings = append(cfg.Warnings, file.warnings...)
	cfg.Python = file.pythonHooks()
	cfg.Binds = bindsOrDefault(o.binds, getenv("PORT"))
	if cfg.Workers, err = workerCount(&o.workers, getenv("WEB_CONCURRENCY")); err != nil {
		return nil, err
	}
	if cfg.WorkerClass, err = workerClass(o.workerClass, cfg.Threads); err != nil {
		return nil, err
	}
	if cfg.Proxy, err = o.proxy.resolve(file, getenv); err != nil {
		return nil, err
	}
	if err := resolvePaths(cfg, o, getenv("VIRTUAL_ENV")); err != nil {
		return nil, err
	}
	if err := resolveProcess(cfg); err != nil {
		return nil, err
	}
	if err := resolveLogging(cfg, o); err != nil {
		return nil, err
	}
	if err := resolveTLS(cfg, &o.tls); err != nil {
		return nil, err
	}
	if err := o.hooks.resolve(cfg); err != nil {
		return nil, err
	}
	if err := resolveOperations(cfg, o, file); err != nil {
		return nil, err
	}
	if err := o.extra.resolve(cfg, fs); err != nil {
		return nil, err
	}
	cfg.ControlSocket = o.extra.controlSocket(cfg.Chdir, getenv)
	cfg.Notices = append(cfg.Notices, file.notices...)
	return cfg, nil
}

// Usage is the text printed for -h.
func Usage() string {
	var b strings.Builder
	b.WriteString("usage: gowsgi [OPTIONS] APP_MODULE\n\n")
	b.WriteString("Serve the WSGI application APP_MODULE: module:variable, module (meaning\n")
	b.WriteString("module:application), or module:factory(args) to call a factory.\n")
	b.WriteString("gowsgi ctl [-s PATH] [-c COMMAND] [-j] controls a running server: see gowsgi ctl -h.\n\noptions:\n")
	type row struct{ names, help string }
	var rows []row
	width := 0
	newOptions().flagSet().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		names := "    --" + f.Name
		if f.Shorthand != "" {
			names = "-" + f.Shorthand + ", --" + f.Name
		}
		argument, help := pflag.UnquoteUsage(f)
		if argument != "" {
			names += " " + argument
		}
		width = max(width, len(names))
		rows = append(rows, row{names, help})
	})
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r.names, r.help)
	}
	return b.String()
}

// describeFlagError turns pflag's message for a bad value into one that names the flag the way
// a user types it; its other messages (unknown flag, missing argument) are already clear.
func describeFlagError(err error) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		return fmt.Errorf("invalid value %q for %s: %v", invalid.GetValue(), flagLabel(invalid.GetFlag()), invalid.Unwrap())
	}
	return err
}

// valueError is a bad value found when the settings are resolved rather than when the flag was
// parsed; it names the flag so that Parse can point at the config file line that gave the value.
type valueError struct{ flag, value, reason string }

func invalidValue(flag, value, reason string) error {
	return &valueError{flag: flag, value: value, reason: reason}
}

func (e *valueError) Error() string {
	return fmt.Sprintf("invalid value %q for %s: %s", e.value, flagLabel(newOptions().flagSet().Lookup(e.flag)), e.reason)
}

func flagLabel(f *pflag.Flag) string {
	if f.Shorthand != "" {
		return "-" + f.Shorthand + "/--" + f.Name
	}
	return "--" + f.Name
}

// appFromArgs takes the app from the first positional argument; gunicorn ignores the others,
// and so does gowsgi, with a warning.
func appFromArgs(positional []string) (AppSpec, []string, error) {
	if len(positional) == 0 {
		return AppSpec{}, nil, errors.New("no application module specified (usage: gowsgi [OPTIONS] APP_MODULE)")
	}
	var warnings []string
	if len(positional) > 1 {
		warnings = append(warnings, fmt.Sprintf("ignoring extra arguments after APP_MODULE %s: %s", positional[0], strings.Join(positional[1:], " ")))
	}
	app, err := ParseAppSpec(positional[0])
	return app, warnings, err
}

func bindsOrDefault(binds []string, port string) []string {
	switch {
	case len(binds) > 0:
		return binds
	case port != "":
		return []string{"0.0.0.0:" + port}
	default:
		return []string{"127.0.0.1:8000"}
	}
}

func workerCount(flag *numberFlag, webConcurrency string) (int, error) {
	if flag.set || webConcurrency == "" {
		return flag.get(), nil
	}
	fromEnv := *flag
	if err := fromEnv.Set(webConcurrency); err != nil {
		return 0, fmt.Errorf("invalid value %q for WEB_CONCURRENCY: %v", webConcurrency, err)
	}
	return fromEnv.value, nil
}

// workerClass also accepts the class paths and egg:gunicorn# names gunicorn documents, so
// existing command lines work; an ASGI class is named as such, since gowsgi serves WSGI only.
func workerClass(name string, threads int) (string, error) {
	switch strings.TrimPrefix(name, "egg:gunicorn#") {
	case "sync", "gunicorn.workers.sync.SyncWorker":
		if threads > 1 {
			return "gthread", nil
		}
		return "sync", nil
	case "gthread", "gunicorn.workers.gthread.ThreadWorker":
		return "gthread", nil
	case "gevent", "gevent_wsgi", "gevent_pywsgi", "gunicorn.workers.ggevent.GeventWorker",
		"gunicorn.workers.ggevent.GeventPyWSGIWorker":
		return "gevent", nil
	}
	if lower := strings.ToLower(name); strings.Contains(lower, "asgi") || strings.Contains(lower, "uvicorn") {
		return "", invalidValue("worker-class", name, "an ASGI worker class, which gowsgi does not support: it serves WSGI apps only (sync, gthread or gevent)")
	}
	return "", invalidValue("worker-class", name, "choose sync, gthread or gevent")
}

// fieldSizeLimit is --limit-request-field_size as gunicorn takes it: 0 means its default, not
// the most allowed as for the other two limits.
func fieldSizeLimit(value int) int {
	if value == 0 {
		return defaultRequestFieldSize
	}
	return min(value, maxRequestFieldSize)
}

func capLimit(value, most int) int {
	if value == 0 || value > most {
		return most
	}
	return value
}

// resolvePaths makes --chdir, --pythonpath and the virtualenv absolute against the current
// directory and checks them, so a typo is reported before any worker starts.
func resolvePaths(cfg *Config, o *options, virtualEnvVar string) error {
	cwd, err := os.Getwd()
	if err != nil {
		return fmt.Errorf("cannot read the current directory: %v", err)
	}
	cfg.Chdir = cwd
	cfg.ErrorLog = o.errorLog
	if cfg.ErrorLog != "-" {
		cfg.ErrorLog = absolute(cwd, cfg.ErrorLog)
	}
	if o.chdir != "" {
		cfg.Chdir = absolute(cwd, o.chdir)
		if info, err := os.Stat(cfg.Chdir); err != nil || !info.IsDir() {
			return invalidValue("chdir", o.chdir, cfg.Chdir+" is not a directory")
		}
	}
	for _, dir := range strings.Split(o.pythonPath, ",") {
		if dir = strings.TrimSpace(dir); dir != "" {
			cfg.PythonPath = append(cfg.PythonPath, absolute(cwd, dir))
		}
	}
	return resolveVirtualenv(cfg, cwd, o.virtualenv, virtualEnvVar)
}

func absolute(cwd, path string) string {
	if filepath.IsAbs(path) {
		return filepath.Clean(path)
	}
	return filepath.Join(cwd, path)
}
