package config

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// HTTPParsing are gunicorn's switches that relax its request parser, each off by default.
type HTTPParsing struct {
	// PermitUnconventionalMethod accepts methods shorter than 3 or longer than 20 characters,
	// with lower-case letters or with "#".
	PermitUnconventionalMethod bool
	// PermitUnconventionalVersion accepts HTTP versions other than 1.0 and 1.1.
	PermitUnconventionalVersion bool
	// CasefoldMethod upper-cases the method before anything else looks at it.
	CasefoldMethod bool
	// StripHeaderSpaces drops blanks between a header's name and its colon instead of
	// refusing the request.
	StripHeaderSpaces bool
	// PermitObsoleteFolding joins a header line that starts with a blank to the line before.
	PermitObsoleteFolding bool
}

// HTTP2Limits bound what an HTTP/2 client may ask of a worker, with gunicorn's defaults.
type HTTP2Limits struct {
	MaxConcurrentStreams int
	InitialWindowSize    int
	MaxFrameSize         int
	// MaxHeaderListSize bounds the decoded headers of one request in bytes; 0 means no limit.
	MaxHeaderListSize int
}

// Syslog is where --log-syslog sends the error log (and the access log unless
// DisableRedirectAccess): Addr as gunicorn writes it, udp://HOST:PORT, tcp://HOST:PORT or
// unix://PATH#dgram|stream.
type Syslog struct {
	Enabled               bool
	Addr                  string
	Prefix                string
	Facility              string
	DisableRedirectAccess bool
}

// PythonLogging configures the Python logging module of each worker before the app is
// imported, from gunicorn's logconfig settings; Dict (JSON) wins over JSONFile, which wins over
// File, as in gunicorn.
type PythonLogging struct {
	File     string
	JSONFile string
	Dict     string
}

// extraOptions are the gunicorn settings that came after the first releases of gowsgi.
type extraOptions struct {
	preload          bool
	spew             bool
	paste            string
	pasteGlobal      []string
	protocol         choiceFlag
	uwsgiAllowIPs    allowFlag
	rootPath         string
	parsing          HTTPParsing
	http2Cleartext   choiceFlag
	http2            [4]numberFlag
	logConfig        string
	logConfigJSON    string
	logConfigDict    jsonFlag
	syslog           Syslog
	stdioInheritance bool
	controlPath      string
	controlMode      modeFlag
	noControlSocket  bool
	metrics          metricsOptions
	// Settings that gowsgi accepts but that change nothing (see noEffect).
	workerTmpDir    string
	tmpUploadDir    string
	loggerClass     string
	defaultProcName string
}

func newExtraOptions() extraOptions {
	return extraOptions{
		protocol: choiceFlag{value: "http", help: "choose http or uwsgi",
			choices: map[string]string{"http": "http", "uwsgi": "uwsgi"}},
		uwsgiAllowIPs: defaultAllowFlag(),
		http2Cleartext: choiceFlag{value: "off", help: "choose off; gowsgi serves HTTP/2 over TLS only",
			choices: map[string]string{"off": "off"}},
		http2: [4]numberFlag{{min: 1, fallback: 100}, {min: 1, fallback: 65535},
			{min: 16384, fallback: 16384}, {fallback: 65536}},
		syslog:          Syslog{Addr: "udp://localhost:514", Facility: "user"},
		loggerClass:     "gunicorn.glogging.Logger",
		defaultProcName: "gunicorn",
		controlMode:     modeFlag{umaskFlag{value: 0o600}},
	}
}

