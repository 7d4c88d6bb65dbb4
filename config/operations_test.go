package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestEnvAndReloadFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("site", 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := mustParse(t, nil, "-e", "A=1", "--env", "B=x=y", "--env=C=", "--reload", "--reload-engine", "poll",
		"--reload-extra-file", "conf/x.yaml", "--reload-extra-file", "/etc/y", "--chdir", "site", "a:b")
	if want := []string{"A=1", "B=x=y", "C="}; !reflect.DeepEqual(cfg.Env, want) {
		t.Errorf("env %q, want %q", cfg.Env, want)
	}
	if !cfg.Reload || cfg.ReloadEngine != "poll" {
		t.Errorf("reload %v engine %q", cfg.Reload, cfg.ReloadEngine)
	}
	// Relative to the app's directory, as the pid file and unix sockets are.
	if want := []string{filepath.Join(dir, "site", "conf", "x.yaml"), "/etc/y"}; !reflect.DeepEqual(cfg.ReloadExtraFiles, want) {
		t.Errorf("extra files %q, want %q", cfg.ReloadExtraFiles, want)
	}
	if cfg.CheckConfig || cfg.PrintConfig {
		t.Errorf("check %v print %v without the flags", cfg.CheckConfig, cfg.PrintConfig)
	}
	if cfg = mustParse(t, nil, "--check-config", "--print-config", "a:b"); !cfg.CheckConfig || !cfg.PrintConfig {
		t.Errorf("check %v print %v with the flags", cfg.CheckConfig, cfg.PrintConfig)
	}
}

func TestBadEnvAndReloadEngineAreRefused(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := map[string][]string{
		`invalid value "FOO" for -e/--env: expected KEY=VALUE`:                     {"-e", "A=1", "-e", "FOO", "a:b"},
		`invalid value "=1" for -e/--env: expected KEY=VALUE`:                      {"--env", "=1", "a:b"},
		`invalid value "fsevents" for --reload-engine: choose auto, inotify, poll`: {"--reload-engine", "fsevents", "a:b"},
	}
	for want, args := range cases {
		if got := parseError(t, nil, args...); got != want {
			t.Errorf("%q:\n got %s\nwant %s", args, got, want)
		}
	}
	inTempDirWith(t, "workers: 2\nraw_env: [A=1, FOO]\n")
	if got, want := parseError(t, nil, "a:b"), `gowsgi.yaml:2: invalid value "FOO" for raw_env: expected KEY=VALUE`; got != want {
		t.Errorf("raw_env in the file:\n got %s\nwant %s", got, want)
	}
}

func TestOperationsInTheConfigFile(t *testing.T) {
	dir := inTempDirWith(t, "raw_env: [A=1, B=2]\nreload: true\nreload_engine: inotify\nreload_extra_files: [x.txt]\n")
	cfg := mustParse(t, nil, "a:b")
	if !reflect.DeepEqual(cfg.Env, []string{"A=1", "B=2"}) || !cfg.Reload || cfg.ReloadEngine != "inotify" ||
		!reflect.DeepEqual(cfg.ReloadExtraFiles, []string{filepath.Join(dir, "x.txt")}) {
		t.Errorf("from the file: env %q reload %v %q extra %q", cfg.Env, cfg.Reload, cfg.ReloadEngine, cfg.ReloadExtraFiles)
	}
	// Like binds, a later source that gives a list replaces the earlier one's.
	cfg = mustParse(t, map[string]string{CmdArgsEnv: "-e C=3"}, "a:b")
	if !reflect.DeepEqual(cfg.Env, []string{"C=3"}) {
		t.Errorf("GOWSGI_CMD_ARGS's -e: env %q", cfg.Env)
	}
	cfg = mustParse(t, map[string]string{CmdArgsEnv: "-e C=3"}, "-e", "D=4", "-e", "E=5", "a:b")
	if !reflect.DeepEqual(cfg.Env, []string{"D=4", "E=5"}) {
		t.Errorf("the command line's -e: env %q", cfg.Env)
	}
	for _, key := range []string{"check_config", "print-config"} {
		inTempDirWith(t, key+": true\n")
		if got := parseError(t, nil, "a:b"); !strings.Contains(got, "cannot be used in a config file") {
			t.Errorf("%s in the file: %s", key, got)
		}
	}
}

func TestWorkersApplyTheFileTheirMasterRead(t *testing.T) {
	dir := inTempDirWith(t, "workers: 2\nwsgi_app: a:b\n")
	master := mustParse(t, nil)
	if master.ConfigText != "workers: 2\nwsgi_app: a:b\n" {
		t.Fatalf("config text %q", master.ConfigText)
	}
	workerEnv := map[string]string{}
	for _, entry := range master.WorkerEnv() {
		name, value, _ := strings.Cut(entry, "=")
		workerEnv[name] = value
	}
	if err := os.WriteFile(DefaultFile, []byte("workers: 5\nwsgi_app: c:d\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	worker := mustParse(t, workerEnv)
	if worker.Workers != 2 || worker.App.Raw != "a:b" || worker.ConfigFile != filepath.Join(dir, DefaultFile) {
		t.Errorf("a worker started after the edit applied workers %d app %q from %q", worker.Workers, worker.App.Raw, worker.ConfigFile)
	}
	if reread := mustParse(t, nil); reread.Workers != 5 {
		t.Errorf("without the master's text the file is read again: workers %d", reread.Workers)
	}
	workerEnv[FileTextEnv] = "workers: 3"
	if got := parseError(t, workerEnv); !strings.HasPrefix(got, FileTextEnv+": ") {
		t.Errorf("unquoted text: %s", got)
	}
	if env := (&Config{}).WorkerEnv(); !reflect.DeepEqual(env, []string{FileEnv + "=" + noFile}) {
		t.Errorf("no config file: worker env %q", env)
	}
}
