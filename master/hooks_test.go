package master

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gowsgi/config"
)

func TestTimedOutWorkerGetsSIGABRTAndExits(t *testing.T) {
	log := captureLog(t)
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, Timeout: 1}
	started := 0
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
	waitFor(t, "the silent worker to exit", 10*time.Second, func() bool { return processGone(hung) })
	if aborted := markers(t, ta.markers, "ABRT"); len(aborted) != 1 || aborted[0] != hung {
		t.Errorf("workers that got SIGABRT: %v, want the silent one, %d", aborted, hung)
	}
	ta.waitForWorkers(t, 2)
	assertLogged(t, log, fmt.Sprintf("Worker 1 (pid %d) timed out after 1 s", hung))
	if strings.Contains(log.String(), "killing it") {
		t.Errorf("a worker that exited on SIGABRT was killed:\n%s", log)
	}
}

func TestTimedOutWorkerIgnoringSIGABRTIsKilled(t *testing.T) {
	log := captureLog(t)
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, Timeout: 1}
	ta := startArbiterWith(t, cfg, func(dir string) func() *exec.Cmd { return fakeCommand("stubborn-hang", dir) })
	hung := ta.waitForWorkers(t, 1)[0]
	waitFor(t, "the SIGABRT marker", 10*time.Second, func() bool { return len(markers(t, ta.markers, "ABRT")) > 0 })
	aborted := time.Now()
	waitFor(t, "the worker to be killed", 10*time.Second, func() bool { return processGone(hung) })
	if took := time.Since(aborted); took < abortGrace-200*time.Millisecond {
		t.Errorf("killed %s after SIGABRT, before the %s grace", took, abortGrace)
	}
	assertLogged(t, log, fmt.Sprintf("Worker 1 (pid %d) did not exit within 2s of SIGABRT; killing it", hung))
}

// hookLine is a shell hook command that appends its event and variables to dir/hooks.log.
func hookLine(dir string) string {
	return `echo "$GOWSGI_HOOK master=$GOWSGI_MASTER_PID n=$GOWSGI_NUM_WORKERS old=$GOWSGI_OLD_NUM_WORKERS ` +
		`pid=$GOWSGI_WORKER_PID age=$GOWSGI_WORKER_AGE code=$GOWSGI_WORKER_EXIT_CODE sig=$GOWSGI_WORKER_SIGNAL ` +
		`binds=$GOWSGI_BINDS" >> ` + filepath.Join(dir, "hooks.log")
}

func hookLog(t *testing.T, dir string) string {
	text, err := os.ReadFile(filepath.Join(dir, "hooks.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(text)
}

func waitHookLine(t *testing.T, dir, line string) {
	t.Helper()
	waitFor(t, "hook line "+line, 10*time.Second, func() bool { return strings.Contains(hookLog(t, dir), line) })
}

func TestShellHooksRunWithTheirVariables(t *testing.T) {
	captureLog(t)
	dir := t.TempDir()
	hook := hookLine(dir)
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, Binds: []string{"127.0.0.1:9"},
		ShellHooks: config.ShellHooks{WhenReady: hook, OnReload: hook, ChildExit: hook, NworkersChanged: hook}}
	ta := startArbiterWith(t, cfg, serving)
	first := ta.waitForWorkers(t, 1)[0]
	master := os.Getpid()
	waitHookLine(t, dir, fmt.Sprintf("when_ready master=%d n=1 old= pid= age= code= sig= binds=127.0.0.1:9", master))

	ta.signals <- syscall.SIGTTIN
	waitHookLine(t, dir, "nworkers_changed master=")
	waitHookLine(t, dir, "n=2 old=1 ")
	ta.waitForWorkers(t, 2)

	if err := syscall.Kill(first, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitHookLine(t, dir, fmt.Sprintf("child_exit master=%d n=2 old= pid=%d age=1 code= sig=SIGKILL", master, first))

	ta.signals <- syscall.SIGHUP
	waitHookLine(t, dir, "on_reload master=")
	if strings.Count(hookLog(t, dir), "when_ready") != 1 {
		t.Errorf("when_ready ran more than once:\n%s", hookLog(t, dir))
	}
}

func TestFailingOrHangingHookLeavesTheMasterWorking(t *testing.T) {
	log := captureLog(t)
	dir := t.TempDir()
	hanging := filepath.Join(dir, "hanging.pid")
	t.Cleanup(func() {
		if text, err := os.ReadFile(hanging); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(text)))
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	cfg := &config.Config{Workers: 1, GracefulTimeout: 5, ShellHooks: config.ShellHooks{
		OnReload:        "echo $$ > " + hanging + "; exec sleep 60 >/dev/null 2>&1",
		NworkersChanged: "echo changed >> " + filepath.Join(dir, "hooks.log") + "; exit 3",
	}}
	ta := startArbiterWith(t, cfg, serving)
	ta.waitForWorkers(t, 1)
	ta.signals <- syscall.SIGHUP
	ta.signals <- syscall.SIGTTIN
	waitHookLine(t, dir, "changed")
	waitFor(t, "the failure in the log", 5*time.Second, func() bool {
		return strings.Contains(log.String(), "exited with code 3")
	})
	assertLogged(t, log, `[ERROR] The nworkers_changed hook "echo changed`)
	ta.waitForWorkers(t, 3) // the worker, its replacement after HUP, and the one TTIN added
}
