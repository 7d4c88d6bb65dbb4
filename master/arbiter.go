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

	"gowsgi/accesslog"
	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/metrics"
	"gowsgi/proctitle"
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
	// healthInterval is how often the loop looks for silent workers and overdue stops.
	healthInterval = 250 * time.Millisecond
	// stopGrace is how long past --graceful-timeout a worker told to stop may take to exit on
	// its own before it is killed: it enforces the timeout itself, the master only backs it up.
	stopGrace = 2 * time.Second
)

// handledSignals are the signals the master takes over from their default actions.
var handledSignals = []os.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP,
	syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH}

// Run is the master process: it listens on cfg.Binds, keeps cfg.Workers workers running until a
// signal says stop or no worker can load the app (see cannotBoot), and returns the exit code.
// settings are cfg's, as config.Resolve gave them; HUP resolves them again.
func Run(cfg *config.Config, settings config.Settings, version string) int {
	if code, detached := daemonize(cfg); detached {
		return code
	}
	// The environment before -e changes it, which a HUP resolves the settings against again.
	getenv := snapshotEnvironment()
	source := configSource{settings: settings, resolve: func() (*config.Config, config.Settings, error) {
		return config.Resolve(os.Args[1:], getenv)
	}}
	if err := errorlog.Open(cfg.ErrorLog); err != nil {
		errorlog.Error("Can't open the error log %s: %v", cfg.ErrorLog, err)
		return 1
	}
	if err := accesslog.CheckWritable(cfg.AccessLog); err != nil {
		errorlog.Error("Can't open the access log %s: %v", cfg.AccessLog, err)
		return 1
	}
	for _, warning := range cfg.Warnings {
		errorlog.Warning("%s", warning)
	}
	for _, notice := range cfg.Notices {
		errorlog.Info("%s", notice)
	}
	proctitle.Set(proctitle.Title("master", cfg.ProcessName()))
	return runMaster(cfg, version, selfCommand, source)
}

// runMaster is Run with the way workers are started left open, for tests.
func runMaster(cfg *config.Config, version string, newCommand func() *exec.Cmd, source configSource) (exitCode int) {
	a := newArbiter(cfg, newCommand)
	a.source = source
	a.env.apply(nil, cfg.Env)
	signal.Notify(a.signals, handledSignals...)
	defer signal.Stop(a.signals)
	errorlog.Info("Starting gowsgi %s", version)
	if cfg.TLS.Enabled() {
		listenScheme = "https"
	}
	// Hook processes, like workers, are started from this goroutine's thread for good (see run).
	runtime.LockOSThread()
	a.startHookProcess()
	defer func() {
		if a.pyHooks != nil {
			a.pyHooks.stop()
		}
	}()
	// gunicorn tells nworkers_changed the number of workers as its arbiter is set up.
	a.callPython("nworkers_changed", nil, map[string]any{"new": a.wanted, "old": nil})
	a.onStarting()
	defer func() { a.onExit(exitCode) }()
	// The binary on disk now, found before anything can replace it, is what USR2 starts.
	a.upgrade.binary, _ = os.Executable()
	listeners, upgraded, ok := inheritListeners()
	if upgraded {
		a.upgrade.oldMasterPid = os.Getppid()
	}
	if ok {
		a.host, listeners, ok = setUpHost(cfg, upgraded, listeners)
	}
	if ok {
		var err error
		if listeners, err = shareable(listeners); err != nil {
			errorlog.Error("Can't prepare the listening sockets for workers: %v", err)
			ok = false
		}
	}
	if !ok {
		return exitFailure
	}
	// Unix socket files stay while another master serves on them (a binary upgrade under way).
	defer func() { a.host.tearDown(a.upgrade.newMaster == nil && a.upgrade.oldMasterPid == 0) }()
	a.listeners = listeners
	table, err := balance.Create()
	if err != nil {
		errorlog.Warning("Workers will accept connections without balancing them: %v", err)
	}
	a.balance = table
	if !a.startMetrics() {
		return exitFailure
	}
	defer a.stopMetrics()
	errorlog.Info("Using worker: %s", cfg.WorkerClass)
	a.startControl()
	defer func() { a.control.close() }()
	// Listening, the master is ready, as gunicorn's is before it starts its workers.
	notifySystemd("READY=1\nSTATUS=gowsgi arbiter booted")
	a.callPython("when_ready", nil, nil)
	return a.run()
}

