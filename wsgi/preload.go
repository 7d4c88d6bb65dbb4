package wsgi

import (
	"errors"

	"gowsgi/pyembed"
)

// Zygote is how the fork server of --preload works with its master.
type Zygote struct {
	// Control is the descriptor of the socket on which the master asks for workers.
	Control int
	// Hide are variables the app must not see, and Env -e's KEY=VALUE pairs, which it must.
	Hide, Env []string
	// Reload (--reload) has it fork workers even when the app cannot be imported: they serve
	// the error until a file changes, as workers under --reload do.
	Reload bool
}

// ExecZygote replaces this process with the fork server of --preload (pyembed/zygote.c), which
// loads the app as Load does with o, and then forks workers for the master. It returns only
// when that fails.
func ExecZygote(o Options, z Zygote) error {
	return pyembed.ExecZygote(pyembed.ZygoteOrders{
		Control:         z.Control,
		Options:         pyembed.Options{Executable: executable(o), Paths: o.Paths},
		Hide:            z.Hide,
		Setenv:          z.Env,
		Gevent:          o.Gevent,
		Multithread:     o.Multithread,
		Multiprocess:    o.Multiprocess,
		Settings:        prepareSettings(o),
		Module:          o.Module,
		Attr:            o.Attr,
		Call:            o.Call,
		Args:            o.Args,
		Hooks:           o.Hooks,
		HooksInfo:       o.WorkerInfo,
		ForkOnLoadError: z.Reload,
	})
}

// PreloadFailed reports whether this process is a fork server that could not load the app;
// Load then returns why.
func PreloadFailed() bool { return pyembed.PreloadFailed() }

// loadPreloaded takes the app and the hooks that the fork server loaded, in a worker it
// forked: it starts gevent's hub for this worker, and runs post_fork, as gunicorn does in a
// worker it forked with preload_app. Under --reload, the app may have failed to load there:
// the error is returned, for the worker to serve. Elsewhere it returns nothing, or in a fork
// server that could not load the app, why.
func loadPreloaded(o Options) (*pyembed.App, *pyembed.Hooks, error) {
	app, notes, err := pyembed.Preloaded()
	var hooksFailed *pyembed.HooksFailure
	if errors.As(err, &hooksFailed) {
		err = &HooksError{Module: o.Hooks, LoadError: hooksFailed.LoadError}
	}
	if !pyembed.Forked() {
		return nil, nil, err
	}
	if o.Gevent {
		if err := pyembed.StartHub(); err != nil {
			return nil, nil, err
		}
	}
	logNotes(notes)
	if err != nil {
		return nil, nil, err
	}
	pyembed.HookLog = LogFromPython
	hooks, err := pyembed.PreloadedHooks(o.WorkerInfo)
	if err != nil {
		return nil, nil, &HooksError{Module: o.Hooks, LoadError: err.(*pyembed.LoadError)}
	}
	if hooks != nil {
		hooks.Run(pyembed.PostFork)
	}
	return app, hooks, nil
}
