package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gowsgi/accesslog"
	"gowsgi/errorlog"
)

func envOf(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

func mustParse(t *testing.T, env map[string]string, args ...string) *Config {
	t.Helper()
	cfg, err := Parse(args, envOf(env))
	if err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return cfg
}

func parseError(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	_, err := Parse(args, envOf(env))
	if err == nil {
		t.Fatalf("Parse(%q) succeeded, want an error", args)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Parse(%q) error spans lines: %q", args, err)
	}
	return err.Error()
}

func TestDefaults(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := mustParse(t, nil, "myapp:app")
	want := &Config{
		App:                   AppSpec{Module: "myapp", Attr: "app", Raw: "myapp:app"},
		Binds:                 []string{"127.0.0.1:8000"},
		Workers:               1,
		WorkerClass:           "sync",
		Threads:               1,
		WorkerConnections:     1000,
		Chdir:                 dir,
		LimitRequestLine:      4094,
		LimitRequestFields:    100,
		LimitRequestFieldSize: 8190,
		Sendfile:              true,
		Keepalive:             2,
		ErrorLog:              "-",
		AccessLogFormat:       accesslog.DefaultFormat,
		LogLevel:              errorlog.LevelInfo,
		GracefulTimeout:       30,
		Timeout:               30,
		Backlog:               2048,
		Proxy:                 defaultProxyConfig(t),
		ReloadEngine:          "auto",
	}
	withExtraDefaults(want)
	cfg.Settings = nil // TestSettingsSayWhereEachValueCameFrom
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

// withExtraDefaults fills in the defaults of the settings config/extra.go resolves.
func withExtraDefaults(c *Config) {
	c.Protocol = "http"
	c.Proxy.UwsgiAllowIPs = defaultAllowFlag().list
	c.HTTP2 = HTTP2Limits{MaxConcurrentStreams: 100, InitialWindowSize: 65535, MaxFrameSize: 16384, MaxHeaderListSize: 65536}
	c.Syslog = Syslog{Addr: "udp://localhost:514", Facility: "user"}
	c.ControlSocket = ControlSocket{Path: DefaultControlSocket(envOf(nil)), Mode: 0o600}
}

func TestLogFileIsTheSameAsErrorLogfile(t *testing.T) {
	if cfg := mustParse(t, nil, "--log-file", "/var/log/g.log", "a:b"); cfg.ErrorLog != "/var/log/g.log" {
		t.Fatalf("--log-file gave ErrorLog %q", cfg.ErrorLog)
	}
}

func TestEveryFlag(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, sub := range []string{"site", "lib", "venv"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "venv", "pyvenv.cfg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, nil, "-b", "0.0.0.0:9000", "--bind", "[::1]:9001", "-w", "4",
		"-k", "gthread", "--threads", "3", "--worker-connections", "50", "--chdir", "site", "--pythonpath", "lib,/opt/x",
		"--virtualenv", "venv", "--limit-request-line", "100", "--limit-request-fields", "10",
		"--limit-request-field_size", "200", "--no-sendfile", "--keep-alive", "5",
		"--graceful-timeout", "7", "-t", "9", "--max-requests", "100", "--max-requests-jitter", "10",
		"--max-worker-memory", "256", "--error-logfile", "logs/error.log", "pkg.wsgi:create_app(debug=True)")
	want := &Config{
		App:                   AppSpec{Module: "pkg.wsgi", Attr: "create_app", Call: true, Args: "debug=True", Raw: "pkg.wsgi:create_app(debug=True)"},
		Binds:                 []string{"0.0.0.0:9000", "[::1]:9001"},
		Workers:               4,
		WorkerClass:           "gthread",
		Threads:               3,
		WorkerConnections:     50,
		Chdir:                 filepath.Join(dir, "site"),
		PythonPath:            []string{filepath.Join(dir, "lib"), "/opt/x"},
		Virtualenv:            filepath.Join(dir, "venv"),
		LimitRequestLine:      100,
		LimitRequestFields:    10,
		LimitRequestFieldSize: 200,
		Sendfile:              false,
		Keepalive:             5,
		ErrorLog:              filepath.Join(dir, "logs", "error.log"),
		AccessLogFormat:       accesslog.DefaultFormat,
		LogLevel:              errorlog.LevelInfo,
		GracefulTimeout:       7,
		Timeout:               9,
		MaxRequests:           100,
		MaxRequestsJitter:     10,
		MaxWorkerMemory:       256,
		Backlog:               2048,
		Proxy:                 defaultProxyConfig(t),
		ReloadEngine:          "auto",
	}
	withExtraDefaults(want)
	cfg.Settings = nil
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("flags:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestFlagsMayFollowTheApp(t *testing.T) {
	cfg := mustParse(t, nil, "myapp:app", "-w", "3", "--threads=2")
	if cfg.Workers != 3 || cfg.Threads != 2 || cfg.App.Module != "myapp" {
		t.Errorf("got workers=%d threads=%d app=%+v", cfg.Workers, cfg.Threads, cfg.App)
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	cfg := mustParse(t, map[string]string{"PORT": "5000", "WEB_CONCURRENCY": "3"}, "app")
	if !reflect.DeepEqual(cfg.Binds, []string{"0.0.0.0:5000"}) || cfg.Workers != 3 {
		t.Errorf("PORT/WEB_CONCURRENCY: binds=%q workers=%d", cfg.Binds, cfg.Workers)
	}
	cfg = mustParse(t, map[string]string{"PORT": "5000", "WEB_CONCURRENCY": "bogus"}, "-b", "1.2.3.4:80", "-w", "2", "app")
	if !reflect.DeepEqual(cfg.Binds, []string{"1.2.3.4:80"}) || cfg.Workers != 2 {
		t.Errorf("flags must win over the environment: binds=%q workers=%d", cfg.Binds, cfg.Workers)
	}
	msg := parseError(t, map[string]string{"WEB_CONCURRENCY": "many"}, "app")
	if msg != `invalid value "many" for WEB_CONCURRENCY: not a number` {
		t.Errorf("bad WEB_CONCURRENCY: %q", msg)
	}
}

func TestWorkerClassResolution(t *testing.T) {
	cases := []struct {
		args        []string
		wantClass   string
		wantThreads int
	}{
		{[]string{"-k", "sync"}, "sync", 1},
		{[]string{"-k", "sync", "--threads", "4"}, "gthread", 4},
		{[]string{"--threads", "2"}, "gthread", 2},
		{[]string{"-k", "gthread"}, "gthread", 1},
		{[]string{"--worker-class", "gunicorn.workers.sync.SyncWorker"}, "sync", 1},
		{[]string{"-k", "gunicorn.workers.gthread.ThreadWorker", "--threads", "8"}, "gthread", 8},
		{[]string{"-k", "gevent"}, "gevent", 1},
		{[]string{"-k", "gunicorn.workers.ggevent.GeventWorker", "--threads", "4"}, "gevent", 4},
	}
	for _, c := range cases {
		cfg := mustParse(t, nil, append(c.args, "app")...)
		if cfg.WorkerClass != c.wantClass || cfg.Threads != c.wantThreads {
			t.Errorf("%q: class=%s threads=%d, want %s %d", c.args, cfg.WorkerClass, cfg.Threads, c.wantClass, c.wantThreads)
		}
	}
}

func TestRequestLimitsAreCapped(t *testing.T) {
	cases := []struct {
		flag  string
		value string
		want  func(*Config) int
		limit int
	}{
		{"--limit-request-line", "0", func(c *Config) int { return c.LimitRequestLine }, 8190},
		{"--limit-request-line", "9000", func(c *Config) int { return c.LimitRequestLine }, 8190},
		{"--limit-request-fields", "0", func(c *Config) int { return c.LimitRequestFields }, 32768},
		{"--limit-request-fields", "40000", func(c *Config) int { return c.LimitRequestFields }, 32768},
		{"--limit-request-field_size", "0", func(c *Config) int { return c.LimitRequestFieldSize }, 8190},
		{"--limit-request-field_size", "100000", func(c *Config) int { return c.LimitRequestFieldSize }, 65534},
	}
	for _, c := range cases {
		if got := c.want(mustParse(t, nil, c.flag, c.value, "app")); got != c.limit {
			t.Errorf("%s %s gave %d, want %d", c.flag, c.value, got, c.limit)
		}
	}
}

func TestVirtualenv(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	venv := filepath.Join(dir, "env")
	if err := os.Mkdir(venv, 0o755); err != nil {
		t.Fatal(err)
	}
	msg := parseError(t, nil, "--virtualenv", "env", "app")
	want := `invalid value "env" for --virtualenv: ` + venv + ` is not a virtualenv (no pyvenv.cfg)`
	if msg != want {
		t.Errorf("venv without pyvenv.cfg:\n got %q\nwant %q", msg, want)
	}
	msg = parseError(t, map[string]string{"VIRTUAL_ENV": "/nonexistent/venv"}, "app")
	if !strings.HasPrefix(msg, `invalid value "/nonexistent/venv" for VIRTUAL_ENV:`) {
		t.Errorf("bad VIRTUAL_ENV: %q", msg)
	}
	if err := os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte("home = /usr/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg := mustParse(t, map[string]string{"VIRTUAL_ENV": venv}, "app"); cfg.Virtualenv != venv {
		t.Errorf("VIRTUAL_ENV not honoured: %q", cfg.Virtualenv)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "pyvenv.cfg"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg := mustParse(t, map[string]string{"VIRTUAL_ENV": venv}, "--virtualenv", other, "app"); cfg.Virtualenv != other {
		t.Errorf("--virtualenv must win over VIRTUAL_ENV: %q", cfg.Virtualenv)
	}
}

func TestChdirMustExist(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	msg := parseError(t, nil, "--chdir", "missing", "app")
	want := `invalid value "missing" for --chdir: ` + filepath.Join(dir, "missing") + ` is not a directory`
	if msg != want {
		t.Errorf("got %q, want %q", msg, want)
	}
}

func TestBadCommandLines(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-w", "x", "app"}, `invalid value "x" for -w/--workers: not a number`},
		{[]string{"-w", "0", "app"}, `invalid value "0" for -w/--workers: must be at least 1`},
		{[]string{"--workers=-3", "app"}, `invalid value "-3" for -w/--workers: must be at least 1`},
		{[]string{"--threads", "0", "app"}, `invalid value "0" for --threads: must be at least 1`},
		{[]string{"--threads", "1.5", "app"}, `invalid value "1.5" for --threads: not a number`},
		{[]string{"--keep-alive=-1", "app"}, `invalid value "-1" for --keep-alive: must not be negative`},
		{[]string{"--graceful-timeout", "soon", "app"}, `invalid value "soon" for --graceful-timeout: not a number`},
		{[]string{"--limit-request-line=-1", "app"}, `invalid value "-1" for --limit-request-line: must not be negative`},
		{[]string{"--limit-request-fields", "x", "app"}, `invalid value "x" for --limit-request-fields: not a number`},
		{[]string{"--limit-request-field_size=-5", "app"}, `invalid value "-5" for --limit-request-field_size: must not be negative`},
		{[]string{"--worker-connections", "0", "app"}, `invalid value "0" for --worker-connections: must be at least 1`},
		{[]string{"-k", "eventlet", "app"}, `invalid value "eventlet" for -k/--worker-class: choose sync, gthread or gevent`},
		{[]string{"--frobnicate", "app"}, `unknown flag: --frobnicate`},
		{[]string{"-k", "uvicorn.workers.UvicornWorker", "app"}, `invalid value "uvicorn.workers.UvicornWorker" for -k/--worker-class: an ASGI worker class, which gowsgi does not support: it serves WSGI apps only (sync, gthread or gevent)`},
		{[]string{"--asgi-loop", "uvloop", "app"}, `--asgi-loop is a gunicorn setting for ASGI, which gowsgi does not support: it serves WSGI apps only`},
		{[]string{"--dirty-workers=2", "app"}, `--dirty-workers is a gunicorn setting for dirty arbiters, which gowsgi does not support: it serves WSGI apps only`},
		{[]string{"--log", "x", "app"}, `ambiguous option: --log could match --log-file, --log-level, --log-config, --log-config-json, --log-syslog, --log-syslog-to, --log-syslog-prefix, --log-syslog-facility, --logger-class`},
		{[]string{"--root-path", "api", "app"}, `invalid value "api" for --root-path: expected a path that starts with / and does not end with one, like /api`},
		{[]string{"--http2-max-frame-size", "100", "app"}, `invalid value "100" for --http2-max-frame-size: must be at least 16384`},
		{[]string{"--log-syslog-to", "smtp://x", "app"}, `invalid value "smtp://x" for --log-syslog-to: unknown scheme "smtp": choose udp, tcp or unix`},
		{[]string{"-w"}, `flag needs an argument: 'w' in -w`},
		{[]string{}, `no application module specified (usage: gowsgi [OPTIONS] APP_MODULE)`},
		{[]string{"-w", "2"}, `no application module specified (usage: gowsgi [OPTIONS] APP_MODULE)`},
		{[]string{"my-app:app"}, `invalid APP_MODULE "my-app:app": "my-app" is not a valid Python module name`},
	}
	for _, c := range cases {
		if msg := parseError(t, nil, c.args...); msg != c.want {
			t.Errorf("Parse(%q):\n got %q\nwant %q", c.args, msg, c.want)
		}
	}
}

func TestHelpAndVersionAreSentinels(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"app", "--help"}} {
		if _, err := Parse(args, envOf(nil)); !errors.Is(err, ErrHelp) {
			t.Errorf("Parse(%q) = %v, want ErrHelp", args, err)
		}
	}
	for _, args := range [][]string{{"-v"}, {"--version"}} {
		if _, err := Parse(args, envOf(nil)); !errors.Is(err, ErrVersion) {
			t.Errorf("Parse(%q) = %v, want ErrVersion", args, err)
		}
	}
}

func TestUsageListsEveryFlag(t *testing.T) {
	usage := Usage()
	if !strings.HasPrefix(usage, "usage: gowsgi [OPTIONS] APP_MODULE\n") {
		t.Errorf("usage starts with %q", strings.SplitN(usage, "\n", 2)[0])
	}
	for _, want := range []string{"-b, --bind ADDRESS ", "-w, --workers INT ", "-k, --worker-class NAME ",
		"--threads INT ", "--chdir DIR ", "--pythonpath DIRS ", "--virtualenv PATH ",
		"--limit-request-line INT ", "--limit-request-fields INT ", "--limit-request-field_size INT ",
		"--no-sendfile ", "--keep-alive INT ", "--graceful-timeout INT ", "-v, --version ", "-h, --help "} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
}