// arbiter owns the worker processes. Everything it does happens on the goroutine of run, fed by
// queues: signals for the master, exits of workers, workers' heartbeat reports, and commands
// from the control socket.
type arbiter struct {
	// cfg is the settings in force, which workers start with; source gives them again on HUP,
	// and env keeps -e's variables in the master's environment.
	cfg             *config.Config
	source          configSource
	env             environment
	listeners       []*os.File
	newCommand      func() *exec.Cmd
	wanted          int
	gracefulTimeout time.Duration
	timeout         time.Duration
	daemon          bool
	workers         map[int]*workerProcess
	lastID          int
	signals         chan os.Signal
	exits           chan workerExit
	reports         chan workerReport
	respawnDelay    time.Duration
	respawnAt       time.Time
	wake            *time.Timer
	upgrade         upgradeState
	host            *host
	// generation counts reloads: workers started before the latest HUP are outdated.
	generation int
	// startedUp is set once as many workers as wanted have been ready: from then on a worker
	// that cannot load the app no longer stops the master while others serve.
	startedUp bool
	// hooks are the shell commands run on the master's events; binds are what they are told
	// the master listens on.
	hooks config.ShellHooks
	binds []string
	// pyHooks is the process that runs the Python config file's master hooks, nil for none.
	pyHooks *hookProcess
	// balance is the table in which workers publish their connection counts (package
	// balance); nil when it could not be made, and workers then accept without it.
	balance *balance.Table
	// board adds up the counts workers keep in their areas of the balance table, for
	// reporters; nil when no metrics are asked for.
	board     *metrics.Board
	reporters reporters
	// zygote is the fork server that workers start from with --preload, nil when there is none
	// yet; fallbackZygote, the one from before a HUP, until zygote has loaded the app (see
	// preload.go). zygoteReady carries the reports of fork servers that have loaded it.
	zygote, fallbackZygote *zygote
	zygoteReady            chan zygoteReady
	// control serves the control socket, nil when it does not; controlPending is set while a
	// master started by a binary upgrade waits for the old master's socket (startControl).
	// controlRequests carries its commands to run.
	control         *controlServer
	controlPending  bool
	controlRequests chan controlRequest
	// stats are the counts that show stats reports.
	stats masterStats
}

func newArbiter(cfg *config.Config, newCommand func() *exec.Cmd) *arbiter {
	return &arbiter{
		cfg:             cfg,
		newCommand:      newCommand,
		wanted:          cfg.Workers,
		gracefulTimeout: time.Duration(cfg.GracefulTimeout) * time.Second,
		timeout:         time.Duration(cfg.Timeout) * time.Second,
		daemon:          cfg.Daemon,
		workers:         make(map[int]*workerProcess),
		signals:         make(chan os.Signal, 16),
		exits:           make(chan workerExit, 16),
		reports:         make(chan workerReport, 64),
		zygoteReady:     make(chan zygoteReady, 2),
		controlRequests: make(chan controlRequest),
		stats:           masterStats{started: time.Now()},
		hooks:           cfg.ShellHooks,
		binds:           cfg.Binds,
	}
}

// run is the lifecycle loop: handle a pending signal first, then bring the workers to the wanted
// number, then wait for the next signal, worker exit, heartbeat report, health check or respawn
// time. Signals go first because a Ctrl-C reaches the workers too: their exits must not be taken
// for deaths to make up for.
func (a *arbiter) run() int {
	// The kernel's parent-death signal is tied to the thread that started a worker, not to the
	// process, so this goroutine keeps its thread for good and starts every worker from it.
	runtime.LockOSThread()
	health := time.NewTicker(healthInterval)
	defer health.Stop()
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
		a.observe(false)
		select {
		case sig := <-a.signals:
			if code, done := a.handleSignal(sig); done {
				return code
			}
		case exit := <-a.exits:
			if code, done := a.reap(exit); done {
				return code
			}
		case report := <-a.reports:
			a.handleReport(report)
		case ready := <-a.zygoteReady:
			a.zygoteLoaded(ready)
		case req := <-a.controlRequests:
			if code, done := a.handleControl(req); done {
				return code
			}
		case <-health.C:
			a.checkHealth()
			a.checkZygote()
			a.checkPromotion()
			a.observe(true)
		case <-a.wakeChannel():
			a.wake = nil
		}
	}
}

