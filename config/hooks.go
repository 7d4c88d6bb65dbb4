package config

import (
	"regexp"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// ShellHooks are the master's events as shell commands (run with /bin/sh -c); "" means none.
// The master runs no Python, so gunicorn's master-side hook functions become commands here.
type ShellHooks struct {
	OnStarting      string
	WhenReady       string
	OnReload        string
	ChildExit       string
	NworkersChanged string
	OnExit          string
}

// hookOptions are the hook settings as typed.
type hookOptions struct {
	module string
	shell  ShellHooks
}

func (h *hookOptions) declare(fs *pflag.FlagSet) {
	fs.StringVar(&h.module, "hooks", "",
		"call the functions of the Python `MODULE` in each worker: post_fork, post_worker_init, pre_request, post_request, worker_int, worker_abort, worker_exit")
	shell := []struct {
		target *string
		name   string
		when   string
	}{
		{&h.shell.OnStarting, "on-starting", "before the master opens its sockets"},
		{&h.shell.WhenReady, "when-ready", "once the first workers are all ready"},
		{&h.shell.OnReload, "on-reload", "on HUP"},
		{&h.shell.ChildExit, "child-exit", "after a worker process ends"},
		{&h.shell.NworkersChanged, "nworkers-changed", "when TTIN, TTOU or WINCH change the number of workers"},
		{&h.shell.OnExit, "on-exit", "before the master exits"},
	}
	for _, s := range shell {
		fs.StringVar(s.target, s.name, "", "run the shell `COMMAND` "+s.when+" (details in GOWSGI_* variables)")
	}
}

// pythonModule is a dotted Python module name.
var pythonModule = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func (h *hookOptions) resolve(cfg *Config) error {
	if name, isFile := strings.CutSuffix(h.module, ".py"); isFile && pythonModule.MatchString(name) {
		return invalidValue("hooks", h.module, "name the module, not its file: "+name)
	}
	if h.module != "" && !pythonModule.MatchString(h.module) {
		return invalidValue("hooks", h.module, "expected a Python module name such as mypkg.hooks")
	}
	cfg.Hooks, cfg.ShellHooks = h.module, h.shell
	return nil
}

// MasterHooks are gunicorn's hooks that it calls in its master (arbiter) process; in gowsgi a
// Python config file's functions for them run in the master's hook process. WorkerHooks are
// those it calls in a worker, which gowsgi's workers call too.
var (
	MasterHooks = []string{"on_starting", "on_reload", "when_ready", "pre_fork", "pre_exec",
		"child_exit", "nworkers_changed", "on_exit"}
	WorkerHooks = []string{"post_fork", "post_worker_init", "worker_int", "worker_abort",
		"pre_request", "post_request", "worker_exit", "ssl_context"}
)

// isHookName says whether a normalized key (with -) names one of gunicorn's hooks.
func isHookName(normal string) bool {
	name := strings.ReplaceAll(normal, "-", "_")
	return slices.Contains(MasterHooks, name) || slices.Contains(WorkerHooks, name)
}

// PythonHooks are the hook functions of a Python config file.
type PythonHooks struct {
	// Source is how a Python process runs the file again: "file:PATH" or "python:MODULE"; ""
	// when the config file is not Python.
	Source string
	// Defined are the hooks it defines, by gunicorn's names.
	Defined []string
}

// Defines says whether the file defines one of hooks.
func (p PythonHooks) Defines(hooks []string) bool {
	for _, name := range p.Defined {
		if slices.Contains(hooks, name) {
			return true
		}
	}
	return false
}
