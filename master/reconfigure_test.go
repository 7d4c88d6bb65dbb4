package master

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gowsgi/config"
)

// fixedSource resolves to next, or fails with err.
func fixedSource(next *config.Config, settings config.Settings, err error) configSource {
	return configSource{
		settings: config.Settings{{Key: "workers", Value: "1", Source: "default"}},
		resolve:  func() (*config.Config, config.Settings, error) { return next, settings, err },
	}
}

func TestHUPStartsWorkersWithTheSettingsReadAgain(t *testing.T) {
	log := captureLog(t)
	next := &config.Config{Workers: 3, GracefulTimeout: 5, Timeout: 10}
	settings := config.Settings{{Key: "workers", Value: "3", Source: "gowsgi.yaml:1"}}
	ta := startArbiterWith(t, &config.Config{Workers: 1, GracefulTimeout: 5}, serving, func(a *arbiter) {
		a.source = fixedSource(next, settings, nil)
	})
	old := ta.waitForWorkers(t, 1)[0]
	ta.signals <- syscall.SIGHUP
	waitFor(t, "three new workers and the old one stopped", 10*time.Second, func() bool {
		return len(markers(t, ta.markers, "ready")) == 4 && slices.Contains(markers(t, ta.markers, "TERM"), old)
	})
	assertLogged(t, log, "[INFO] Reload: workers = 3 (was 1)")
}

func TestInvalidSettingsOnHUPLeaveEverythingAsItWas(t *testing.T) {
	log := captureLog(t)
	cfg := &config.Config{Workers: 2, GracefulTimeout: 5, Timeout: 30}
	a := newArbiter(cfg, nil)
	a.source = fixedSource(nil, nil, errors.New(`gowsgi.yaml:2: unknown setting "wokers"`))
	a.reload()
	if a.generation != 0 || a.cfg != cfg || a.wanted != 2 {
		t.Errorf("after a failed reload: generation %d, wanted %d, same config %v", a.generation, a.wanted, a.cfg == cfg)
	}
	assertLogged(t, log, `[ERROR] Reload failed: gowsgi.yaml:2: unknown setting "wokers"; keeping the running workers`)

	a.source = fixedSource(&config.Config{Workers: 4, GracefulTimeout: 7, Timeout: 9}, nil, nil)
	a.reload()
	if a.generation != 1 || a.wanted != 4 || a.gracefulTimeout != 7*time.Second || a.timeout != 9*time.Second {
		t.Errorf("after a reload: generation %d, wanted %d, graceful %s, timeout %s", a.generation, a.wanted, a.gracefulTimeout, a.timeout)
	}
}

// listenerArbiter is an arbiter, not running, that listens on binds as the master would.
func listenerArbiter(t *testing.T, binds ...string) *arbiter {
	t.Helper()
	files, ok := listenAll(binds, listenOptions{})
	if !ok {
		t.Fatalf("cannot listen on %q", binds)
	}
	a := newArbiter(&config.Config{Binds: binds, Workers: 1}, nil)
	var err error
	if a.listeners, err = shareable(files); err != nil {
		t.Fatal(err)
	}
	a.host = &host{socketFiles: socketFilesOf(binds)}
	t.Cleanup(func() { closeAll(a.listeners) })
	return a
}

func freeAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func accepts(address string) bool {
	conn, err := net.DialTimeout("tcp", address, time.Second)
	if err == nil {
		conn.Close()
	}
	return err == nil
}

func TestHUPOpensNewBindsKeepsTheSameAndClosesTheDropped(t *testing.T) {
	log := captureLog(t)
	first, second := freeAddress(t), freeAddress(t)
	socket := filepath.Join(t.TempDir(), "s.sock")
	a := listenerArbiter(t, first)
	kept := a.listeners[0]
	// The same address spelled differently is the same socket.
	host, port, _ := strings.Cut(first, ":")
	a.source = fixedSource(&config.Config{Binds: []string{"tcp://" + host + ":" + port, second, "unix:" + socket}}, nil, nil)
	if !a.reconfigure() {
		t.Fatalf("adding binds failed:\n%s", log)
	}
	if len(a.listeners) != 3 || a.listeners[0] != kept || !accepts(second) {
		t.Fatalf("listeners %v after adding %s", a.listeners, second)
	}
	if _, err := os.Stat(socket); err != nil {
		t.Fatalf("unix socket: %v", err)
	}
	assertLogged(t, log, "Listening at: http://"+second, "Listening at: unix:"+socket)

	a.source = fixedSource(&config.Config{Binds: []string{second}}, nil, nil)
	if !a.reconfigure() {
		t.Fatalf("dropping binds failed:\n%s", log)
	}
	if len(a.listeners) != 1 || accepts(first) || !accepts(second) {
		t.Errorf("after dropping %s: %d listeners, it accepts %v", first, len(a.listeners), accepts(first))
	}
	if _, err := os.Stat(socket); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the dropped unix socket's file is still there: %v", err)
	}
	assertLogged(t, log, "Stopped listening at: tcp://"+first)
}