func (a *arbiter) handleSignal(sig os.Signal) (exitCode int, done bool) {
	errorlog.Info("Handling signal: %s", shortSignalName(sig))
	return a.obey(sig)
}

// obey does what a signal asks of the master, whether the signal came or a control command
// stands for it.
func (a *arbiter) obey(sig os.Signal) (exitCode int, done bool) {
	switch sig {
	case syscall.SIGTERM:
		return a.shutDown(true, 0, "")
	case syscall.SIGINT, syscall.SIGQUIT:
		return a.shutDown(false, 0, "")
	case syscall.SIGTTIN:
		a.setWanted(a.wanted + 1)
	case syscall.SIGTTOU:
		// Never below one worker; after WINCH (zero workers), TTOU leaves it at zero.
		if a.wanted > 1 {
			a.setWanted(a.wanted - 1)
		}
	case syscall.SIGHUP:
		a.reload()
	case syscall.SIGUSR1:
		if err := errorlog.Reopen(); err != nil {
			errorlog.Error("Can't reopen the error log: %v", err)
		}
		a.signalAll(syscall.SIGUSR1)
	case syscall.SIGUSR2:
		a.startNewMaster()
	case syscall.SIGWINCH:
		// A terminal sends WINCH when it is resized; only a daemon takes it as an order.
		if !a.daemon {
			errorlog.Info("SIGWINCH ignored. Not daemonized")
			break
		}
		errorlog.Info("Graceful stop of workers")
		a.setWanted(0)
	}
	return 0, false
}

// reload replaces every worker with one that imports the app afresh, with the settings read
// again: each old worker serves until replacements are ready, so that no request finds nobody
// accepting. Settings that are not valid leave everything as it was.
func (a *arbiter) reload() {
	errorlog.Info("Hang up: Master")
	a.stats.reloads++
	if a.reconfigure() {
		a.generation++
		a.replaceZygote()
		a.onReload()
	}
}

// maintain stops the oldest workers beyond the wanted number, stops outdated workers as their
// replacements become ready, and starts the missing ones, unless workers have been dying young
// and the respawn delay has not passed yet.
func (a *arbiter) maintain() (exitCode int, done bool) {
	live, outdated := a.liveWorkers()
	for ; len(live) > a.wanted; live = live[1:] {
		a.stopGracefully(live[0])
	}
	ready := 0
	for _, w := range live {
		if w.ready {
			ready++
		}
	}
	for ; len(outdated) > 0 && ready+len(outdated) > a.wanted; outdated = outdated[1:] {
		a.stopGracefully(outdated[0])
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
		if a.cfg.Preload {
			z, err := a.readyZygote()
			if err != nil {
				errorlog.Error("Can't start the fork server: %v", err)
				return a.shutDown(true, exitFailure, "Can't start workers.")
			}
			if z == nil {
				// Workers start once it has loaded the app (zygoteLoaded).
				return 0, false
			}
		}
		if err := a.spawnWorker(); err != nil {
			if a.cfg.Preload {
				a.forkFailed(err)
				return 0, false
			}
			errorlog.Error("Can't start a worker: %v", err)
			return a.shutDown(true, exitFailure, "Can't start workers.")
		}
	}
	return 0, false
}

