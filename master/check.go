package master

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"gowsgi/config"
	"gowsgi/errorlog"
)

// CheckAppEnv tells a worker started by --check-config to load the app and exit: it gets no
// socket and serves nothing.
const CheckAppEnv = "GOWSGI_CHECK_APP"

// CheckApp is --check-config: it loads the app in a worker process started the way the master
// starts workers (this binary, the same settings, the workers' user) and returns the worker's
// exit code, 0 when the app loads. The worker writes why it could not to standard error.
func CheckApp(cfg *config.Config) int {
	credential, err := workerCredential(cfg)
	if err != nil {
		errorlog.Error("%v", err)
		return exitFailure
	}
	cmd := selfCommand()
	cmd.Env = append(os.Environ(), WorkerIDEnv+"=check", CheckAppEnv+"=1")
	cmd.Env = append(cmd.Env, cfg.WorkerEnv()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: credential}
	// The parent-death signal follows the thread that started the worker.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	case errors.As(err, &exit):
		errorlog.Error("The worker checking the app ended: %v", err)
	default:
		errorlog.Error("Can't start a worker to check the app: %v", err)
	}
	return exitFailure
}
