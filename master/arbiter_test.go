package master

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gowsgi/balance"
	"gowsgi/config"
)

// testArbiter runs an arbiter over one loopback socket in the background.
type testArbiter struct {
	*arbiter
	address string
	markers string
	// done is closed when run has returned code.
	done chan struct{}
	code int
}

func startArbiter(t *testing.T, workers, gracefulTimeout int, newCommand func(markers string) func() *exec.Cmd) *testArbiter {
	t.Helper()
	return startArbiterWith(t, &config.Config{Workers: workers, GracefulTimeout: gracefulTimeout}, newCommand)
}

// startArbiterWith starts an arbiter for cfg; setUp, if any, changes it before it runs.
func startArbiterWith(t *testing.T, cfg *config.Config, newCommand func(markers string) func() *exec.Cmd, setUp ...func(*arbiter)) *testArbiter {
	t.Helper()
	files, ok := listenAll([]string{"127.0.0.1:0"}, listenOptions{})
	if !ok {
		t.Fatal("cannot listen on 127.0.0.1:0")
	}
	probe, err := net.FileListener(files[0])
	if err != nil {
		t.Fatal(err)
	}
	address := probe.Addr().String()
	probe.Close()
	dir := t.TempDir()
	ta := &testArbiter{arbiter: newArbiter(cfg, newCommand(dir)), address: address, markers: dir, done: make(chan struct{})}
	if ta.listeners, err = shareable(files); err != nil {
		t.Fatal(err)
	}
	for _, f := range setUp {
		f(ta.arbiter)
	}
	go func() {
		ta.code = ta.run()
		close(ta.done)
	}()
	t.Cleanup(func() {
		select {
		case <-ta.done:
		default:
			ta.signals <- syscall.SIGINT
			<-ta.done
		}
	})
	return ta
}

func (ta *testArbiter) waitForWorkers(t *testing.T, n int) []int {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d workers to start", n), 10*time.Second, func() bool {
		return len(markers(t, ta.markers, "up")) >= n
	})
	return markers(t, ta.markers, "up")
}

func (ta *testArbiter) exitCode(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-ta.done:
		return ta.code
	case <-time.After(within):
		t.Fatalf("the arbiter did not stop within %s", within)
		return -1
	}
}

func serving(markers string) func() *exec.Cmd { return fakeCommand("serve", markers) }

// Each worker gets its own slot in the balance table, after the listeners and its heartbeat
// pipe, and a worker that dies frees its slot for its replacement.
func TestEachWorkerHasABalanceSlotFreedWhenItDies(t *testing.T) {
	table, err := balance.Create()
	if err != nil {
		t.Fatal(err)
	}
	ta := startArbiterWith(t, &config.Config{Workers: 2, GracefulTimeout: 5}, serving,
		func(a *arbiter) { a.balance = table })
	pids := ta.waitForWorkers(t, 2)
	slotOf := func(pid int) string {
		t.Helper()
		var content []byte
		waitFor(t, "the balance marker", 5*time.Second, func() bool {
			content, err = os.ReadFile(fmt.Sprintf("%s/%d.balance", ta.markers, pid))
			return err == nil
		})
		return string(content)
	}
	slots := []string{slotOf(pids[0]), slotOf(pids[1])}
	slices.Sort(slots)
	// Descriptors 3 (the socket) and 4 (the heartbeat pipe) come first.
	if want := []string{"5:1", "5:2"}; !slices.Equal(slots, want) {
		t.Fatalf("workers were given %s=%v, want %v", balance.Env, slots, want)
	}
	victim := pids[0]
	freed := slotOf(victim)
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var replacement int
	waitFor(t, "a replacement worker", 10*time.Second, func() bool {
		for _, pid := range markers(t, ta.markers, "up") {
			if !slices.Contains(pids, pid) {
				replacement = pid
				return true
			}
		}
		return false
	})
	if got := slotOf(replacement); got != freed {
		t.Fatalf("the replacement was given %s, want the dead worker's %s", got, freed)
	}
}

