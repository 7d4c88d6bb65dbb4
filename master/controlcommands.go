package master

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/control"
	"gowsgi/errorlog"
)

// masterStats are the counts `show stats` reports since the master started.
type masterStats struct {
	started time.Time
	// spawned counts workers started; stopped, the stops and kills the master sent to workers
	// (a worker stopped and then killed counts twice, as in gunicorn); reloads, the reloads
	// asked for, whether they succeeded or not.
	spawned, stopped, reloads int
}

// startControl serves the control socket, unless --no-control-socket says not to. A socket that
// another running server answers on is left to it, with a warning; but a master started by a
// binary upgrade waits for its old master, which holds the socket, to exit (checkPromotion).
func (a *arbiter) startControl() {
	settings := a.cfg.ControlSocket
	a.controlPending = false
	switch {
	case settings.Disabled:
		return
	case settings.Path == "":
		errorlog.Warning("No control socket: neither $XDG_RUNTIME_DIR nor a home directory to put it in; " +
			"name one with --control-socket")
		return
	}
	server, err := serveControl(settings.Path, settings.Mode, a.controlRequests)
	switch {
	case err == nil:
		a.control = server
		errorlog.Info("Control socket listening at %s", settings.Path)
	case errors.Is(err, errSocketInUse) && a.upgrade.oldMasterPid != 0:
		a.controlPending = true
	default:
		errorlog.Warning("Can't serve the control socket %s: %v", settings.Path, err)
	}
}

// handleControl answers a command from the control socket. It runs on the arbiter's
// goroutine, where the workers may be read and changed. A command that stands for a signal
// is answered first and then does what the signal does, since a reload or a stop takes time.
func (a *arbiter) handleControl(req controlRequest) (exitCode int, done bool) {
	if sig, status, isSignal := signalCommand(req.command); isSignal {
		req.reply <- controlReply{data: status}
		errorlog.Info("Handling control command: %s, as %s", req.command.Name, signalName(sig))
		return a.obey(sig)
	}
	data, err := a.controlAnswer(req.command)
	req.reply <- controlReply{data: data, err: err}
	return 0, false
}

// signalCommand gives the signal that a command stands for, and the command's answer.
func signalCommand(c control.Command) (syscall.Signal, control.Status, bool) {
	switch c.Name {
	case control.Reload:
		return syscall.SIGHUP, control.Status{Status: "reloading"}, true
	case control.Reopen:
		return syscall.SIGUSR1, control.Status{Status: "reopening"}, true
	case control.Shutdown:
		sig := syscall.SIGTERM
		if c.Mode == control.Quick {
			sig = syscall.SIGINT
		}
		return sig, control.Status{Status: "shutting_down", Mode: c.Mode}, true
	}
	return 0, control.Status{}, false
}

// controlAnswer carries out the commands that do not stand for a signal.
func (a *arbiter) controlAnswer(c control.Command) (any, error) {
	switch c.Name {
	case control.ShowWorkers:
		workers := a.workerInfos()
		return control.Workers{Workers: workers, Count: len(workers)}, nil
	case control.ShowAll:
		return a.overview(), nil
	case control.ShowDirty:
		return control.Dirty{Workers: []any{}, Apps: []any{}}, nil
	case control.ShowConfig:
		return a.configAnswer(), nil
	case control.ShowStats:
		return a.statsAnswer(), nil
	case control.ShowListeners:
		return a.listenerInfos()
	case control.WorkerAdd:
		previous := a.wanted
		a.setWanted(previous + c.Count)
		return control.Added{Added: c.Count, Previous: previous, Total: a.wanted}, nil
	case control.WorkerRemove:
		// As TTOU, never below one worker, and no change from zero (after WINCH).
		previous := a.wanted
		a.setWanted(max(previous-c.Count, min(previous, 1)))
		return control.Removed{Removed: previous - a.wanted, Previous: previous, Total: a.wanted}, nil
	case control.WorkerKill:
		w, found := a.workers[c.PID]
		if !found {
			return control.Outcome{Error: fmt.Sprintf("Worker %d not found", c.PID)}, nil
		}
		// Retired rather than signalled, so that its replacement starts at once.
		if !w.retiring {
			a.stopGracefully(w)
		}
		return control.Outcome{Success: true, Killed: c.PID}, nil
	case control.DirtyAdd, control.DirtyRemove:
		return control.Outcome{Error: "gowsgi runs no dirty arbiter"}, nil
	case control.Help:
		return control.HelpText{Commands: control.Commands}, nil
	}
	return nil, fmt.Errorf("unknown command %q", c.Name)
}

