package master

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gowsgi/config"
)

// markerTime is when pid left its marker of the given kind.
func markerTime(t *testing.T, dir string, pid int, kind string) time.Time {
	t.Helper()
	info, err := os.Stat(fmt.Sprintf("%s/%d.%s", dir, pid, kind))
	if err != nil {
		t.Fatal(err)
	}
	return info.ModTime()
}

func TestHUPStopsOldWorkersOnlyOnceTheirReplacementsAreReady(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 2, 5, serving)
	old := ta.waitForWorkers(t, 2)
	ta.signals <- syscall.SIGHUP
	waitFor(t, "both old workers to be told to stop", 10*time.Second, func() bool {
		return len(markers(t, ta.markers, "TERM")) == 2
	})
	stopped := markers(t, ta.markers, "TERM")
	slices.Sort(stopped)
	slices.Sort(old)
	if !slices.Equal(stopped, old) {
		t.Fatalf("workers stopped after HUP: %v, want the old ones %v", stopped, old)
	}
	var firstStop time.Time
	for _, pid := range old {
		if at := markerTime(t, ta.markers, pid, "TERM"); firstStop.IsZero() || at.Before(firstStop) {
			firstStop = at
		}
	}
	ready := 0
	for _, pid := range markers(t, ta.markers, "ready") {
		if !slices.Contains(old, pid) && !markerTime(t, ta.markers, pid, "ready").After(firstStop) {
			ready++
		}
	}
	if ready < 1 {
		t.Errorf("an old worker was stopped before any replacement was ready")
	}
	if up := markers(t, ta.markers, "up"); len(up) != 4 {
		t.Errorf("%d workers started, want 2 and 2 replacements", len(up))
	}
	assertLogged(t, log, "[INFO] Handling signal: hup", "[INFO] Hang up: Master")
}

func TestWorkerThatAsksToRetireIsReplacedFirst(t *testing.T) {
	log := captureLog(t)
	started := 0
	ta := startArbiter(t, 1, 5, func(dir string) func() *exec.Cmd {
		return func() *exec.Cmd {
			started++
			if started == 1 {
				return fakeCommand("retire", dir)()
			}
			return fakeCommand("serve", dir)()
		}
	})
	first := ta.waitForWorkers(t, 1)[0]
	waitFor(t, "the retiring worker to be told to stop", 10*time.Second, func() bool {
		return slices.Contains(markers(t, ta.markers, "TERM"), first)
	})
	up := markers(t, ta.markers, "up")
	if len(up) != 2 {
		t.Fatalf("workers started: %v, want the retiring one and one replacement", up)
	}
	replacement := up[0]
	if replacement == first {
		replacement = up[1]
	}
	if markerTime(t, ta.markers, replacement, "ready").After(markerTime(t, ta.markers, first, "TERM")) {
		t.Errorf("the retiring worker was stopped before its replacement was ready")
	}
	assertLogged(t, log, fmt.Sprintf("[INFO] Worker 1 (pid %d) asks to be replaced: served 3 requests (--max-requests)", first))
}

func TestSilentWorkerIsKilledAndReplaced(t *testing.T) {
	log := captureLog(t)
	started := 0
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, Timeout: 1}
	ta := startArbiterWith(t, cfg, func(dir string) func() *exec.Cmd {
		return func() *exec.Cmd {
			started++
			if started == 1 {
				return fakeCommand("hang", dir)()
			}
			return fakeCommand("serve", dir)()
		}
	})
	hung := ta.waitForWorkers(t, 1)[0]
	began := time.Now()
	waitFor(t, "the silent worker to be killed", 10*time.Second, func() bool { return processGone(hung) })
	if took := time.Since(began); took < 900*time.Millisecond {
		t.Errorf("killed %s after it fell silent, before the 1s timeout", took)
	}
	ta.waitForWorkers(t, 2)
	assertLogged(t, log, fmt.Sprintf("[ERROR] Worker 1 (pid %d) timed out after 1 s while serving GET /stuck", hung))
	if text := log.String(); strings.Contains(text, "was sent SIGKILL") || strings.Contains(text, "out of memory") {
		t.Errorf("the timeout was reported with a guess or twice:\n%s", text)
	}
	// The replacement reports every 100ms, far inside the timeout: it must live on.
	time.Sleep(1500 * time.Millisecond)
	if up := markers(t, ta.markers, "up"); len(up) != 2 {
		t.Errorf("workers started: %v, want the silent one and one healthy replacement", up)
	}
}

