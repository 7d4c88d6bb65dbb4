package master

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gowsgi/balance"
	"gowsgi/config"
	"gowsgi/errorlog"
)

// The test binary doubles as a fake worker and a fake master, chosen by these variables, so the
// arbiter is tested with real processes, signals and inherited sockets but without Python.
const (
	fakeWorkerEnv   = "GOWSGI_TEST_FAKE_WORKER" // serve, stubborn, retire, hang, stubborn-hang, overdue, exit:CODE or die:SIGNAL
	fakeMasterEnv   = "GOWSGI_TEST_FAKE_MASTER" // number of workers
	markerDirEnv    = "GOWSGI_TEST_MARKERS"
	fakeWorkerDelay = 300 * time.Millisecond
)

func TestMain(m *testing.M) {
	switch {
	case os.Getenv(fakeWorkerEnv) != "":
		os.Exit(fakeWorker(os.Getenv(fakeWorkerEnv), os.Getenv(markerDirEnv)))
	case os.Getenv(fakeMasterEnv) != "":
		workers, _ := strconv.Atoi(os.Getenv(fakeMasterEnv))
		cfg := &config.Config{Binds: []string{"127.0.0.1:0"}, Workers: workers, GracefulTimeout: 5, WorkerClass: "sync"}
		os.Exit(runMaster(cfg, "test", fakeCommand("serve", os.Getenv(markerDirEnv)), configSource{}))
	}
	os.Exit(m.Run())
}

// fakeWorker records that it started ("PID.up" holding its worker id and socket count) and each
// signal it gets ("PID.TERM"); it answers every connection on its first socket with its pid.
// Once it listens it reports "ready" on its heartbeat pipe and "idle" every 100ms. A retire
// worker asks to be replaced after its first report; a hang worker reports one busy request and
// then nothing, like a worker stuck in C; an overdue one does the same with a request that
// started 5s ago. Stubborn workers ignore every signal they handle. Exit and die workers end
// after fakeWorkerDelay, with the exit code, or by the signal (TERM, SEGV), as a worker whose C
// code crashed does.
func fakeWorker(mode, markers string) int {
	pid := os.Getpid()
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGQUIT, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGABRT)
	writeMarker(markers, pid, "up", os.Getenv(WorkerIDEnv)+" "+os.Getenv(ListenFDsEnv))
	writeMarker(markers, pid, "balance", os.Getenv(balance.Env))
	if code, isExit := strings.CutPrefix(mode, "exit:"); isExit {
		time.Sleep(fakeWorkerDelay)
		n, _ := strconv.Atoi(code)
		return n
	}
	if sig, dies := strings.CutPrefix(mode, "die:"); dies {
		time.Sleep(fakeWorkerDelay)
		// Go's runtime would turn a SIGSEGV sent to itself into exit code 2: a shell that takes
		// over the process dies of it.
		err := syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -" + sig + " $$"}, os.Environ())
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 1
	}
	listener, err := net.FileListener(os.NewFile(FirstListenFD, "listener"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake worker:", err)
		return 1
	}
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(conn, "%d\n", pid)
			conn.Close()
		}
	}()
	go fakeHeartbeat(mode, markers, pid)
	for sig := range signals {
		writeMarker(markers, pid, signalName(sig.(syscall.Signal))[3:], "")
		if !strings.HasPrefix(mode, "stubborn") && sig != syscall.SIGUSR1 {
			return 0
		}
	}
	return 0
}

func fakeHeartbeat(mode, markers string, pid int) {
	fd, err := strconv.Atoi(os.Getenv(HeartbeatFDEnv))
	if err != nil {
		return
	}
	pipe := os.NewFile(uintptr(fd), "heartbeat")
	// The marker goes first: once the master reads "ready" it may stop an old worker, whose
	// marker must not predate this one.
	writeMarker(markers, pid, "ready", "")
	fmt.Fprintln(pipe, "ready")
	switch mode {
	case "retire":
		fmt.Fprintln(pipe, "retire served 3 requests (--max-requests)")
	case "hang", "stubborn-hang":
		fmt.Fprintf(pipe, "busy %d GET /stuck\n", time.Now().UnixMilli())
		return
	case "overdue":
		fmt.Fprintf(pipe, "busy %d POST /slow\n", time.Now().Add(-5*time.Second).UnixMilli())
		return
	}
	for {
		fmt.Fprintln(pipe, "idle")
		time.Sleep(100 * time.Millisecond)
	}
}

func writeMarker(dir string, pid int, kind, content string) {
	tmp := filepath.Join(dir, fmt.Sprintf(".%d.%s", pid, kind))
	if err := os.WriteFile(tmp, []byte(content), 0o644); err == nil {
		_ = os.Rename(tmp, filepath.Join(dir, fmt.Sprintf("%d.%s", pid, kind)))
	}
}

// fakeCommand starts this test binary as a fake worker in the given mode.
func fakeCommand(mode, markers string) func() *exec.Cmd {
	return func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), fakeWorkerEnv+"="+mode, markerDirEnv+"="+markers)
		return cmd
	}
}

// markers lists the pids that left a marker of the given kind, in no particular order.
func markers(t *testing.T, dir, kind string) []int {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "[0-9]*."+kind))
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, p := range paths {
		pid, err := strconv.Atoi(strings.TrimSuffix(filepath.Base(p), "."+kind))
		if err != nil {
			t.Fatalf("marker %s: %v", p, err)
		}
		pids = append(pids, pid)
	}
	return pids
}

func waitFor(t *testing.T, what string, timeout time.Duration, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !done(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// processGone is true once pid has exited; a zombie waiting for a reaper counts as gone.
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	return len(fields) > 0 && (fields[0] == "Z" || fields[0] == "X")
}

// logBuffer captures the error log for the duration of a test.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func captureLog(t *testing.T) *logBuffer {
	log := &logBuffer{}
	errorlog.SetOutput(log)
	t.Cleanup(func() { errorlog.SetOutput(os.Stderr) })
	return log
}

func assertLogged(t *testing.T, log *logBuffer, lines ...string) {
	t.Helper()
	for _, line := range lines {
		if !strings.Contains(log.String(), line) {
			t.Errorf("log lacks %q:\n%s", line, log)
		}
	}
}
