package master

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gowsgi/config"
	"gowsgi/errorlog"
)

// hookWaitLimit is how long the master waits for on_starting before it listens and for on_exit
// before it exits; other hook commands run in the background, so that one that hangs never
// holds up the arbiter loop.
const hookWaitLimit = 10 * time.Second

// runHook starts the event's shell command, if one is configured, with the variables every
// hook gets (GOWSGI_HOOK, GOWSGI_MASTER_PID, GOWSGI_NUM_WORKERS) and the event's own, and
// returns a channel closed when it ends (nil when nothing runs). A failure is logged with the
// command's exit status and changes nothing else.
func (a *arbiter) runHook(event, command string, vars ...string) <-chan struct{} {
	if command == "" {
		return nil
	}
	cmd := exec.Command("/bin/sh", "-c", command)
	for _, kv := range os.Environ() {
		// The config file pinned for workers is not the hook's business.
		if !strings.HasPrefix(kv, config.FileEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "GOWSGI_HOOK="+event, "GOWSGI_MASTER_PID="+strconv.Itoa(os.Getpid()),
		"GOWSGI_NUM_WORKERS="+strconv.Itoa(a.wanted))
	cmd.Env = append(cmd.Env, vars...)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		errorlog.Error("Can't run the %s hook %q: %v", event, command, err)
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var exit *exec.ExitError
		if err := cmd.Wait(); errors.As(err, &exit) {
			errorlog.Error("The %s hook %q %s", event, command, describeExit(exit.ProcessState))
		} else if err != nil {
			errorlog.Error("The %s hook %q failed: %v", event, command, err)
		}
	}()
	return done
}

// waitHook waits for a hook started by runHook, for at most hookWaitLimit.
func waitHook(event string, done <-chan struct{}) {
	if done == nil {
		return
	}
	select {
	case <-done:
	case <-time.After(hookWaitLimit):
		errorlog.Warning("The %s hook still runs after %s; not waiting for it", event, hookWaitLimit)
	}
}

func describeExit(state *os.ProcessState) string {
	status := state.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		return "was killed by signal " + signalName(status.Signal())
	}
	return "exited with code " + strconv.Itoa(status.ExitStatus())
}

func (a *arbiter) bindsVar() string { return "GOWSGI_BINDS=" + strings.Join(a.binds, " ") }

// onStarting runs on_starting and waits for it: it may prepare what the workers need.
func (a *arbiter) onStarting() {
	a.callPython("on_starting", nil, nil)
	waitHook("on_starting", a.runHook("on_starting", a.hooks.OnStarting, a.bindsVar()))
}

// whenReady runs the when_ready shell command once the first workers are all ready to serve;
// the config file's when_ready runs when the master listens (see listening).
func (a *arbiter) whenReady() { a.runHook("when_ready", a.hooks.WhenReady, a.bindsVar()) }

// onReload runs on_reload with the settings read again.
func (a *arbiter) onReload() {
	a.callPython("on_reload", nil, nil)
	a.runHook("on_reload", a.hooks.OnReload)
}

// onExit runs on_exit with the master's exit code, and waits for it.
func (a *arbiter) onExit(code int) {
	a.callPython("on_exit", nil, nil)
	waitHook("on_exit", a.runHook("on_exit", a.hooks.OnExit, "GOWSGI_EXIT_CODE="+strconv.Itoa(code)))
}

// preFork runs pre_fork for the worker about to start, whose pid is not known yet.
func (a *arbiter) preFork(age int) {
	a.callPython("pre_fork", map[string]any{"pid": nil, "age": age}, nil)
}

// preExec runs pre_exec before USR2 starts a new master.
func (a *arbiter) preExec() { a.callPython("pre_exec", nil, nil) }

// childExit runs child_exit for a worker that ended: its pid, its age (spawn number), and its
// exit code or the signal that killed it.
func (a *arbiter) childExit(w *workerProcess, pid int, state *os.ProcessState) {
	a.board.Fold(w.balanceSlot)
	a.balance.Release(w.balanceSlot)
	code, sig := "", ""
	status := state.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		sig = signalName(status.Signal())
	} else {
		code = strconv.Itoa(status.ExitStatus())
	}
	if a.definesPython("child_exit") {
		a.callPython("child_exit", map[string]any{"pid": pid, "age": w.id, "alive": false, "booted": w.ready,
			"exitcode": status.ExitStatus()}, nil)
	} else {
		a.shareWorkers()
	}
	if a.hooks.ChildExit == "" {
		return
	}
	a.runHook("child_exit", a.hooks.ChildExit, "GOWSGI_WORKER_PID="+strconv.Itoa(pid),
		"GOWSGI_WORKER_AGE="+strconv.Itoa(w.id), "GOWSGI_WORKER_EXIT_CODE="+code,
		"GOWSGI_WORKER_SIGNAL="+sig)
}

// setWanted changes the number of workers wanted, running nworkers_changed when it changes.
func (a *arbiter) setWanted(n int) {
	old := a.wanted
	if n == old {
		return
	}
	a.wanted = n
	a.callPython("nworkers_changed", nil, map[string]any{"new": n, "old": old})
	a.runHook("nworkers_changed", a.hooks.NworkersChanged, "GOWSGI_OLD_NUM_WORKERS="+strconv.Itoa(old))
}