// workerInfos lists the workers the master has not reaped yet, oldest first, as gunicorn
// does: those being stopped too.
func (a *arbiter) workerInfos() []control.WorkerInfo {
	infos := make([]control.WorkerInfo, 0, len(a.workers))
	for pid, w := range a.workers {
		since := roundSeconds(time.Since(w.heardAt))
		infos = append(infos, control.WorkerInfo{PID: pid, Age: w.id, Booted: w.ready,
			Aborted: !w.abortedAt.IsZero(), LastHeartbeat: &since})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Age < infos[j].Age })
	return infos
}

func (a *arbiter) overview() control.All {
	workers := a.workerInfos()
	web := make([]control.WebWorker, len(workers))
	for i, w := range workers {
		web[i] = control.WebWorker{PID: w.PID, Type: "web", Age: w.Age, Booted: w.Booted, LastHeartbeat: w.LastHeartbeat}
	}
	return control.All{Arbiter: control.ProcessInfo{PID: os.Getpid(), Type: "arbiter", Role: "master"},
		WebWorkers: web, WebWorkerCount: len(web), DirtyWorkers: []control.DirtyWorker{}}
}

func (a *arbiter) configAnswer() control.Config {
	c := a.cfg
	orNull := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	return control.Config{Bind: c.Binds, Workers: c.Workers, WorkerClass: c.WorkerClass, Threads: c.Threads,
		Timeout: c.Timeout, GracefulTimeout: c.GracefulTimeout, Keepalive: c.Keepalive,
		MaxRequests: c.MaxRequests, MaxRequestsJitter: c.MaxRequestsJitter,
		WorkerConnections: c.WorkerConnections, PreloadApp: c.Preload, Daemon: c.Daemon,
		Pidfile: orNull(c.Pidfile), ProcName: orNull(c.ProcName), Reload: c.Reload,
		ControlSocket: c.ControlSocket.Path, ControlSocketDisable: c.ControlSocket.Disabled}
}

func (a *arbiter) statsAnswer() control.Stats {
	uptime := roundSeconds(time.Since(a.stats.started))
	return control.Stats{Uptime: &uptime, PID: os.Getpid(), WorkersCurrent: len(a.workers),
		WorkersTarget: a.wanted, WorkersSpawned: a.stats.spawned, WorkersKilled: a.stats.stopped,
		Reloads: a.stats.reloads}
}

// listenerInfos describes the master's listening sockets. The descriptor is read through
// the socket's raw connection: File.Fd would switch the socket, shared with the workers, to
// blocking mode.
func (a *arbiter) listenerInfos() (control.Listeners, error) {
	infos := make([]control.ListenerInfo, 0, len(a.listeners))
	for _, file := range a.listeners {
		raw, err := file.SyscallConn()
		if err != nil {
			return control.Listeners{}, err
		}
		var info control.ListenerInfo
		var nameErr error
		if err := raw.Control(func(fd uintptr) {
			var address unix.Sockaddr
			if address, nameErr = unix.Getsockname(int(fd)); nameErr == nil {
				info = control.ListenerInfo{Address: socketURL(address), FD: int(fd), Type: socketType(address)}
			}
		}); err != nil {
			return control.Listeners{}, err
		}
		if nameErr != nil {
			return control.Listeners{}, nameErr
		}
		infos = append(infos, info)
	}
	return control.Listeners{Listeners: infos, Count: len(infos)}, nil
}

func socketType(address unix.Sockaddr) string {
	switch address.(type) {
	case *unix.SockaddrInet4:
		return "tcp"
	case *unix.SockaddrInet6:
		return "tcp6"
	case *unix.SockaddrUnix:
		return "unix"
	}
	return "unknown"
}

// roundSeconds is d in seconds to two decimals, as gunicorn reports ages.
func roundSeconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*100) / 100
}
