package worker

import (
	"os"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

// RunZygote is the Go side of the fork server that the master starts with --preload (see
// pyembed/zygote.c): it execs the binary again with the orders that make the fork server load
// the app as this worker would, with the master's socket at descriptor control; hidden are the
// variables meant for gowsgi, which the app must not see. When the fork server could not load
// the app, it returns here instead and logs why, with the exit code of a worker that could not
// (under --reload, workers serve an app that failed to import: see wsgi.Zygote).
func RunZygote(cfg *config.Config, control int, hidden []string) int {
	if err := errorlog.Open(cfg.ErrorLog); err != nil {
		errorlog.Error("Can't open the error log %s: %v", cfg.ErrorLog, err)
	}
	if wsgi.PreloadFailed() {
		// The fork server itself serves nothing: the master keeps the workers it has.
		check := *cfg
		check.Reload = false
		_, code := loadApp(&check)
		return code
	}
	if err := os.Chdir(cfg.Chdir); err != nil {
		errorlog.Error("Cannot change to directory %s: %v", cfg.Chdir, err)
		return ExitBootError
	}
	err := wsgi.ExecZygote(appOptions(cfg), wsgi.Zygote{Control: control, Hide: hidden, Env: cfg.Env, Reload: cfg.Reload})
	errorlog.Error("Can't start the fork server: %v", err)
	return ExitBootError
}
