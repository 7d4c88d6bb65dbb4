package proctitle

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// childEnv makes the test binary set a title and report what the kernel shows, instead of
// running the tests: the title rewrites the process's own command line.
const childEnv = "PROCTITLE_TEST_TITLE"

func TestMain(m *testing.M) {
	if title := os.Getenv(childEnv); title != "" {
		argsBefore := strings.Join(os.Args, " ")
		Set(title)
		cmdline, _ := os.ReadFile("/proc/self/cmdline")
		comm, _ := os.ReadFile("/proc/self/comm")
		os.Stdout.Write(bytes.TrimRight(cmdline, "\x00"))
		os.Stdout.WriteString("\n" + strings.TrimSpace(string(comm)) + "\n")
		os.Stdout.WriteString(argsBefore + "\n" + strings.Join(os.Args, " ") + "\n" + os.Getenv("PROCTITLE_TEST_KEEP") + "\n")
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runChild(t *testing.T, title string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"="+title, "PROCTITLE_TEST_KEEP=still here")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	lines := strings.Split(string(out), "\n")
	if len(lines) < 5 {
		t.Fatalf("child printed %q", out)
	}
	return lines
}

func TestSetRewritesTheCommandLine(t *testing.T) {
	title := Title("master", "myapp:app")
	lines := runChild(t, title, "-test.run=none", "-some-padding-to-make-room-for-the-title")
	if lines[0] != title {
		t.Errorf("cmdline = %q, want %q", lines[0], title)
	}
	if want := "gowsgi: master"; lines[1] != want {
		t.Errorf("comm = %q, want %q", lines[1], want)
	}
	if lines[2] != lines[3] {
		t.Errorf("os.Args changed from %q to %q", lines[2], lines[3])
	}
}

func TestATitleLongerThanTheArgumentsUsesTheEnvironmentMemory(t *testing.T) {
	title := Title("worker", strings.Repeat("x", 300))
	lines := runChild(t, title)
	if lines[0] != title {
		t.Errorf("cmdline = %q, want %q", lines[0], title)
	}
	if lines[4] != "still here" {
		t.Errorf("environment variable after the title = %q", lines[4])
	}
}