func TestWorkersShareTheSocketAndAreReplacedWhenKilled(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 2, 5, serving)
	pids := ta.waitForWorkers(t, 2)

	ids := map[string]bool{}
	for _, pid := range pids {
		content, err := os.ReadFile(fmt.Sprintf("%s/%d.up", ta.markers, pid))
		if err != nil {
			t.Fatal(err)
		}
		ids[string(content)] = true
		assertLogged(t, log, fmt.Sprintf("[INFO] Booting worker with pid: %d", pid))
	}
	if !ids["1 1"] || !ids["2 1"] {
		t.Errorf("workers saw %s=ID %s=COUNT as %v, want ids 1 and 2 with 1 socket", WorkerIDEnv, ListenFDsEnv, ids)
	}
	conn, err := net.Dial("tcp", ta.address)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := bufio.NewReader(conn).ReadString('\n')
	conn.Close()
	if pid, _ := strconv.Atoi(answer[:max(0, len(answer)-1)]); !slices.Contains(pids, pid) {
		t.Errorf("connection answered by %q, want one of the workers %v", answer, pids)
	}

	victim := pids[0]
	if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	replacements := ta.waitForWorkers(t, 3)
	assertLogged(t, log, fmt.Sprintf("[ERROR] Worker (pid:%d) was sent SIGKILL! Perhaps out of memory?", victim))

	ta.signals <- syscall.SIGTERM
	if code := ta.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after TERM = %d, want 0", code)
	}
	for _, pid := range replacements {
		if pid != victim && !slices.Contains(markers(t, ta.markers, "TERM"), pid) {
			t.Errorf("worker %d did not get SIGTERM", pid)
		}
	}
	assertLogged(t, log, "[INFO] Handling signal: term", "[INFO] Shutting down: Master")
}

func TestWorkerThatCannotLoadTheAppStopsTheMaster(t *testing.T) {
	for code, reason := range map[int]string{ExitWorkerBootError: "Worker failed to boot.", ExitAppLoadError: "App failed to load."} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			log := captureLog(t)
			started := 0
			ta := startArbiter(t, 2, 5, func(dir string) func() *exec.Cmd {
				return func() *exec.Cmd {
					started++
					if started == 2 {
						return fakeCommand("exit:"+strconv.Itoa(code), dir)()
					}
					return fakeCommand("serve", dir)()
				}
			})
			if got := ta.exitCode(t, 10*time.Second); got != code {
				t.Fatalf("exit code = %d, want %d", got, code)
			}
			if started != 2 {
				t.Errorf("%d workers were started, want 2 and no respawn", started)
			}
			if len(markers(t, ta.markers, "TERM")) != 1 {
				t.Errorf("the healthy worker was not sent SIGTERM")
			}
			assertLogged(t, log, fmt.Sprintf("exited with code %d: %s", code, reason), "Reason: "+reason)
		})
	}
}

func TestGracefulStopKillsWorkersThatOutstayTheTimeout(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 1, 1, func(dir string) func() *exec.Cmd { return fakeCommand("stubborn", dir) })
	pid := ta.waitForWorkers(t, 1)[0]
	began := time.Now()
	ta.signals <- syscall.SIGTERM
	if code := ta.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
	if waited := time.Since(began); waited < time.Second {
		t.Errorf("stopped after %s, before the 1s graceful timeout", waited)
	}
	if !processGone(pid) {
		t.Errorf("stubborn worker %d survived", pid)
	}
	assertLogged(t, log, "[WARNING] Killing 1 workers still running after 1s")
}

func TestQuitAndIntStopQuickly(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGQUIT, syscall.SIGINT} {
		t.Run(signalName(sig), func(t *testing.T) {
			log := captureLog(t)
			ta := startArbiter(t, 2, 30, serving)
			pids := ta.waitForWorkers(t, 2)
			ta.signals <- sig
			// Well under the 30s graceful timeout, with room for a loaded machine.
			if code := ta.exitCode(t, 10*time.Second); code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
			if got := markers(t, ta.markers, "QUIT"); len(got) != len(pids) {
				t.Errorf("workers that got SIGQUIT: %v, want %v", got, pids)
			}
			assertLogged(t, log, "[INFO] Handling signal: "+shortSignalName(sig), "[INFO] Shutting down: Master")
		})
	}
}

func TestWorkersDyingYoungAreRespawnedWithIncreasingDelay(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 1, 5, func(dir string) func() *exec.Cmd { return fakeCommand("exit:1", dir) })
	ta.waitForWorkers(t, 3)
	var starts []time.Time
	for _, pid := range markers(t, ta.markers, "up") {
		info, err := os.Stat(fmt.Sprintf("%s/%d.up", ta.markers, pid))
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, info.ModTime())
	}
	slices.SortFunc(starts, func(a, b time.Time) int { return a.Compare(b) })
	// Each fake worker lives fakeWorkerDelay; its replacement waits 250ms, the next one 500ms.
	for i, delay := range []time.Duration{250 * time.Millisecond, 500 * time.Millisecond} {
		if gap := starts[i+1].Sub(starts[i]); gap < fakeWorkerDelay+delay {
			t.Errorf("worker %d started %s after worker %d, want at least %s", i+2, gap, i+1, fakeWorkerDelay+delay)
		}
	}
	assertLogged(t, log, "exited with code 1", "waiting 250ms before starting another", "waiting 500ms before starting another")
	ta.signals <- syscall.SIGTERM
	if code := ta.exitCode(t, 10*time.Second); code != 0 {
		t.Errorf("exit code = %d, want 0", code)
	}
}