func (e *extraOptions) declare(fs *pflag.FlagSet) {
	fs.BoolVar(&e.preload, "preload", false, "import the app once, in a fork server, and fork every worker from it")
	fs.StringVar(&e.paste, "paste", "", "load the app from the PasteDeploy `FILE`[#SECTION] instead of APP_MODULE")
	fs.StringVar(&e.paste, "paster", "", "the same as --paste `FILE`")
	fs.StringArrayVar(&e.pasteGlobal, "paste-global", nil, "pass `KEY=VALUE` to PasteDeploy's global configuration; repeatable")
	fs.Var(&e.protocol, "protocol", "speak `PROTOCOL` on the sockets: http, or uwsgi for nginx's uwsgi_pass (default http)")
	fs.Var(&e.uwsgiAllowIPs, "uwsgi-allow-from", "accept uwsgi requests only from `IPS`: comma-separated addresses, CIDR networks, or * for any (default 127.0.0.1,::1)")
	fs.StringVar(&e.rootPath, "root-path", "", "serve the app mounted at `PATH`: SCRIPT_NAME, taken off PATH_INFO")
	fs.BoolVar(&e.parsing.PermitUnconventionalMethod, "permit-unconventional-http-method", false,
		"accept methods with lower-case letters or #, or shorter than 3 or longer than 20 characters")
	fs.BoolVar(&e.parsing.PermitUnconventionalVersion, "permit-unconventional-http-version", false,
		"accept HTTP versions other than HTTP/1.0 and HTTP/1.1")
	fs.BoolVar(&e.parsing.CasefoldMethod, "casefold-http-method", false,
		"upper-case the methods --permit-unconventional-http-method lets through")
	fs.BoolVar(&e.parsing.StripHeaderSpaces, "strip-header-spaces", false,
		"accept blanks between a header name and its colon (unsafe behind some proxies)")
	fs.BoolVar(&e.parsing.PermitObsoleteFolding, "permit-obsolete-folding", false,
		"accept header values continued on a line that starts with a blank")
	fs.Var(&e.http2Cleartext, "http2-cleartext", "HTTP/2 without TLS, `MODE`: off only (default off)")
	fs.Var(&e.http2[0], "http2-max-concurrent-streams", "let an HTTP/2 client run `INT` requests at once on a connection (default 100)")
	fs.Var(&e.http2[1], "http2-initial-window-size", "let an HTTP/2 client send `INT` body bytes a stream before it must wait (default 65535)")
	fs.Var(&e.http2[2], "http2-max-frame-size", "accept HTTP/2 frames of up to `INT` bytes, 16384 to 16777215 (default 16384)")
	fs.Var(&e.http2[3], "http2-max-header-list-size", "refuse HTTP/2 requests whose headers decode to over `INT` bytes; 0 means no limit (default 65536)")
	fs.StringVar(&e.logConfig, "log-config", "", "configure the app's Python logging from the logging.config.fileConfig `FILE`")
	fs.StringVar(&e.logConfigJSON, "log-config-json", "", "configure the app's Python logging from the dictConfig JSON `FILE`")
	fs.Var(&e.logConfigDict, "logconfig-dict", "configure the app's Python logging with the dictConfig `DICT` (config files)")
	fs.BoolVar(&e.syslog.Enabled, "log-syslog", false, "send the error log (and the access log) to syslog too")
	fs.StringVar(&e.syslog.Addr, "log-syslog-to", e.syslog.Addr, "syslog `ADDRESS`: udp://HOST:PORT, tcp://HOST:PORT or unix://PATH[#dgram|#stream] (default udp://localhost:514)")
	fs.StringVar(&e.syslog.Prefix, "log-syslog-prefix", "", "tag syslog entries gunicorn.`PREFIX` instead of the process name")
	fs.StringVar(&e.syslog.Facility, "log-syslog-facility", e.syslog.Facility, "syslog `FACILITY` (default user)")
	fs.BoolVar(&e.syslog.DisableRedirectAccess, "disable-redirect-access-to-syslog", false, "keep the access log out of syslog")
	fs.BoolVarP(&e.stdioInheritance, "enable-stdio-inheritance", "R", false, "with --daemon, keep standard output and error instead of /dev/null")
	fs.BoolVar(&e.spew, "spew", false, "print every line of Python the workers run (a trace for debugging)")
	fs.StringVar(&e.workerTmpDir, "worker-tmp-dir", "", "accepted with no effect: workers report to the master through shared memory, not files in `DIR`")
	fs.StringVar(&e.tmpUploadDir, "tmp-upload-dir", "", "accepted with no effect (config files)")
	fs.StringVar(&e.loggerClass, "logger-class", e.loggerClass, "accepted with no effect: the server's logs are written by gowsgi, not by a Python `CLASS`")
	fs.StringVar(&e.defaultProcName, "default-proc-name", e.defaultProcName, "accepted with no effect (config files)")
	e.metrics.declare(fs)
	fs.StringVar(&e.controlPath, "control-socket", "", "take the commands of gowsgi ctl on the unix socket `PATH` (default $XDG_RUNTIME_DIR/gunicorn.ctl, else ~/.gunicorn/gunicorn.ctl)")
	fs.Var(&e.controlMode, "control-socket-mode", "the control socket file's `MODE` (default 0600); other users are refused whatever it allows")
	fs.BoolVar(&e.noControlSocket, "no-control-socket", false, "serve no control socket")
	for name := range refusedSettings {
		if name == "dirty-app" {
			fs.StringArray(name, nil, "refused")
		} else {
			fs.String(name, "", "refused")
		}
		_ = fs.MarkHidden(name)
	}
	for _, name := range []string{"tmp-upload-dir", "default-proc-name", "logconfig-dict"} {
		_ = fs.MarkHidden(name)
	}
}

