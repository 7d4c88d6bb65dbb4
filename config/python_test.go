package config

import (
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// pinnedPython resolves args with a Python config file whose reading gave answer, as a worker
// does with what its master pinned, so that no Python runs here.
func pinnedPython(t *testing.T, answer string, args ...string) (*Config, Settings, error) {
	t.Helper()
	t.Chdir(t.TempDir())
	env := map[string]string{FileEnv: "file:/srv/site/gunicorn.conf.py", FileTextEnv: strconv.Quote(answer)}
	return Resolve(args, envOf(env))
}

func TestPythonFileSettingsTakeEffect(t *testing.T) {
	answer := `{"names": [
		{"name": "bind", "line": 3, "kind": "value", "value": "0.0.0.0:9000"},
		{"name": "workers", "line": 4, "kind": "value", "value": 9},
		{"name": "wsgi_app", "line": 5, "kind": "value", "value": "site.wsgi:app"},
		{"name": "raw_env", "line": 6, "kind": "value", "value": ["A=1", "B=2"]},
		{"name": "forwarded_allow_ips", "line": 7, "kind": "value", "value": ["10.0.0.1", "10.0.0.2"]},
		{"name": "preload_app", "line": 8, "kind": "value", "value": true},
		{"name": "daemon", "line": 8, "kind": "value", "value": " False"},
		{"name": "sendfile", "line": 9, "kind": "value", "value": false},
		{"name": "pidfile", "line": 10, "kind": "value", "value": null},
		{"name": "keepalive", "line": 11, "kind": "value", "value": 5},
		{"name": "umask", "line": 12, "kind": "value", "value": 18},
		{"name": "logconfig_dict", "line": 13, "kind": "value", "value": {"version": 1}},
		{"name": "secure_scheme_headers", "line": 14, "kind": "value", "value": {"X-PROTO": "https"}},
		{"name": "multiprocessing_count", "line": 15, "kind": "value", "value": 2},
		{"name": "helper", "line": 16, "kind": "function", "arity": 0},
		{"name": "env", "line": 17, "kind": "value", "value": "development"},
		{"name": "name", "line": 17, "kind": "value", "value": "helper"},
		{"name": "limit_request_field_size", "line": 18, "kind": "value", "value": 16380},
		{"name": "reload_extra_files", "line": 18, "kind": "value", "value": []},
		{"name": "logger_class", "line": 19, "kind": "function", "type": "type", "arity": 0},
		{"name": "on_starting", "line": 20, "kind": "function", "arity": 1},
		{"name": "post_fork", "line": 22, "kind": "function", "arity": 2},
		{"name": "post_request", "line": 23, "kind": "function", "arity": 3},
		{"name": "on_dirty_starting", "line": 24, "kind": "function"}]}`
	cfg, settings, err := pinnedPython(t, answer)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.App.Raw != "site.wsgi:app" || cfg.Workers != 9 || !reflect.DeepEqual(cfg.Binds, []string{"0.0.0.0:9000"}) ||
		!reflect.DeepEqual(cfg.Env, []string{"A=1", "B=2"}) || cfg.Proxy.ForwardedAllowIPs.String() != "10.0.0.1,10.0.0.2" ||
		!cfg.Preload || cfg.Sendfile || cfg.Pidfile != "" || cfg.Keepalive != 5 || cfg.Umask != 0o22 ||
		cfg.PythonLogging.Dict != `{"version":1}` || cfg.Proxy.SecureSchemeHeaders["X-PROTO"] != "https" {
		t.Errorf("settings not taken: %+v", cfg)
	}
	if cfg.ProcName != "" || len(cfg.Env) != 2 || cfg.LimitRequestFieldSize != 16380 || len(cfg.ReloadExtraFiles) != 0 {
		t.Errorf("helper names taken as settings, or settings lost: %+v", cfg)
	}
	if want := "logger_class has no effect in gowsgi: the server's error and access logs are written by gowsgi, not by a Python logger class"; !slices.Contains(cfg.Notices, want) {
		t.Errorf("notices %q", cfg.Notices)
	}
	want := PythonHooks{Source: "file:/srv/site/gunicorn.conf.py", Defined: []string{"on_starting", "post_fork", "post_request"}}
	if !reflect.DeepEqual(cfg.Python, want) || !cfg.Python.Defines(MasterHooks) || !cfg.Python.Defines(WorkerHooks) {
		t.Errorf("hooks %+v, want %+v", cfg.Python, want)
	}
	if got := lookup(t, settings, "workers"); got.Source != "/srv/site/gunicorn.conf.py:4" {
		t.Errorf("workers comes from %q", got.Source)
	}
	if got := lookup(t, settings, "on_starting"); got.Value != "<Python function on_starting>" || got.Source != "/srv/site/gunicorn.conf.py:20" {
		t.Errorf("on_starting: %+v", got)
	}
	if got := lookup(t, settings, "config"); got.Value != "/srv/site/gunicorn.conf.py (Python)" {
		t.Errorf("config: %+v", got)
	}
	joined := strings.Join(cfg.Warnings, "\n")
	if !strings.Contains(joined, "on_dirty_starting is a hook of gunicorn's dirty arbiters") ||
		strings.Contains(joined, "multiprocessing_count") {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if env := cfg.WorkerEnv(); env[0] != FileEnv+"=file:/srv/site/gunicorn.conf.py" {
		t.Errorf("worker env %q", env)
	}
}

func TestPythonFileMistakesNameTheLine(t *testing.T) {
	cases := map[string]string{
		`{"error": "NameError: name 'x' is not defined", "line": 7}`:                                                  `/srv/site/gunicorn.conf.py:7: NameError: name 'x' is not defined`,
		`{"names": [{"name": "workers", "line": 3, "kind": "value", "value": "many"}]}`:                               `/srv/site/gunicorn.conf.py:3: invalid value "many" for workers: not a number`,
		`{"names": [{"name": "workers", "line": 3, "kind": "function"}]}`:                                             `/srv/site/gunicorn.conf.py:3: setting "workers" must be a value, not a function or class`,
		`{"names": [{"name": "post_fork", "line": 3, "kind": "function", "arity": 1}]}`:                               `/srv/site/gunicorn.conf.py:3: hook "post_fork" must take 2 positional parameters, not 1`,
		`{"names": [{"name": "on_starting", "line": 3, "kind": "value", "value": "echo hi"}]}`:                        `/srv/site/gunicorn.conf.py:3: hook "on_starting" must be a function, or the import string of one`,
		`{"names": [{"name": "timeout", "line": 2, "kind": "other", "type": "Decimal"}]}`:                             `/srv/site/gunicorn.conf.py:2: setting "timeout" is a Decimal`,
		`{"names": [{"name": "worker_class", "line": 4, "kind": "value", "value": "uvicorn.workers.UvicornWorker"}]}`: `/srv/site/gunicorn.conf.py:4: invalid value "uvicorn.workers.UvicornWorker" for worker_class: an ASGI worker class`,
		`{"names": [{"name": "dirty_apps", "line": 5, "kind": "value", "value": ["a:b"]}]}`:                           `/srv/site/gunicorn.conf.py:5: dirty_apps is a gunicorn setting for dirty arbiters`,
	}
	for answer, want := range cases {
		_, _, err := pinnedPython(t, answer, "a:b")
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s:\n got %v\nwant %s…", answer, err, want)
		}
	}
}

func TestMisspeltPythonSettingIsAWarning(t *testing.T) {
	cfg, _, err := pinnedPython(t, `{"names": [{"name": "worker", "line": 2, "kind": "value", "value": 4}]}`, "a:b")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"/srv/site/gunicorn.conf.py:2: worker is not a setting and is ignored (did you mean workers?)"}; !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("warnings %q, want %q", cfg.Warnings, want)
	}
}

