package wsgi

import "gowsgi/pyembed"

// ExecZygote replaces this process with the fork server of --preload (pyembed/zygote.c), which
// loads the app as Load does with o, and then forks workers for the master, which asks for them
// on the socket whose descriptor is control. hide are variables the app must not see, and env
// -e's KEY=VALUE pairs, which it must. It returns only when that fails.
func ExecZygote(o Options, control int, hide, env []string) error {
	return pyembed.ExecZygote(pyembed.ZygoteOrders{
		Control:      control,
		Options:      pyembed.Options{Executable: executable(o), Paths: o.Paths},
		Hide:         hide,
		Setenv:       env,
		Gevent:       o.Gevent,
		Multithread:  o.Multithread,
		Multiprocess: o.Multiprocess,
		Settings:     prepareSettings(o),
		Module:       o.Module,
		Attr:         o.Attr,
		Call:         o.Call,
		Args:         o.Args,
	})
}

// PreloadFailed reports whether this process is a fork server that could not load the app;
// Load then returns why.
func PreloadFailed() bool { return pyembed.PreloadFailed() }

// loadPreloaded takes the app that the fork server loaded, in a worker it forked: it starts
// gevent's hub for this worker, and imports the hooks module, whose post_fork then runs as it
// does in gunicorn with preload_app, after the app was imported. Elsewhere it returns nothing,
// or in a fork server that could not load the app, why.
func loadPreloaded(o Options) (*pyembed.App, *pyembed.Hooks, error) {
	app, notes, err := pyembed.Preloaded()
	if app == nil {
		return nil, nil, err
	}
	if o.Gevent {
		if err := pyembed.StartHub(); err != nil {
			return nil, nil, err
		}
	}
	logNotes(notes)
	hooks, err := importHooks(o)
	return app, hooks, err
}
