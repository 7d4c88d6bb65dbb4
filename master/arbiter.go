// Package master is gowsgi's supervising process. It holds no Python: it opens the listening
// sockets, starts workers by re-executing its own binary, replaces workers that die and stops
// them all on request.
package master

import (
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"gowsgi/config"
	"gowsgi/errorlog"
)

// exitFailure is the master's exit code when it cannot listen or start workers; besides it the
// master exits 0 when told to stop, or with the code of a worker that could not boot.
const exitFailure = 1

const (
	// quickStopTimeout is how long INT and QUIT let workers take before they are killed.
	quickStopTimeout = time.Second
	// killWaitTimeout bounds the wait for killed workers to be reaped, so that a worker stuck in
	// the kernel cannot keep the master from exiting.
	killWaitTimeout = 5 * time.Second
	// A worker that dies sooner than youngDeath after it started is probably failing at start-up;
	// replacements then wait firstRespawnDelay, doubled with each young death up to maxRespawnDelay.
	youngDeath        = time.Second
	firstRespawnDelay = 250 * time.Millisecond
	maxRespawnDelay   = 4 * time.Second
)

// handledSignals are the signals the master takes over from their default actions. USR1 and the
// signals of the next lifecycle features are caught so that sending them does not kill the master.
var handledSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
	syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2}

// Run is the master process: it listens on cfg.Binds, keeps cfg.Workers workers running until a
// signal says stop or a worker reports that the app cannot be loaded, and returns the exit code.
func Run(cfg *config.Config, version string) int {
	return runMaster(cfg, version, selfCommand)
}

// runMaster is Run with the way workers are started left open, for tests.
func runMaster(cfg *config.Config, version string, newCommand func() *exec.Cmd) int {
	a := newArbiter(cfg, newCommand)
	signal.Notify(a.signals, handledSignals...)
	defer signal.Stop(a.signals)
	errorlog.Info("Starting gowsgi %s", version)
	listeners, ok := listenAll(cfg.Binds)
	if !ok {
		return exitFailure
	}
	a.listeners = listeners
	errorlog.Info("Using worker: %s", cfg.WorkerClass)
	return a.run()
}

// arbiter owns the worker processes. Everything it does happens on the goroutine of run, fed by
// two queues: signals for the master, and exits of workers.
type arbiter struct {
	listeners       []*os.File
	newCommand      func() *exec.Cmd
	wanted          int
	gracefulTimeout time.Duration
	workers         map[int]*workerProcess
	lastID          int
	signals         chan os.Signal
	exits           chan workerExit
	respawnDelay    time.Duration
	respawnAt       time.Time
	wake            *time.Timer
}

func newArbiter(cfg *config.Config, newCommand func() *exec.Cmd) *arbiter {
	return &arbiter{
		newCommand:      newCommand,
		wanted:          cfg.Workers,
		gracefulTimeout: time.Duration(cfg.GracefulTimeout) * time.Second,
		workers:         make(map[int]*workerProcess),
		signals:         make(chan os.Signal, 16),
		exits:           make(chan workerExit, 16),
	}
}

// run is the lifecycle loop: handle a pending signal first, then bring the workers to the wanted
// number, then wait for the next signal, worker exit or respawn time. Signals go first because a
// Ctrl-C reaches the workers too: their exits must not be taken for deaths to make up for.
func (a *arbiter) run() int {
	// The kernel's parent-death signal is tied to the thread that started a worker, not to the
	// process, so this goroutine keeps its thread for good and starts every worker from it.
	runtime.LockOSThread()
	for {
		select {
		case sig := <-a.signals:
			if code, done := a.handleSignal(sig); done {
				return code
			}
			continue
		default:
		}
		if code, done := a.maintain(); done {
			return code
		}
		select {
		case sig := <-a.signals:
			if code, done := a.handleSignal(sig); done {
				return code
			}
		case exit := <-a.exits:
			if code, done := a.reap(exit); done {
				return code
			}
		case <-a.wakeChannel():
			a.wake = nil
		}
	}
}

func (a *arbiter) handleSignal(sig os.Signal) (exitCode int, done bool) {
	errorlog.Info("Handling signal: %s", shortSignalName(sig))
	switch sig {
	case syscall.SIGTERM:
		return a.shutDown(true, 0, "")
	case syscall.SIGINT, syscall.SIGQUIT:
		return a.shutDown(false, 0, "")
	case syscall.SIGTTIN:
		a.wanted++
	case syscall.SIGTTOU:
		a.wanted = max(1, a.wanted-1)
	case syscall.SIGHUP:
		errorlog.Warning("Reloading is not available in this version; SIGHUP ignored")
	case syscall.SIGUSR2:
		errorlog.Warning("Binary upgrade is not available in this version; SIGUSR2 ignored")
	}
	return 0, false
}

