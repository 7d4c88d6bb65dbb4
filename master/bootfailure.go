package master

import (
	"time"

	"gowsgi/errorlog"
)

// cannotBoot handles a worker that exited because it could not boot or load the app, which
// starting it again will not change until someone fixes the app. During the first start the
// master stops with the worker's exit code: nothing serves yet. Later it is the app on disk
// that broke (an edit, a deploy under way) while the running workers still serve what they
// loaded, so an outage would be the master's doing: a reload (HUP) whose new workers cannot
// load the app is undone, and a worker that cannot be replaced is retried with the respawn
// throttle while the others serve. The master stops only when no worker is left.
func (a *arbiter) cannotBoot(w *workerProcess, pid, code int) (exitCode int, done bool) {
	reason := "App failed to load"
	if code == ExitWorkerBootError {
		reason = "Worker failed to boot"
	}
	errorlog.Error("Worker (pid:%d) exited with code %d: %s.", pid, code, reason)
	if !a.startedUp {
		return a.shutDown(true, code, reason+".")
	}
	live, outdated := a.liveWorkers()
	serving := len(live) + len(outdated)
	if serving == 0 {
		errorlog.Error("No worker is left, and a new one cannot start: %s", reason)
		return a.shutDown(true, code, reason+".")
	}
	a.throttleRespawn()
	if w.generation == a.generation && a.olderWorkers() > 0 {
		errorlog.Error("Reload failed: %s (worker pid:%d, exit code %d); keeping the %d workers that were running",
			reason, pid, code, a.undoReload())
	} else {
		errorlog.Error("Can't replace a worker: %s (worker pid:%d, exit code %d); %d workers keep serving "+
			"the app they loaded; trying again in %s", reason, pid, code, serving, a.respawnDelay)
	}
	return 0, false
}

// olderWorkers counts the workers, not asked to stop, started before the latest HUP.
func (a *arbiter) olderWorkers() int {
	n := 0
	for _, w := range a.workers {
		if !w.retiring && w.generation < a.generation {
			n++
		}
	}
	return n
}

// undoReload stops the workers started since the latest HUP and makes the older ones current
// again, so that they serve on; it returns how many older ones there are.
func (a *arbiter) undoReload() int {
	kept := 0
	for _, w := range a.workers {
		switch {
		case w.retiring:
		case w.generation == a.generation:
			a.stopGracefully(w)
		default:
			w.generation = a.generation
			kept++
		}
	}
	return kept
}

// throttleRespawn delays the next worker start: by firstRespawnDelay at first, then by twice
// the previous delay up to maxRespawnDelay, until a worker lives longer than youngDeath.
func (a *arbiter) throttleRespawn() {
	a.respawnDelay = min(maxRespawnDelay, max(firstRespawnDelay, 2*a.respawnDelay))
	a.respawnAt = time.Now().Add(a.respawnDelay)
}

// noteStartedUp ends the first start once as many workers as wanted are ready at once, which
// makes the server ready.
func (a *arbiter) noteStartedUp() {
	ready := 0
	for _, w := range a.workers {
		if w.ready && !w.retiring {
			ready++
		}
	}
	if !a.startedUp && ready >= a.wanted {
		a.startedUp = true
		a.whenReady()
	}
}
