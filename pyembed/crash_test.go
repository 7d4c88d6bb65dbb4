package pyembed

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
)

// crashEnv names the crash that the test binary, started again by
// TestCrashInCEndsTheProcessByItsSignal, commits once the interpreter runs (testdata/crashes.py).
const crashEnv = "GOWSGI_TEST_CRASH"

// crashIfAsked is that child's part, called by TestMain after Initialize.
func crashIfAsked() {
	if os.Getenv(crashEnv) == "" {
		return
	}
	// A crash that writes a core file would leave it in the package's directory.
	if err := syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{}); err != nil {
		fmt.Fprintln(os.Stderr, "cannot turn core files off:", err)
		os.Exit(1)
	}
	_, err := LoadApp("crashes", "app", false, "")
	fmt.Fprintln(os.Stderr, "the process outlived its crash:", err)
	os.Exit(1)
}

// A crash in C must end the process by its signal, as it ends a Python process, so that the
// master sees the signal; faulthandler prints the Python stack first.
func TestCrashInCEndsTheProcessByItsSignal(t *testing.T) {
	for _, c := range []struct {
		name     string
		sig      syscall.Signal
		report   string // how faulthandler's name for it starts
		function string // in testdata/crashes.py
	}{
		{"SIGSEGV", syscall.SIGSEGV, "Segmentation fault", "segmentation_fault"},
		{"SIGBUS", syscall.SIGBUS, "Bus error", "bus_error"},
		// "Floating point exception" until 3.12, "Floating-point exception" from 3.13.
		{"SIGFPE", syscall.SIGFPE, "Floating", "floating_point_exception"},
		{"SIGILL", syscall.SIGILL, "Illegal instruction", "illegal_instruction"},
		{"SIGABRT", syscall.SIGABRT, "Aborted", "abort"},
	} {
		t.Run(c.name, func(t *testing.T) {
			child := exec.Command(os.Args[0], "-test.run=^$")
			child.Env = append(os.Environ(), crashEnv+"="+c.name)
			var stderr bytes.Buffer
			child.Stderr = &stderr
			err := child.Run()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the child ended with %v, want death by %s\n%s", err, c.name, &stderr)
			}
			if status := exit.Sys().(syscall.WaitStatus); !status.Signaled() || status.Signal() != c.sig {
				t.Errorf("the child ended with %v, want death by %s\n%s", exit, c.name, &stderr)
			}
			for _, want := range []string{"Fatal Python error: " + c.report, `crashes.py", line `, " in " + c.function} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("no %q in the child's stderr:\n%s", want, &stderr)
				}
			}
		})
	}
}

var nilDereferenced string

// A nil dereference in Go code is a SIGSEGV that Go's runtime turns into a panic: the crash
// routing that Initialize installs must leave it to Go, which the HTTP engine relies on to
// recover a failing connection.
func TestNilDereferenceInGoStillPanics(t *testing.T) {
	recovered := make(chan any)
	go func() {
		defer func() { recovered <- recover() }()
		var missing *LoadError
		nilDereferenced = missing.Kind
	}()
	if p, ok := (<-recovered).(error); !ok || !strings.Contains(p.Error(), "nil pointer dereference") {
		t.Errorf("recovered %v, want a nil pointer dereference", p)
	}
}