// resolve takes the extra settings into cfg and lists, in cfg.Notices, those that were given
// but change nothing here.
func (e *extraOptions) resolve(cfg *Config, fs *pflag.FlagSet) error {
	var refused error
	fs.VisitAll(func(f *pflag.Flag) {
		if _, found := refusedSettings[f.Name]; found && f.Changed && refused == nil {
			refused = refusal(f.Name)
		}
	})
	if refused != nil {
		return refused
	}
	cfg.Preload, cfg.Spew = e.preload, e.spew
	cfg.Paste, cfg.PasteGlobal = e.paste, e.pasteGlobal
	for _, pair := range e.pasteGlobal {
		if key, _, found := strings.Cut(pair, "="); !found || key == "" {
			return invalidValue("paste-global", pair, "expected KEY=VALUE")
		}
	}
	if e.paste != "" {
		file, _, _ := strings.Cut(e.paste, "#")
		cfg.Paste = absolute(cfg.Chdir, file) + strings.TrimPrefix(e.paste, file)
	}
	cfg.Protocol, cfg.Proxy.UwsgiAllowIPs = e.protocol.value, e.uwsgiAllowIPs.list
	if e.rootPath != "" && (!strings.HasPrefix(e.rootPath, "/") || strings.HasSuffix(e.rootPath, "/")) {
		return invalidValue("root-path", e.rootPath, "expected a path that starts with / and does not end with one, like /api")
	}
	cfg.RootPath = e.rootPath
	cfg.HTTPParsing = e.parsing
	cfg.HTTP2 = HTTP2Limits{MaxConcurrentStreams: e.http2[0].get(), InitialWindowSize: e.http2[1].get(),
		MaxFrameSize: e.http2[2].get(), MaxHeaderListSize: e.http2[3].get()}
	if cfg.HTTP2.MaxFrameSize > 1<<24-1 {
		return invalidValue("http2-max-frame-size", e.http2[2].String(), "must be from 16384 to 16777215")
	}
	if cfg.HTTP2.InitialWindowSize > 1<<31-1 {
		return invalidValue("http2-initial-window-size", e.http2[1].String(), "must be at most 2147483647")
	}
	cfg.PythonLogging = PythonLogging{Dict: e.logConfigDict.text}
	for _, path := range []struct {
		flag, value string
		target      *string
	}{{"log-config", e.logConfig, &cfg.PythonLogging.File}, {"log-config-json", e.logConfigJSON, &cfg.PythonLogging.JSONFile}} {
		if path.value != "" {
			*path.target = absolute(cfg.Chdir, path.value)
		}
	}
	if err := checkSyslogAddr(e.syslog.Addr); err != nil {
		return invalidValue("log-syslog-to", e.syslog.Addr, err.Error())
	}
	if _, ok := syslogFacilities[strings.ToLower(e.syslog.Facility)]; !ok {
		return invalidValue("log-syslog-facility", e.syslog.Facility, "not a syslog facility (user, daemon, local0 … local7, …)")
	}
	cfg.Syslog = e.syslog
	cfg.Syslog.Facility = strings.ToLower(e.syslog.Facility)
	cfg.EnableStdioInheritance = e.stdioInheritance
	metrics, err := e.metrics.resolve(cfg.Chdir)
	if err != nil {
		return err
	}
	cfg.Metrics = metrics
	cfg.Notices = noEffect(fs)
	return nil
}

