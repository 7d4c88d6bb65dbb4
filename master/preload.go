package master

import (
	"os"
	"syscall"
	"time"

	"gowsgi/errorlog"
)

// With --preload, workers are forked from a fork server (zygote.go) that imported the app once,
// instead of each importing it. The arbiter keeps one fork server for the current generation;
// after a HUP, the one that loaded the old code stays as a fallback until the new one has
// loaded the app, so that a reload whose app no longer loads can be undone.

// readyZygote returns the fork server to fork workers from, or nil while it loads the app; it
// starts one when there is none. An error means no process can be started at all.
func (a *arbiter) readyZygote() (*zygote, error) {
	if a.zygote == nil {
		z, err := a.startZygote()
		if err != nil {
			return nil, err
		}
		a.zygote = z
	}
	if !a.zygote.ready {
		return nil, nil
	}
	return a.zygote, nil
}

// zygoteLoaded takes the report of a fork server that has loaded the app, or under --reload has
// failed to, as a worker under --reload serves the error: workers can be forked from it, and
// the one it replaces is no longer needed.
func (a *arbiter) zygoteLoaded(r zygoteReady) {
	z := r.z
	if z != a.zygote {
		return
	}
	z.ready = true
	a.fallbackZygote.stop()
	a.fallbackZygote = nil
	if !r.loaded {
		errorlog.Warning("Fork server (pid:%d) could not load the app; its workers answer with the error until a "+
			"watched file changes (--reload)", z.process.Pid)
		return
	}
	errorlog.Info("Fork server (pid:%d) loaded the app in %.2f s", z.process.Pid, time.Since(z.started).Seconds())
	if r.threads > 1 {
		errorlog.Warning("The app started %d threads while it was imported; workers forked from the fork server "+
			"run none of them", r.threads-1)
	}
}

// zygoteOf returns the fork server whose pid this is, if any.
func (a *arbiter) zygoteOf(pid int) *zygote {
	for _, z := range []*zygote{a.zygote, a.fallbackZygote} {
		if z != nil && z.process.Pid == pid {
			return z
		}
	}
	return nil
}

// zygoteExited accounts for a fork server that ended. One that had loaded the app has crashed or
// was killed: another is started. One that had not could not load the app, and logged why; it
// is handled as cannotBoot handles a worker that could not: a reload is undone, the first start
// stops the master, and otherwise the workers that run keep serving while it is retried.
func (a *arbiter) zygoteExited(z *zygote, state *os.ProcessState) (exitCode int, done bool) {
	if z == a.fallbackZygote {
		a.fallbackZygote = nil
	}
	if z != a.zygote {
		return 0, false
	}
	a.zygote = nil
	z.conn.Close()
	pid := z.process.Pid
	if z.ready {
		errorlog.Error("Fork server (pid:%d) %s; starting another", pid, describeExit(state))
		if time.Since(z.started) < youngDeath {
			a.throttleRespawn()
		}
		return 0, false
	}
	status := state.Sys().(syscall.WaitStatus)
	code := status.ExitStatus()
	reason := "App failed to load"
	if code != ExitAppLoadError {
		code, reason = ExitWorkerBootError, "Worker failed to boot"
	}
	errorlog.Error("Fork server (pid:%d) %s: %s.", pid, describeExit(state), reason)
	if fallback := a.fallbackZygote; fallback != nil {
		a.zygote, a.fallbackZygote = fallback, nil
		errorlog.Error("Reload failed: %s (fork server pid:%d, exit code %d); keeping the %d workers that were "+
			"running, and their fork server", reason, pid, code, a.undoReload())
		return 0, false
	}
	live, outdated := a.liveWorkers()
	if serving := len(live) + len(outdated); !a.startedUp || serving == 0 {
		return a.shutDown(true, code, reason+".")
	}
	a.throttleRespawn()
	errorlog.Error("Can't start a fork server: %s; %d workers keep serving the app they loaded; trying again in %s",
		reason, len(live)+len(outdated), a.respawnDelay)
	return 0, false
}

// forkFailed gives up on a fork server that could not fork a worker: another is started after
// the respawn delay.
func (a *arbiter) forkFailed(err error) {
	errorlog.Error("Fork server (pid:%d) failed: %v; starting another", a.zygote.process.Pid, err)
	a.zygote.stop()
	a.zygote = nil
	a.throttleRespawn()
}

// replaceZygote makes the next workers start from a fork server that imports the app afresh,
// for HUP: the one that loaded the app before stays until the new one has.
func (a *arbiter) replaceZygote() {
	old := a.zygote
	a.zygote = nil
	switch {
	case !a.cfg.Preload:
		// The reload turned --preload off.
		old.stop()
		a.fallbackZygote.stop()
		a.fallbackZygote = nil
	case old != nil && old.ready:
		a.fallbackZygote.stop()
		a.fallbackZygote = old
	default:
		// It is still loading the code from before the reload.
		old.stop()
	}
}

// checkZygote kills a fork server that has not loaded the app within --timeout, as checkHealth
// aborts a worker that stays silent that long while it boots.
func (a *arbiter) checkZygote() {
	z := a.zygote
	if z == nil || z.ready || z.killed || a.timeout <= 0 || time.Since(z.started) <= a.timeout {
		return
	}
	errorlog.Error("Fork server (pid:%d) did not load the app within %d s; killing it", z.process.Pid,
		int(a.timeout/time.Second))
	z.killed = true
	_ = z.process.Kill()
}

// stopZygotes ends the fork servers, for the master's exit.
func (a *arbiter) stopZygotes() {
	a.zygote.stop()
	a.fallbackZygote.stop()
}
