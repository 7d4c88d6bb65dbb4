package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// inTempDirWith changes to a fresh directory holding gowsgi.yaml with text, and returns it.
func inTempDirWith(t *testing.T, text string) string {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(DefaultFile, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestConfigFileSettings(t *testing.T) {
	dir := inTempDirWith(t, `
workers: 4
max_requests: 100
worker-class: gthread
bind: ["127.0.0.1:9000", "unix:s.sock"]
reuse_port: true
no_sendfile: true
limit_request_field_size: 300
keepalive: 5
wsgi_app: "pkg.site:app"
`)
	cfg := mustParse(t, nil)
	if cfg.Workers != 4 || cfg.MaxRequests != 100 || cfg.WorkerClass != "gthread" || !cfg.ReusePort ||
		cfg.Sendfile || cfg.LimitRequestFieldSize != 300 || cfg.Keepalive != 5 {
		t.Errorf("settings not applied: %+v", cfg)
	}
	if want := []string{"127.0.0.1:9000", "unix:" + filepath.Join(dir, "s.sock")}; !reflect.DeepEqual(cfg.Binds, want) {
		t.Errorf("binds %q, want %q", cfg.Binds, want)
	}
	if cfg.App.Raw != "pkg.site:app" || cfg.ConfigFile != filepath.Join(dir, DefaultFile) {
		t.Errorf("app %q from %q", cfg.App.Raw, cfg.ConfigFile)
	}
}

func TestGeventSettingsInTheConfigFile(t *testing.T) {
	inTempDirWith(t, "worker_class: gevent\nworker_connections: 50\n")
	if cfg := mustParse(t, nil, "a:b"); cfg.WorkerClass != "gevent" || cfg.WorkerConnections != 50 {
		t.Errorf("worker class %q with %d connections, want gevent with 50", cfg.WorkerClass, cfg.WorkerConnections)
	}
}

func TestPrecedenceDefaultsFileEnvironmentCommandLine(t *testing.T) {
	inTempDirWith(t, "workers: 2\nthreads: 2\ntimeout: 5\nbind: 127.0.0.1:1\nwsgi_app: file:app\n")
	env := map[string]string{"GOWSGI_CMD_ARGS": "--threads 3 --timeout 6 -b 127.0.0.1:2 -b 127.0.0.1:3",
		"WEB_CONCURRENCY": "7"}
	cfg := mustParse(t, env, "--timeout", "7")
	if cfg.Workers != 2 || cfg.Threads != 3 || cfg.Timeout != 7 || cfg.GracefulTimeout != 30 {
		t.Errorf("workers=%d threads=%d timeout=%d graceful=%d, want 2 3 7 30",
			cfg.Workers, cfg.Threads, cfg.Timeout, cfg.GracefulTimeout)
	}
	if want := []string{"127.0.0.1:2", "127.0.0.1:3"}; !reflect.DeepEqual(cfg.Binds, want) {
		t.Errorf("binds %q, want GOWSGI_CMD_ARGS's %q replacing the file's", cfg.Binds, want)
	}
	if cfg = mustParse(t, env, "-b", "127.0.0.1:4", "cli:app"); !reflect.DeepEqual(cfg.Binds, []string{"127.0.0.1:4"}) || cfg.App.Raw != "cli:app" {
		t.Errorf("command line binds %q app %q", cfg.Binds, cfg.App.Raw)
	}
	if cfg = mustParse(t, map[string]string{"WEB_CONCURRENCY": "7", "PORT": "5000"}, "-c", "/dev/null", "a:b"); cfg.Workers != 7 || cfg.Binds[0] != "0.0.0.0:5000" {
		t.Errorf("environment defaults without a file setting: workers %d binds %q", cfg.Workers, cfg.Binds)
	}
}

func TestExplicitConfigFileAndPinnedFile(t *testing.T) {
	dir := inTempDirWith(t, "workers: 2\n")
	if err := os.WriteFile("other.yaml", []byte("workers: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if cfg := mustParse(t, nil, "--config", "other.yaml", "a:b"); cfg.Workers != 3 || cfg.ConfigFile != filepath.Join(dir, "other.yaml") {
		t.Errorf("-c other.yaml: workers %d from %q", cfg.Workers, cfg.ConfigFile)
	}
	pinned := map[string]string{FileEnv: filepath.Join(dir, "other.yaml")}
	if cfg := mustParse(t, pinned, "a:b"); cfg.Workers != 3 {
		t.Errorf("a worker did not read the file its master pinned: workers %d", cfg.Workers)
	}
	if cfg := mustParse(t, map[string]string{FileEnv: noFile}, "a:b"); cfg.Workers != 1 || cfg.ConfigFile != "" {
		t.Errorf("a worker whose master had no file read %q", cfg.ConfigFile)
	}
}

func TestConfigFileErrorsNameFileLineAndKey(t *testing.T) {
	cases := map[string]string{
		"workers: 2\nwokers: 3\n":      `gowsgi.yaml:2: unknown setting "wokers" (did you mean "workers"?)`,
		"max_request: 3\n":             `gowsgi.yaml:1: unknown setting "max_request" (did you mean "max_requests"?)`,
		"frobnicate: 3\n":              `gowsgi.yaml:1: unknown setting "frobnicate"`,
		"\nworkers: many\n":            `gowsgi.yaml:2: invalid value "many" for workers: not a number`,
		"workers: [1, 2]\n":            `gowsgi.yaml:1: setting "workers" must be a single value`,
		"\n\nworker_class: eventlet\n": `gowsgi.yaml:3: invalid value "eventlet" for worker_class: choose sync, gthread or gevent`,
		"chdir: missing\n":             `gowsgi.yaml:1: invalid value "missing" for chdir: `,
		"reuse_port: 1\n":              `gowsgi.yaml:1: setting "reuse_port" must be true or false`,
		"preload_app: 3\n":             `gowsgi.yaml:1: setting "preload_app" must be true or false`,
		"sendfile: no\n":               `gowsgi.yaml:1: setting "sendfile" must be true or false`,
		"on_starting_x: 1\n":           `gowsgi.yaml:1: unknown setting "on_starting_x" (did you mean "on_starting"?)`,
		"pre_fork: x\n":                `gowsgi.yaml:1: setting "pre_fork" is a hook function: define it in a Python config file`,
		"asgi_loop: uvloop\n":          `gowsgi.yaml:1: asgi_loop is a gunicorn setting for ASGI`,
		"config: other.yaml\n":         `gowsgi.yaml:1: setting "config" cannot be used in a config file`,
		"workers: 2\n  x: : y\n":       `gowsgi.yaml:2: `,
		"- workers\n":                  `gowsgi.yaml:1: expected settings`,
		"threads: 2\nwsgi_app: 'a:'\n": `gowsgi.yaml:2: wsgi_app: invalid APP_MODULE`,
	}
	for text, want := range cases {
		inTempDirWith(t, text)
		if got := parseError(t, nil, "a:b"); !strings.HasPrefix(got, want) {
			t.Errorf("file %q:\n got %s\nwant %s…", text, got, want)
		}
	}
}

func TestABadFileValueOverriddenLaterIsNotReported(t *testing.T) {
	inTempDirWith(t, "worker_class: eventlet\n")
	if cfg := mustParse(t, nil, "-k", "gthread", "a:b"); cfg.WorkerClass != "gthread" {
		t.Errorf("worker class %q", cfg.WorkerClass)
	}
}

func TestHelpWorksWithABrokenConfigFile(t *testing.T) {
	inTempDirWith(t, "wokers: 3\n")
	if _, err := Parse([]string{"-h"}, envOf(nil)); err != ErrHelp {
		t.Fatalf("-h with a broken file: %v", err)
	}
}

func TestBadCmdArgsAreNamed(t *testing.T) {
	t.Chdir(t.TempDir())
	for _, value := range []string{`--name "a`, `--no-such-flag`, `-w many`} {
		got := parseError(t, map[string]string{"GOWSGI_CMD_ARGS": value}, "a:b")
		if !strings.HasPrefix(got, "GOWSGI_CMD_ARGS: ") {
			t.Errorf("GOWSGI_CMD_ARGS=%q: %s", value, got)
		}
	}
}