// noEffectReasons say why each of these settings, when given, changes nothing in gowsgi; the
// master logs one info line for each that was given.
var noEffectReasons = map[string]string{
	"worker-tmp-dir":    "workers report to the master through shared memory, not heartbeat files",
	"tmp-upload-dir":    "request bodies are read from the connection as the app reads them, never kept in temporary files",
	"logger-class":      "the server's error and access logs are written by gowsgi, not by a Python logger class",
	"default-proc-name": "process titles come from --name or the app's name",
	"ssl-version":       "TLS 1.2 and 1.3 are offered, as in gunicorn since 21.0",
	"do-handshake-on-connect": "the TLS handshake happens when the connection is accepted, " +
		"before the request is read",
	"suppress-ragged-eofs": "a TLS connection closed without close_notify ends the request like any closed connection",
}

// noEffect lists the settings given that change nothing, with why, for the master to log.
func noEffect(fs *pflag.FlagSet) []string {
	var notices []string
	fs.VisitAll(func(f *pflag.Flag) {
		if reason, listed := noEffectReasons[f.Name]; listed && f.Changed {
			notices = append(notices, fmt.Sprintf("%s has no effect in gowsgi: %s", settingKey(f.Name), reason))
		}
	})
	return notices
}

// refusedSettings are gunicorn's settings for ASGI apps and its dirty arbiters, which gowsgi, a
// WSGI server, does not have: naming one is an error rather than a setting quietly dropped.
var refusedSettings = map[string]string{
	"asgi-loop":                    "ASGI",
	"asgi-lifespan":                "ASGI",
	"asgi-disconnect-grace-period": "ASGI",
	"http-parser":                  "ASGI",
	"dirty-app":                    "dirty arbiters",
	"dirty-workers":                "dirty arbiters",
	"dirty-timeout":                "dirty arbiters",
	"dirty-threads":                "dirty arbiters",
	"dirty-graceful-timeout":       "dirty arbiters",
}

// refusedHooks are gunicorn's dirty arbiter hooks; a config file may define them (they are
// never called) but the master says so.
var refusedHooks = map[string]bool{"on-dirty-starting": true, "dirty-post-fork": true,
	"dirty-worker-init": true, "dirty-worker-exit": true}

// refusedError is a refused setting, named by its flag; Resolve names a config file's key and
// line instead when the file set it.
type refusedError struct{ flag string }

func refusal(flag string) error { return &refusedError{flag: flag} }

func (e *refusedError) Error() string { return e.describe("--" + e.flag) }

func (e *refusedError) describe(name string) string {
	return fmt.Sprintf("%s is a gunicorn setting for %s, which gowsgi does not support: it serves WSGI apps only", name, refusedSettings[e.flag])
}

// jsonFlag holds a JSON object, given as text on the command line or as a mapping in a config
// file (which the file reader turns into JSON).
type jsonFlag struct{ text string }

func (f *jsonFlag) Set(text string) error {
	var object map[string]any
	if err := json.Unmarshal([]byte(text), &object); err != nil {
		return fmt.Errorf("expected a JSON object: %v", err)
	}
	f.text = text
	return nil
}

func (f *jsonFlag) String() string {
	if f.text == "" {
		return "{}"
	}
	return f.text
}
func (f *jsonFlag) Type() string { return "json" }

var syslogFacilities = map[string]int{
	"auth": 4, "authpriv": 10, "cron": 9, "daemon": 3, "ftp": 11, "kern": 0, "lpr": 6,
	"mail": 2, "news": 7, "security": 4, "syslog": 5, "user": 1, "uucp": 8,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19, "local4": 20, "local5": 21,
	"local6": 22, "local7": 23,
}

// SyslogFacility is the facility's number (RFC 5424), for a name already checked.
func SyslogFacility(name string) int { return syslogFacilities[name] }

func checkSyslogAddr(addr string) error {
	scheme, rest, found := strings.Cut(addr, "://")
	switch {
	case !found || rest == "":
		return fmt.Errorf("expected udp://HOST:PORT, tcp://HOST:PORT or unix://PATH")
	case scheme == "unix":
		if _, kind, typed := strings.Cut(rest, "#"); typed && kind != "dgram" && kind != "stream" {
			return fmt.Errorf("the socket type after # must be dgram or stream")
		}
	case scheme != "udp" && scheme != "tcp":
		return fmt.Errorf("unknown scheme %q: choose udp, tcp or unix", scheme)
	}
	return nil
}
