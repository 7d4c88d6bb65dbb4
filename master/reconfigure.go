package master

import (
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/accesslog"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/proctitle"
)

// configSource is where the master gets its settings again on HUP.
type configSource struct {
	// settings are those in force, to tell what a reload changes.
	settings config.Settings
	// resolve reads the command line, GOWSGI_CMD_ARGS and the config file again; nil keeps
	// the settings as they are.
	resolve func() (*config.Config, config.Settings, error)
}

// reconfiguration is a reload's new settings, with what applying them needs that can fail,
// prepared before anything changes.
type reconfiguration struct {
	next       *config.Config
	settings   config.Settings
	credential *syscall.Credential
	// listeners are the sockets for next.Binds, in their order: those the master had for an
	// unchanged bind, and opened, those it opened for a new one.
	listeners []*os.File
	opened    []*os.File
	// socketFiles are the unix socket files created for the sockets in opened.
	socketFiles []string
	// pidfile is the pid file written for next, when it names another file.
	pidfile string
}

// reconfigure resolves the settings again for a HUP, as gunicorn reads its config again, and
// applies what belongs to the master: the number of workers, the timeouts, the sockets, the
// pid file, the error log and its level, the shell hooks, process titles, the workers' user
// and the environment. Workers
// take the rest when they start, from the settings the master hands them. When the new
// settings are invalid or cannot be applied, it logs why and returns false: the master and its
// workers go on as they were.
func (a *arbiter) reconfigure() bool {
	if a.source.resolve == nil {
		return true
	}
	r, err := a.prepareReconfiguration()
	if err != nil {
		errorlog.Error("Reload failed: %v; keeping the running workers and the settings they have", err)
		return false
	}
	a.commit(r)
	return true
}

func (a *arbiter) prepareReconfiguration() (*reconfiguration, error) {
	next, settings, err := a.source.resolve()
	if err != nil {
		return nil, err
	}
	r := &reconfiguration{next: next, settings: settings}
	if err := accesslog.CheckWritable(next.AccessLog); err != nil {
		return nil, fmt.Errorf("can't open the access log %s: %v", next.AccessLog, err)
	}
	if r.credential, err = workerCredential(next); err != nil {
		return nil, err
	}
	if err := a.rebind(r); err != nil {
		return nil, err
	}
	if err := a.preparePidfile(r); err != nil {
		a.abandon(r)
		return nil, err
	}
	return r, nil
}

// rebind finds the sockets for the new binds: a bind the master already listens on keeps its
// socket, so that no connection waiting on it is lost, and a new one is opened. A bind that is
// gone is closed only once the reload is certain (commit); workers already running keep their
// own copy and serve on it until they stop.
func (a *arbiter) rebind(r *reconfiguration) error {
	old, next := a.cfg.Binds, r.next.Binds
	if a.host != nil && a.host.activated || len(a.listeners) != len(old) {
		// The sockets came from systemd, not from the binds: the binds cannot say which to keep.
		if !slices.Equal(old, next) {
			errorlog.Warning("Reload: bind is ignored while gowsgi serves the sockets systemd passed")
		}
		r.listeners = a.listeners
		return nil
	}
	held := map[string]*os.File{}
	for i, bind := range old {
		if key, err := bindKey(bind); err == nil {
			held[key] = a.listeners[i]
		}
	}
	opts := listenOptions{backlog: r.next.Backlog, reusePort: r.next.ReusePort, umask: r.next.Umask, owner: r.credential}
	for _, bind := range next {
		key, err := bindKey(bind)
		if err != nil {
			a.abandon(r)
			return fmt.Errorf("invalid bind %q: %v", bind, err)
		}
		if file, found := held[key]; found {
			if r.next.Backlog != a.cfg.Backlog {
				setBacklog(file, r.next.Backlog)
			}
			r.listeners = append(r.listeners, file)
			continue
		}
		// listenAll logs where it listens, or why it cannot.
		files, ok := listenAll([]string{bind}, opts)
		if ok {
			r.socketFiles = append(r.socketFiles, socketFilesOf([]string{bind})...)
			files, err = shareable(files)
		}
		if !ok || err != nil {
			a.abandon(r)
			return fmt.Errorf("cannot listen at %s", bind)
		}
		r.listeners = append(r.listeners, files[0])
		r.opened = append(r.opened, files[0])
	}
	return nil
}

// bindKey is what makes two binds the same socket: "127.0.0.1" and "127.0.0.1:8000" are.
func bindKey(bind string) (string, error) {
	network, address, err := parseBind(bind)
	return network + " " + address, err
}