// reap accounts for a worker that ended. A worker that could not boot or load the app is left
// to cannotBoot; any other unexpected end is logged, and maintain replaces the worker.
func (a *arbiter) reap(exit workerExit) (exitCode int, done bool) {
	w, known := a.workers[exit.pid]
	if !known {
		if z := a.zygoteOf(exit.pid); z != nil {
			return a.zygoteExited(z, exit.state)
		}
		a.reapNewMaster(exit)
		return 0, false
	}
	delete(a.workers, exit.pid)
	a.childExit(w, exit.pid, exit.state)
	if w.retiring {
		return 0, false
	}
	status := exit.state.Sys().(syscall.WaitStatus)
	a.board.CountRestart(exitRestart(status.ExitStatus()))
	switch code := status.ExitStatus(); {
	case status.Signaled():
		logSignalled(exit.pid, status.Signal())
	case code == ExitWorkerBootError || code == ExitAppLoadError:
		return a.cannotBoot(w, exit.pid, code)
	case code == ExitWorkerReload:
		// A file of the app changed (--reload): a fresh worker loads it again, at once, from a
		// fork server that imports it afresh with --preload.
		errorlog.Info("Worker (pid:%d) exited to reload the app", exit.pid)
		if a.zygote != nil && a.zygote.started.Before(w.started) {
			a.zygote.stop()
			a.zygote = nil
		}
		return 0, false
	case code != 0:
		errorlog.Error("Worker (pid:%d) exited with code %d", exit.pid, code)
	default:
		// Someone signalled the worker itself (TERM, QUIT), or the app called os._exit(0).
		errorlog.Info("Worker (pid:%d) exited with code 0", exit.pid)
	}
	a.delayRespawnAfterYoungDeath(exit.pid, time.Since(w.started))
	return 0, false
}

// logSignalled reports a worker that a signal ended, in gunicorn's words and at its levels:
// SIGKILL is an error, with its likeliest sender, the kernel out of memory; SIGTERM is how
// workers are stopped, so only news; any other (a crash in C code: SIGSEGV, SIGABRT) a warning.
func logSignalled(pid int, sig syscall.Signal) {
	switch sig {
	case syscall.SIGKILL:
		errorlog.Error("Worker (pid:%d) was sent %s! Perhaps out of memory?", pid, signalName(sig))
	case syscall.SIGTERM:
		errorlog.Info("Worker (pid:%d) was sent %s!", pid, signalName(sig))
	default:
		errorlog.Warning("Worker (pid:%d) was sent %s!", pid, signalName(sig))
	}
}

func (a *arbiter) delayRespawnAfterYoungDeath(pid int, lifetime time.Duration) {
	if lifetime >= youngDeath {
		a.respawnDelay = 0
		return
	}
	a.throttleRespawn()
	errorlog.Warning("Worker (pid:%d) ended %.2fs after it started; waiting %s before starting another",
		pid, lifetime.Seconds(), a.respawnDelay)
}

// shutDown stops every worker, logs the end of the master with the reason, if any, and returns
// exitCode for the loop to end with. Graceful means TERM and up to --graceful-timeout for
// in-flight requests; quick means QUIT and a second.
func (a *arbiter) shutDown(graceful bool, exitCode int, reason string) (int, bool) {
	a.control.close()
	closeAll(a.listeners)
	a.listeners = nil
	a.stopZygotes()
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
			if w, known := a.workers[exit.pid]; known {
				delete(a.workers, exit.pid)
				a.childExit(w, exit.pid, exit.state)
			}
		case <-a.reports:
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

// liveWorkers are the workers not asked to stop, oldest first: those that count towards the
// wanted number, and the outdated ones that serve until their replacements are ready.
func (a *arbiter) liveWorkers() (live, outdated []*workerProcess) {
	for _, w := range a.workers {
		switch {
		case w.retiring:
		case w.replaceAsked || w.generation < a.generation:
			outdated = append(outdated, w)
		default:
			live = append(live, w)
		}
	}
	sort.Slice(live, func(i, j int) bool { return live[i].id < live[j].id })
	sort.Slice(outdated, func(i, j int) bool { return outdated[i].id < outdated[j].id })
	return live, outdated
}

// stopGracefully sends TERM; the worker finishes its requests within --graceful-timeout, or
// checkHealth kills it.
func (a *arbiter) stopGracefully(w *workerProcess) {
	w.retiring = true
	w.stopBy = time.Now().Add(a.gracefulTimeout + stopGrace)
	a.stats.stopped++
	_ = w.proc.Signal(syscall.SIGTERM)
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