func TestHUPWithABindThatCannotBeOpenedKeepsTheSockets(t *testing.T) {
	log := captureLog(t)
	first, second := freeAddress(t), freeAddress(t)
	busy, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	a := listenerArbiter(t, first)
	before := slices.Clone(a.listeners)
	a.source = fixedSource(&config.Config{Binds: []string{second, busy.Addr().String()}, Workers: 5}, nil, nil)
	if a.reconfigure() {
		t.Fatal("a reload with a bind in use succeeded")
	}
	if !slices.Equal(a.listeners, before) || a.wanted != 1 || !accepts(first) || accepts(second) {
		t.Errorf("after the failed reload: listeners %v (were %v), wanted %d, %s accepts %v, %s accepts %v",
			a.listeners, before, a.wanted, first, accepts(first), second, accepts(second))
	}
	assertLogged(t, log, "Can't listen at "+busy.Addr().String(), "Reload failed: cannot listen at "+busy.Addr().String())
}

func TestHUPMovesThePidfile(t *testing.T) {
	captureLog(t)
	dir := t.TempDir()
	a := listenerArbiter(t, freeAddress(t))
	a.cfg.Pidfile, a.host.pidfile = filepath.Join(dir, "old.pid"), filepath.Join(dir, "old.pid")
	if err := writePidfile(a.host.pidfile); err != nil {
		t.Fatal(err)
	}
	a.source = fixedSource(&config.Config{Binds: a.cfg.Binds, Pidfile: filepath.Join(dir, "new.pid")}, nil, nil)
	if !a.reconfigure() {
		t.Fatal("moving the pid file failed")
	}
	if pid, _ := readPidfile(filepath.Join(dir, "new.pid")); pid != os.Getpid() || a.host.pidfile != filepath.Join(dir, "new.pid") {
		t.Errorf("new pid file holds %d; host has %q", pid, a.host.pidfile)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old pid file: %v", err)
	}
}

func TestWorkerExitingToReloadIsReplacedAtOnce(t *testing.T) {
	log := captureLog(t)
	ta := startArbiter(t, 1, 5, func(dir string) func() *exec.Cmd {
		return fakeCommand("exit:"+string(rune('0'+ExitWorkerReload)), dir)
	})
	ta.waitForWorkers(t, 4)
	assertLogged(t, log, "exited to reload the app")
	if strings.Contains(log.String(), "before starting another") || strings.Contains(log.String(), "[ERROR]") {
		t.Errorf("a reload was taken for a failure:\n%s", log)
	}
}

func TestEnvironmentFollowsTheSettings(t *testing.T) {
	t.Setenv("GOWSGI_TEST_KEPT", "original")
	os.Unsetenv("GOWSGI_TEST_NEW")
	t.Cleanup(func() { os.Unsetenv("GOWSGI_TEST_NEW") })
	var env environment
	env.apply(nil, []string{"GOWSGI_TEST_KEPT=set", "GOWSGI_TEST_NEW=a=b"})
	if os.Getenv("GOWSGI_TEST_KEPT") != "set" || os.Getenv("GOWSGI_TEST_NEW") != "a=b" {
		t.Fatalf("after -e: %q %q", os.Getenv("GOWSGI_TEST_KEPT"), os.Getenv("GOWSGI_TEST_NEW"))
	}
	// Workers start with what the variables held before, and set -e's values themselves.
	worker := env.forWorker([]string{"A=1", "GOWSGI_TEST_KEPT=set", "GOWSGI_TEST_NEW=a=b"})
	if !slices.Equal(worker, []string{"A=1", "GOWSGI_TEST_KEPT=original"}) {
		t.Errorf("a worker's environment: %q", worker)
	}
	env.apply([]string{"GOWSGI_TEST_KEPT=set", "GOWSGI_TEST_NEW=a=b"}, []string{"GOWSGI_TEST_NEW=c"})
	if os.Getenv("GOWSGI_TEST_KEPT") != "original" || os.Getenv("GOWSGI_TEST_NEW") != "c" {
		t.Errorf("after a reload without KEPT: %q %q", os.Getenv("GOWSGI_TEST_KEPT"), os.Getenv("GOWSGI_TEST_NEW"))
	}
	env.apply([]string{"GOWSGI_TEST_NEW=c"}, nil)
	if _, set := os.LookupEnv("GOWSGI_TEST_NEW"); set {
		t.Errorf("GOWSGI_TEST_NEW is still set without -e")
	}
}