func TestConfigFileKindAndDefaultFiles(t *testing.T) {
	for name, python := range map[string]bool{"x.py": true, "x.yaml": false, "x.yml": false, "conf": true} {
		if got := isPythonFile(name, []byte("workers = 2\n")); got != python {
			t.Errorf("%s with Python text: python %v", name, got)
		}
	}
	if isPythonFile("conf", []byte("workers: 2\n")) || isPythonFile("conf", nil) {
		t.Error("YAML text without an extension read as Python")
	}
	t.Chdir(t.TempDir())
	for _, name := range []string{DefaultFile, DefaultPythonFile} {
		if err := os.WriteFile(name, []byte("workers = 2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if msg := parseError(t, nil, "a:b"); msg != "both ./gunicorn.conf.py and ./gowsgi.yaml exist: name the one to read with -c" {
		t.Errorf("got %q", msg)
	}
	path, name, err := findFile("file:"+DefaultPythonFile, "")
	if err != nil || !strings.HasPrefix(path, "file:/") || name != DefaultPythonFile {
		t.Errorf("file: prefix gave %q %q %v", path, name, err)
	}
	if path, _, _ := findFile("python:site.conf", ""); path != "python:site.conf" {
		t.Errorf("python: gave %q", path)
	}
	if _, _, err := findFile("python:not a module", ""); err == nil {
		t.Error("python: with a bad module name accepted")
	}
}

func TestCommandLineAsArgparse(t *testing.T) {
	cfg := mustParse(t, nil, "--thread=8", "--graceful", "3", "a:b", "extra", "words")
	if cfg.Threads != 8 || cfg.GracefulTimeout != 3 {
		t.Errorf("prefixes: threads %d, graceful timeout %d", cfg.Threads, cfg.GracefulTimeout)
	}
	if msg := parseError(t, nil, "--work", "3", "a:b"); msg != "ambiguous option: --work could match --workers, --worker-class, --worker-connections, --worker-tmp-dir" {
		t.Errorf("ambiguous prefix: %s", msg)
	}
	if want := []string{"ignoring extra arguments after APP_MODULE a:b: extra words"}; !reflect.DeepEqual(cfg.Warnings, want) {
		t.Errorf("warnings %q", cfg.Warnings)
	}
	// The word after an option that takes a value is the value, even when it looks like an option.
	if cfg := mustParse(t, nil, "--access-logformat", "--thread", "--max-requests", "7", "a:b"); cfg.AccessLogFormat != "--thread" || cfg.MaxRequests != 7 {
		t.Errorf("values: %q %d", cfg.AccessLogFormat, cfg.MaxRequests)
	}
	if cfg := mustParse(t, nil, "-w", " 5 ", "--threads=0x10", "a:b"); cfg.Workers != 5 || cfg.Threads != 16 {
		t.Errorf("numbers as int(text, 0) reads them: workers %d, threads %d", cfg.Workers, cfg.Threads)
	}
	if cfg := mustParse(t, nil, "--max-requests-j=3", "--keep", "4", "a:b"); cfg.MaxRequestsJitter != 3 || cfg.Keepalive != 4 {
		t.Errorf("prefixes: %+v", cfg)
	}
}

func TestCmdArgsFromBothVariables(t *testing.T) {
	env := map[string]string{GunicornCmdArgsEnv: "--workers 3 --timeout 7 gunicorn:app", CmdArgsEnv: "--timeout 9"}
	cfg, settings := mustResolve(t, env)
	if cfg.Workers != 3 || cfg.Timeout != 9 || cfg.App.Raw != "gunicorn:app" {
		t.Errorf("workers %d timeout %d app %s", cfg.Workers, cfg.Timeout, cfg.App.Raw)
	}
	if got := lookup(t, settings, "workers"); got.Source != GunicornCmdArgsEnv {
		t.Errorf("workers from %q", got.Source)
	}
	if got := lookup(t, settings, "timeout"); got.Source != CmdArgsEnv {
		t.Errorf("timeout from %q", got.Source)
	}
	if cfg := mustParse(t, env, "-w", "5", "a:b"); cfg.Workers != 5 || cfg.App.Raw != "a:b" {
		t.Errorf("the command line must win: %+v", cfg)
	}
}

func TestSettingsWithoutEffectAreNoted(t *testing.T) {
	cfg := mustParse(t, nil, "--worker-tmp-dir", "/dev/shm", "--logger-class", "x.Logger", "--statsd-host", "localhost:8125", "a:b")
	want := []string{
		"worker_tmp_dir has no effect in gowsgi: workers report to the master through shared memory, not heartbeat files",
		"logger_class has no effect in gowsgi: the server's error and access logs are written by gowsgi, not by a Python logger class",
	}
	if !reflect.DeepEqual(cfg.Notices, want) {
		t.Errorf("notices %q, want %q", cfg.Notices, want)
	}
	if cfg := mustParse(t, nil, "a:b"); len(cfg.Notices) != 0 {
		t.Errorf("notices without such settings: %q", cfg.Notices)
	}
}

func TestExtraSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := mustParse(t, nil, "--paste", "site.ini#admin", "--paste-global", "A=1", "--protocol", "uwsgi",
		"--uwsgi-allow-from", "*", "--root-path", "/api", "--casefold-http-method", "--log-syslog",
		"--log-syslog-facility", "LOCAL3", "--http2-max-concurrent-streams", "7", "--log-config", "log.ini")
	if cfg.Paste != dir+"/site.ini#admin" || cfg.App.Raw != "" || !reflect.DeepEqual(cfg.PasteGlobal, []string{"A=1"}) ||
		cfg.Protocol != "uwsgi" || cfg.Proxy.UwsgiAllowIPs.String() != "*" || cfg.RootPath != "/api" ||
		!cfg.HTTPParsing.CasefoldMethod || !cfg.Syslog.Enabled || cfg.Syslog.Facility != "local3" ||
		cfg.HTTP2.MaxConcurrentStreams != 7 || cfg.PythonLogging.File != dir+"/log.ini" {
		t.Errorf("extra settings: %+v", cfg)
	}
}