// maintain retires the oldest workers beyond the wanted number and starts the missing ones,
// unless workers have been dying young and the respawn delay has not passed yet.
func (a *arbiter) maintain() (exitCode int, done bool) {
	live := a.liveWorkers()
	for ; len(live) > a.wanted; live = live[1:] {
		live[0].retiring = true
		a.signalWorker(live[0].cmd.Process.Pid, syscall.SIGTERM)
	}
	if len(live) == a.wanted {
		return 0, false
	}
	if wait := time.Until(a.respawnAt); wait > 0 {
		if a.wake == nil {
			a.wake = time.NewTimer(wait)
		}
		return 0, false
	}
	for missing := a.wanted - len(live); missing > 0; missing-- {
		if err := a.spawnWorker(); err != nil {
			errorlog.Error("Can't start a worker: %v", err)
			return a.shutDown(true, exitFailure, "Can't start workers.")
		}
	}
	return 0, false
}

// reap accounts for a worker that ended. A worker that could not boot or load the app stops
// the master with the worker's exit code; any other unexpected end is logged, and maintain
// replaces the worker.
func (a *arbiter) reap(exit workerExit) (exitCode int, done bool) {
	w, known := a.workers[exit.pid]
	if !known {
		return 0, false
	}
	delete(a.workers, exit.pid)
	if w.retiring {
		return 0, false
	}
	status := exit.state.Sys().(syscall.WaitStatus)
	switch code := status.ExitStatus(); {
	case status.Signaled():
		errorlog.Error("Worker (pid:%d) was killed by signal %s", exit.pid, signalName(status.Signal()))
	case code == ExitWorkerBootError:
		errorlog.Error("Worker (pid:%d) exited with code %d: Worker failed to boot.", exit.pid, code)
		return a.shutDown(true, code, "Worker failed to boot.")
	case code == ExitAppLoadError:
		errorlog.Error("Worker (pid:%d) exited with code %d: App failed to load.", exit.pid, code)
		return a.shutDown(true, code, "App failed to load.")
	case code != 0:
		errorlog.Error("Worker (pid:%d) exited with code %d", exit.pid, code)
	}
	a.delayRespawnAfterYoungDeath(exit.pid, time.Since(w.started))
	return 0, false
}

func (a *arbiter) delayRespawnAfterYoungDeath(pid int, lifetime time.Duration) {
	if lifetime >= youngDeath {
		a.respawnDelay = 0
		return
	}
	a.respawnDelay = min(maxRespawnDelay, max(firstRespawnDelay, 2*a.respawnDelay))
	a.respawnAt = time.Now().Add(a.respawnDelay)
	errorlog.Warning("Worker (pid:%d) ended %.2fs after it started; waiting %s before starting another",
		pid, lifetime.Seconds(), a.respawnDelay)
}

// shutDown stops every worker, logs the end of the master with the reason, if any, and returns
// exitCode for the loop to end with. Graceful means TERM and up to --graceful-timeout for
// in-flight requests; quick means QUIT and a second.
func (a *arbiter) shutDown(graceful bool, exitCode int, reason string) (int, bool) {
	closeAll(a.listeners)
	a.listeners = nil
	a.stopWorkers(graceful)
	errorlog.Info("Shutting down: Master")
	if reason != "" {
		errorlog.Info("Reason: %s", reason)
	}
	return exitCode, true
}

func (a *arbiter) stopWorkers(graceful bool) {
	limit := a.gracefulTimeout
	if graceful {
		a.signalAll(syscall.SIGTERM)
	} else {
		limit = quickStopTimeout
		a.signalAll(syscall.SIGQUIT)
	}
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	killed := false
	for len(a.workers) > 0 {
		select {
		case exit := <-a.exits:
			delete(a.workers, exit.pid)
		case sig := <-a.signals:
			// INT or QUIT during a graceful stop hurries it, as they would have on their own.
			if graceful && (sig == syscall.SIGINT || sig == syscall.SIGQUIT) {
				errorlog.Info("Handling signal: %s", shortSignalName(sig))
				graceful, limit = false, quickStopTimeout
				a.signalAll(syscall.SIGQUIT)
				deadline.Reset(limit)
			}
		case <-deadline.C:
			if killed {
				errorlog.Warning("%d workers did not end after SIGKILL; not waiting for them", len(a.workers))
				return
			}
			errorlog.Warning("Killing %d workers still running after %s", len(a.workers), limit)
			a.signalAll(syscall.SIGKILL)
			killed = true
			deadline.Reset(killWaitTimeout)
		}
	}
}

// liveWorkers are the workers not asked to stop, oldest first.
func (a *arbiter) liveWorkers() []*workerProcess {
	var live []*workerProcess
	for _, w := range a.workers {
		if !w.retiring {
			live = append(live, w)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].id < live[j].id })
	return live
}

// wakeChannel fires when a delayed respawn is due; nil (never ready) when none is pending.
func (a *arbiter) wakeChannel() <-chan time.Time {
	if a.wake == nil {
		return nil
	}
	return a.wake.C
}

// shortSignalName is the signal as gunicorn names it in "Handling signal: term".
func shortSignalName(sig os.Signal) string {
	if s, ok := sig.(syscall.Signal); ok {
		return strings.ToLower(strings.TrimPrefix(signalName(s), "SIG"))
	}
	return sig.String()
}