func TestWorkerSilentPastItsRequestTimeoutIsKilledWithoutWaitingAnotherTimeout(t *testing.T) {
	log := captureLog(t)
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, Timeout: 3}
	ta := startArbiterWith(t, cfg, func(dir string) func() *exec.Cmd { return fakeCommand("overdue", dir) })
	pid := ta.waitForWorkers(t, 1)[0]
	began := time.Now()
	waitFor(t, "the stuck worker to be killed", 10*time.Second, func() bool { return processGone(pid) })
	if took := time.Since(began); took > 2900*time.Millisecond {
		t.Errorf("killed %s after its overdue request fell silent; want about %s, not another --timeout", took, stuckSilence)
	}
	assertLogged(t, log, fmt.Sprintf("[ERROR] Worker 1 (pid %d) timed out after 7 s while serving POST /slow", pid))
}

func TestWorkerOutstayingItsGracefulStopIsKilled(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 2, 1, func(dir string) func() *exec.Cmd { return fakeCommand("stubborn", dir) })
	oldest := ta.waitForWorkers(t, 2)
	ta.signals <- syscall.SIGTTOU
	waitFor(t, "a stubborn worker to be killed", 10*time.Second, func() bool {
		return processGone(oldest[0]) || processGone(oldest[1])
	})
	assertLogged(t, log, "still running 1s after it was told to stop; killing it")
}

func TestWINCHStopsWorkersOnlyWhenDaemonized(t *testing.T) {
	for _, daemon := range []bool{false, true} {
		t.Run(fmt.Sprint("daemon=", daemon), func(t *testing.T) {
			log := captureLog(t)
			ta := startArbiterWith(t, &config.Config{Workers: 2, GracefulTimeout: 5, Daemon: daemon}, serving)
			ta.waitForWorkers(t, 2)
			ta.signals <- syscall.SIGWINCH
			if !daemon {
				waitFor(t, "the WINCH message", 5*time.Second, func() bool { return strings.Contains(log.String(), "SIGWINCH ignored") })
				time.Sleep(300 * time.Millisecond)
				if stopped := markers(t, ta.markers, "TERM"); len(stopped) != 0 {
					t.Errorf("workers %v were stopped by WINCH without -D", stopped)
				}
				return
			}
			waitFor(t, "both workers to be told to stop", 5*time.Second, func() bool { return len(markers(t, ta.markers, "TERM")) == 2 })
			ta.signals <- syscall.SIGTTIN
			ta.waitForWorkers(t, 3)
		})
	}
}

func TestUSR1IsPassedToWorkers(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 1, 5, serving)
	ta.waitForWorkers(t, 1)
	ta.signals <- syscall.SIGUSR1
	waitFor(t, "a worker to get USR1", 5*time.Second, func() bool { return len(markers(t, ta.markers, "USR1")) == 1 })
	assertLogged(t, log, "[INFO] Handling signal: usr1")
}

func TestParseReport(t *testing.T) {
	for line, want := range map[string]workerReport{
		"ready":                        {kind: reportReady},
		"idle":                         {kind: reportIdle},
		"retire too big":               {kind: reportRetire, reason: "too big"},
		"busy 1700000000000 POST /a b": {kind: reportBusy, since: time.UnixMilli(1700000000000), method: "POST", path: "/a b"},
	} {
		got, ok := parseReport(line)
		if !ok || got.kind != want.kind || got.reason != want.reason || !got.since.Equal(want.since) || got.method != want.method || got.path != want.path {
			t.Errorf("parseReport(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
	for _, line := range []string{"", "busy", "busy soon GET /", "busy 1 GET", "hello"} {
		if _, ok := parseReport(line); ok {
			t.Errorf("parseReport(%q) accepted a malformed line", line)
		}
	}
}

func TestWorkerStoppedFromOutsideIsLoggedAndReplaced(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 1, 5, serving)
	pid := ta.waitForWorkers(t, 1)[0]
	time.Sleep(youngDeath)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	ta.waitForWorkers(t, 2)
	assertLogged(t, log, fmt.Sprintf("[INFO] Worker (pid:%d) exited with code 0", pid))
	if strings.Contains(log.String(), "before starting another") {
		t.Errorf("a worker that served %s was respawned with a delay:\n%s", youngDeath, log)
	}
}
