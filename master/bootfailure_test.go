package master

import (
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// appOnDisk stands for the app file: fake workers start in the mode it holds when they are
// started, so a test can break the app ("exit:4") and fix it ("serve") while the arbiter runs.
type appOnDisk struct {
	mode atomic.Value
	// first, if not "", is the mode of the first worker only.
	first   string
	started atomic.Int32
}

func newAppOnDisk(first, mode string) *appOnDisk {
	app := &appOnDisk{first: first}
	app.mode.Store(mode)
	return app
}

func (app *appOnDisk) set(mode string) { app.mode.Store(mode) }

func (app *appOnDisk) command(dir string) func() *exec.Cmd {
	return func() *exec.Cmd {
		if app.started.Add(1) == 1 && app.first != "" {
			return fakeCommand(app.first, dir)()
		}
		return fakeCommand(app.mode.Load().(string), dir)()
	}
}

// startedUp starts an arbiter over fake workers of app and returns once they all reported ready
// and the arbiter has had time to read that.
func startedUp(t *testing.T, workers int, app *appOnDisk) (*testArbiter, []int) {
	t.Helper()
	ta := startArbiter(t, workers, 5, app.command)
	pids := ta.waitForWorkers(t, workers)
	waitFor(t, "the workers to be ready", 5*time.Second, func() bool {
		return len(markers(t, ta.markers, "ready")) == workers
	})
	time.Sleep(200 * time.Millisecond)
	return ta, pids
}

func (ta *testArbiter) assertRunning(t *testing.T) {
	t.Helper()
	select {
	case <-ta.done:
		t.Fatalf("the arbiter stopped with code %d", ta.code)
	default:
	}
}

func TestReloadWhoseWorkersCannotLoadTheAppKeepsTheOldWorkers(t *testing.T) {
	log := captureLog(t)
	app := newAppOnDisk("", "serve")
	ta, old := startedUp(t, 2, app)

	app.set("exit:4")
	ta.signals <- syscall.SIGHUP
	waitFor(t, "the reload to fail", 5*time.Second, func() bool { return strings.Contains(log.String(), "Reload failed") })
	assertLogged(t, log, "[ERROR] Reload failed: App failed to load (worker pid:", "exit code 4); keeping the 2 workers that were running")
	// Nothing more is started: the old workers are the wanted number again.
	time.Sleep(700 * time.Millisecond)
	ta.assertRunning(t)
	if up := markers(t, ta.markers, "up"); len(up) != 4 {
		t.Errorf("%d workers started, want the 2 old ones and the 2 that failed", len(up))
	}
	if stopped := markers(t, ta.markers, "TERM"); len(stopped) != 0 {
		t.Errorf("old workers %v were stopped by a reload that failed", stopped)
	}

	app.set("serve")
	ta.signals <- syscall.SIGHUP
	waitFor(t, "the old workers to be replaced by a reload that works", 10*time.Second, func() bool {
		stopped := markers(t, ta.markers, "TERM")
		return slices.Contains(stopped, old[0]) && slices.Contains(stopped, old[1])
	})
	if up := markers(t, ta.markers, "up"); len(up) != 6 {
		t.Errorf("%d workers started, want 6", len(up))
	}
	ta.assertRunning(t)
}

func TestWorkerThatCannotBeReplacedIsRetriedWhileOthersServe(t *testing.T) {
	log := captureLog(t)
	app := newAppOnDisk("", "serve")
	ta, old := startedUp(t, 2, app)

	app.set("exit:4")
	if err := syscall.Kill(old[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two failed replacements", 10*time.Second, func() bool {
		return strings.Count(log.String(), "Can't replace a worker: App failed to load") >= 2
	})
	assertLogged(t, log, "exit code 4); 1 workers keep serving the app they loaded; trying again in")
	ta.assertRunning(t)
	if stopped := markers(t, ta.markers, "TERM"); len(stopped) != 0 {
		t.Errorf("workers %v were stopped while the app could not load", stopped)
	}

	app.set("serve")
	waitFor(t, "a replacement once the app loads again", 10*time.Second, func() bool {
		ready := markers(t, ta.markers, "ready")
		return len(ready) == 3 && !processGone(old[1])
	})
}

func TestRetiringWorkerServesOnWhileItsReplacementCannotLoadTheApp(t *testing.T) {
	log := captureLog(t)
	app := newAppOnDisk("retire", "exit:4")
	ta, old := startedUp(t, 1, app)
	waitFor(t, "two failed replacements", 10*time.Second, func() bool {
		return strings.Count(log.String(), "Can't replace a worker: App failed to load") >= 2
	})
	ta.assertRunning(t)
	if slices.Contains(markers(t, ta.markers, "TERM"), old[0]) {
		t.Fatalf("the retiring worker was stopped without a replacement")
	}

	app.set("serve")
	waitFor(t, "the retiring worker to be replaced", 10*time.Second, func() bool {
		return slices.Contains(markers(t, ta.markers, "TERM"), old[0])
	})
}

func TestLastWorkerThatCannotBeReplacedStopsTheMaster(t *testing.T) {
	log := captureLog(t)
	app := newAppOnDisk("", "serve")
	ta, old := startedUp(t, 1, app)
	app.set("exit:4")
	if err := syscall.Kill(old[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := ta.exitCode(t, 10*time.Second); code != ExitAppLoadError {
		t.Errorf("exit code = %d, want %d", code, ExitAppLoadError)
	}
	assertLogged(t, log, "No worker is left, and a new one cannot start: App failed to load", "Reason: App failed to load.")
}
