package config

import (
	"path/filepath"
	"strings"
	"testing"

	"gowsgi/errorlog"
)

func TestLoggingFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := mustParse(t, nil, "--access-logfile", "logs/access.log", "--access-logformat", "%(h)s %(s)s",
		"--access-log-json", "--log-level", "WARNING", "--capture-output", "app")
	if cfg.AccessLog != filepath.Join(dir, "logs", "access.log") || cfg.AccessLogFormat != "%(h)s %(s)s" ||
		!cfg.AccessLogJSON || cfg.LogLevel != errorlog.LevelWarning || !cfg.CaptureOutput {
		t.Errorf("logging flags not applied: %+v", cfg)
	}
	if cfg := mustParse(t, nil, "--access-logfile", "-", "app"); cfg.AccessLog != "-" {
		t.Errorf("--access-logfile - gave %q, want - (standard output)", cfg.AccessLog)
	}
}

func TestBadLoggingValuesAreNamed(t *testing.T) {
	if msg := parseError(t, nil, "--log-level", "verbose", "app"); msg != `invalid value "verbose" for --log-level: choose debug, info, warning, error or critical` {
		t.Errorf("got %q", msg)
	}
	msg := parseError(t, nil, "--access-logformat", "%(h)s %s", "app")
	if !strings.HasPrefix(msg, `invalid value "%(h)s %s" for --access-logformat: `) {
		t.Errorf("got %q", msg)
	}
}

func TestGunicornLoggingKeysInTheConfigFile(t *testing.T) {
	dir := inTempDirWith(t, `
accesslog: access.log
access_log_format: "%(h)s %(r)s"
access_log_json: true
loglevel: debug
capture_output: true
`)
	cfg := mustParse(t, nil, "app")
	if cfg.AccessLog != filepath.Join(dir, "access.log") || cfg.AccessLogFormat != "%(h)s %(r)s" ||
		!cfg.AccessLogJSON || cfg.LogLevel != errorlog.LevelDebug || !cfg.CaptureOutput {
		t.Errorf("gunicorn's keys not applied: %+v", cfg)
	}
	inTempDirWith(t, "access_logfile: a.log\naccess_logformat: \"%(s)s\"\nlog_level: error\n")
	if cfg := mustParse(t, nil, "app"); cfg.AccessLogFormat != "%(s)s" || cfg.LogLevel != errorlog.LevelError {
		t.Errorf("gowsgi's spelling of the keys not applied: %+v", cfg)
	}
	inTempDirWith(t, "workers: 2\nloglevel: loud\n")
	if msg := parseError(t, nil, "app"); msg != `gowsgi.yaml:2: invalid value "loud" for loglevel: choose debug, info, warning, error or critical` {
		t.Errorf("got %q", msg)
	}
}
