package master

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"gowsgi/config"
	"gowsgi/errorlog"
)

// daemonParentEnv marks the master that -D/--daemon started in the background; its value is the
// pid of the process that started it. Go cannot fork, so the detached master is this binary
// started again, in a session of its own.
const daemonParentEnv = "GOWSGI_DAEMON_PARENT"

// daemonize starts the background master and reports detached, with the exit code for the
// foreground process, which exits at once as gunicorn's does. In the background master, and when
// -D is not given, it returns detached false and the master goes on.
func daemonize(cfg *config.Config) (exitCode int, detached bool) {
	if parent, isDaemon := os.LookupEnv(daemonParentEnv); isDaemon {
		os.Unsetenv(daemonParentEnv)
		// Sockets systemd passed to the foreground process are this process's now.
		if os.Getenv(listenPIDEnv) == parent {
			os.Setenv(listenPIDEnv, strconv.Itoa(os.Getpid()))
		}
		unix.Umask(0o22)
		return 0, false
	}
	// A master started by a binary upgrade is already where its parent was.
	if _, upgrading := os.LookupEnv(UpgradeFDsEnv); upgrading || !cfg.Daemon {
		return 0, false
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		errorlog.Error("Can't daemonize: %v", err)
		return exitFailure, true
	}
	defer devNull.Close()
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        os.Args,
		Env:         append(os.Environ(), daemonParentEnv+"="+strconv.Itoa(os.Getpid())),
		Stdin:       devNull,
		Stdout:      daemonOutput(os.Stdout, devNull, cfg.EnableStdioInheritance),
		Stderr:      daemonOutput(os.Stderr, devNull, cfg.EnableStdioInheritance),
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		errorlog.Error("Can't daemonize: %v", err)
		return exitFailure, true
	}
	_ = cmd.Process.Release()
	return 0, true
}

// daemonOutput is what the background master gets for standard output or error: /dev/null, or
// with -R/--enable-stdio-inheritance the foreground's own, so that `gowsgi -D -R > out.log 2>&1`
// keeps the output, as gunicorn does; a terminal is still replaced, as the daemon must not hold
// one.
func daemonOutput(own, devNull *os.File, inherit bool) *os.File {
	if !inherit {
		return devNull
	}
	if _, err := unix.IoctlGetTermios(int(own.Fd()), unix.TCGETS); err == nil {
		return devNull // a terminal
	}
	return own
}