// setBacklog changes the listen backlog of a socket that is listening already.
func setBacklog(file *os.File, backlog int) {
	conn, err := file.SyscallConn()
	if err == nil {
		err = conn.Control(func(fd uintptr) { err = unix.Listen(int(fd), backlog) })
	}
	if err != nil {
		errorlog.Warning("Reload: can't set the backlog of %s to %d: %v", file.Name(), backlog, err)
	}
}

// preparePidfile writes the pid file that next names, when it names another one; the old one
// is removed when the reload is certain. While a binary upgrade is under way the pid files
// belong to it and stay as they are.
func (a *arbiter) preparePidfile(r *reconfiguration) error {
	path := r.next.Pidfile
	switch {
	case path == a.cfg.Pidfile || path == "":
		return nil
	case a.upgrade.oldMasterPid != 0 || a.upgrade.newMaster != nil:
		errorlog.Warning("Reload: the pid file stays %s until the binary upgrade is over", a.host.pidfile)
		r.next.Pidfile = a.cfg.Pidfile
		return nil
	}
	if err := checkPidfile(path); err != nil {
		return err
	}
	if err := writePidfile(path); err != nil {
		return fmt.Errorf("can't write pid file %s: %v", path, err)
	}
	r.pidfile = path
	return nil
}

// abandon undoes what preparing a reload opened.
func (a *arbiter) abandon(r *reconfiguration) {
	closeAll(r.opened)
	removeSocketFiles(r.socketFiles)
	if r.pidfile != "" {
		removePidfile(r.pidfile)
	}
}

// commit makes the prepared settings the master's. Workers started from now on get them.
func (a *arbiter) commit(r *reconfiguration) {
	changes := a.source.settings.Changes(r.settings)
	for _, change := range changes {
		errorlog.Info("Reload: %s", change)
	}
	if len(changes) == 0 {
		errorlog.Info("Reload: no setting changed")
	}
	previous, next := a.cfg, r.next
	a.closeDroppedListeners(r)
	a.listeners = r.listeners
	if a.host != nil {
		a.host.credential = r.credential
		a.host.workerTitle = proctitle.Title("worker", next.ProcessName())
		if !a.host.activated {
			a.host.socketFiles = socketFilesOf(next.Binds)
		}
		if previous.Pidfile != next.Pidfile {
			if a.host.pidfile != "" {
				removePidfile(a.host.pidfile)
			}
			a.host.pidfile = r.pidfile
		}
	}
	proctitle.Set(proctitle.Title("master", next.ProcessName()))
	errorlog.CaptureOutput(next.CaptureOutput)
	a.switchErrorLog(previous.ErrorLog, next.ErrorLog)
	errorlog.SetLevel(next.LogLevel)
	a.hooks = next.ShellHooks
	a.env.apply(previous.Env, next.Env)
	if previous.Daemon != next.Daemon {
		errorlog.Warning("Reload: daemon takes effect when gowsgi starts")
	}
	if previous.ControlSocket != next.ControlSocket {
		errorlog.Warning("Reload: the control socket settings take effect when gowsgi starts")
	}
	if previous.Metrics != next.Metrics {
		errorlog.Warning("Reload: the metrics and statsd settings take effect when gowsgi starts")
	}
	a.cfg, a.source.settings = next, r.settings
	a.reloadHooks(next)
	// As with gunicorn, the number of workers is the setting's again, whatever TTIN and TTOU did.
	a.setWanted(next.Workers)
	a.gracefulTimeout = time.Duration(next.GracefulTimeout) * time.Second
	a.timeout = time.Duration(next.Timeout) * time.Second
}

// closeDroppedListeners closes the master's copy of the sockets whose bind is gone, and removes
// their socket files unless another master serves on them (a binary upgrade under way).
func (a *arbiter) closeDroppedListeners(r *reconfiguration) {
	if len(a.listeners) != len(a.cfg.Binds) {
		return
	}
	upgrading := a.upgrade.newMaster != nil || a.upgrade.oldMasterPid != 0
	for i, file := range a.listeners {
		if slices.Contains(r.listeners, file) {
			continue
		}
		file.Close()
		errorlog.Info("Stopped listening at: %s", a.cfg.Binds[i])
		if !upgrading {
			removeSocketFiles(socketFilesOf(a.cfg.Binds[i : i+1]))
		}
	}
}

// switchErrorLog moves the master's error log to a new file. Standard error itself has become
// the old file, so going back to "-" can only happen at the next start.
func (a *arbiter) switchErrorLog(previous, next string) {
	switch {
	case previous == next:
	case next == "-":
		errorlog.Warning("Reload: the error log goes back to standard error when gowsgi starts again")
	default:
		if err := errorlog.Open(next); err != nil {
			errorlog.Error("Reload: can't open the error log %s: %v", next, err)
		}
	}
}