// A worker that a signal ended is reported in gunicorn's words, at the level gunicorn gives
// that signal: a crash in C code (SIGSEGV) is a warning, SIGTERM, how workers are stopped, news.
func TestWorkerEndedBySignalIsReportedAsGunicornReportsIt(t *testing.T) {
	for sig, line := range map[string]string{
		"SEGV": "[WARNING] Worker (pid:%d) was sent SIGSEGV!",
		"TERM": "[INFO] Worker (pid:%d) was sent SIGTERM!",
	} {
		t.Run(sig, func(t *testing.T) {
			log := captureLog(t)
			started := 0
			ta := startArbiter(t, 1, 5, func(dir string) func() *exec.Cmd {
				return func() *exec.Cmd {
					started++
					if started == 1 {
						return fakeCommand("die:"+sig, dir)()
					}
					return fakeCommand("serve", dir)()
				}
			})
			pids := ta.waitForWorkers(t, 2)
			died := slices.IndexFunc(pids, processGone)
			if died < 0 {
				t.Fatalf("no worker of %v has ended", pids)
			}
			want := fmt.Sprintf(line, pids[died])
			waitFor(t, "the end of the worker to be logged", 5*time.Second, func() bool {
				return strings.Contains(log.String(), want)
			})
			ta.signals <- syscall.SIGTERM
			if code := ta.exitCode(t, 10*time.Second); code != 0 {
				t.Errorf("exit code = %d, want 0", code)
			}
		})
	}
}

func TestTTINAndTTOUChangeTheNumberOfWorkers(t *testing.T) {
	captureLog(t)
	ta := startArbiter(t, 1, 5, serving)
	first := ta.waitForWorkers(t, 1)[0]
	ta.signals <- syscall.SIGTTIN
	ta.waitForWorkers(t, 2)
	ta.signals <- syscall.SIGTTOU
	waitFor(t, "the oldest worker to be told to stop", 5*time.Second, func() bool {
		return slices.Contains(markers(t, ta.markers, "TERM"), first)
	})
	ta.signals <- syscall.SIGTTOU // never below one worker
	time.Sleep(500 * time.Millisecond)
	if up, stopped := len(markers(t, ta.markers, "up")), len(markers(t, ta.markers, "TERM")); up != 2 || stopped != 1 {
		t.Errorf("after TTIN, TTOU, TTOU: %d started and %d stopped, want 2 and 1", up, stopped)
	}
}

// TestMasterProcess runs a whole master process: real signal delivery, and no worker outliving
// a master killed with SIGKILL.
func TestMasterProcess(t *testing.T) {
	start := func(t *testing.T) (*exec.Cmd, string, *logBuffer) {
		dir := t.TempDir()
		log := &logBuffer{}
		master := exec.Command(os.Args[0], "-test.run=^$")
		master.Env = append(os.Environ(), fakeMasterEnv+"=2", markerDirEnv+"="+dir)
		master.Stderr = log
		// Workers that outlive a killed master would hold the log pipe open forever.
		master.WaitDelay = time.Second
		if err := master.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = master.Process.Kill()
			_ = master.Wait()
			for _, pid := range markers(t, dir, "up") {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		})
		waitFor(t, "2 workers", 10*time.Second, func() bool { return len(markers(t, dir, "up")) == 2 })
		return master, dir, log
	}
	t.Run("TERM", func(t *testing.T) {
		master, dir, log := start(t)
		if err := master.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := master.Wait(); err != nil {
			t.Errorf("master ended with %v, want exit 0", err)
		}
		if stopped := markers(t, dir, "TERM"); len(stopped) != 2 {
			t.Errorf("workers that got SIGTERM: %v, want both", stopped)
		}
		pattern := `(?m)^\[[-0-9: +]+\] \[\d+\] \[INFO\] Listening at: http://127\.0\.0\.1:\d+ \(\d+\)$`
		if !regexp.MustCompile(pattern).MatchString(log.String()) {
			t.Errorf("no Listening at line in:\n%s", log)
		}
		assertLogged(t, log, "[INFO] Starting gowsgi test", "[INFO] Using worker: sync", "[INFO] Handling signal: term")
	})
	t.Run("KILL", func(t *testing.T) {
		master, dir, _ := start(t)
		if err := master.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		_ = master.Wait()
		for _, pid := range markers(t, dir, "up") {
			waitFor(t, fmt.Sprintf("worker %d to die with its master", pid), 5*time.Second, func() bool { return processGone(pid) })
		}
	})
}
