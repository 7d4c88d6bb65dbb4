package worker

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pipeHeartbeat opens a heartbeat the way a worker does, on a pipe the test reads.
func pipeHeartbeat(t *testing.T) (*heartbeat, *bufio.Scanner) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	// The heartbeat owns its descriptor, as in a worker: give it a copy of the write end.
	fd, err := syscall.Dup(int(w.Fd()))
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(heartbeatFDEnv, strconv.Itoa(fd))
	hb := openHeartbeat()
	if hb == nil {
		t.Fatal("openHeartbeat returned nil with the variable set")
	}
	t.Cleanup(func() { hb.pipe.Close(); r.Close() })
	if _, set := os.LookupEnv(heartbeatFDEnv); set {
		t.Errorf("%s is still in the environment, where the app would see it", heartbeatFDEnv)
	}
	return hb, bufio.NewScanner(r)
}

func TestHeartbeatLines(t *testing.T) {
	hb, lines := pipeHeartbeat(t)
	start := time.UnixMilli(1700000000123)
	hb.ready()
	hb.idle()
	hb.busy(start, "GET", "/a b%c")
	hb.retire("too\nbig  now")
	for _, want := range []string{"ready", "idle", "busy 1700000000123 GET /a%20b%25c", "retire too big now"} {
		if !lines.Scan() || lines.Text() != want {
			t.Errorf("line %q, want %q", lines.Text(), want)
		}
	}
}

func TestHeartbeatWithoutMasterIsSilent(t *testing.T) {
	t.Setenv(heartbeatFDEnv, "")
	hb := openHeartbeat()
	if hb != nil {
		t.Fatalf("openHeartbeat = %v with no descriptor", hb)
	}
	hb.ready()
	hb.idle()
	hb.busy(time.Now(), "GET", "/")
	hb.retire("x")
}

func TestRetirementAsksOnceAfterTheLimit(t *testing.T) {
	hb, lines := pipeHeartbeat(t)
	r := newRetirement(hb, 3, 0)
	for range 7 {
		r.starting()
	}
	hb.idle()
	for _, want := range []string{"retire served 3 requests (--max-requests)", "idle"} {
		if !lines.Scan() || lines.Text() != want {
			t.Errorf("line %q, want %q", lines.Text(), want)
		}
	}
}

func TestRetirementJitterStaysInRange(t *testing.T) {
	seen := map[int64]bool{}
	for range 200 {
		limit := newRetirement(nil, 10, 3).limit
		if limit < 10 || limit > 13 {
			t.Fatalf("limit %d outside 10..13", limit)
		}
		seen[limit] = true
	}
	if len(seen) < 2 {
		t.Errorf("jitter never varied the limit: %v", seen)
	}
	if limit := newRetirement(nil, 0, 5).limit; limit != 0 {
		t.Errorf("--max-requests 0 gave a limit of %d, want none", limit)
	}
}

func TestRetirementAsksWhenMemoryIsOver(t *testing.T) {
	hb, lines := pipeHeartbeat(t)
	rss, err := residentBytes()
	if err != nil || rss < 1<<20 {
		t.Fatalf("residentBytes = %d, %v", rss, err)
	}
	newRetirement(hb, 0, 0).watchMemory(1)
	done := make(chan string, 1)
	go func() {
		lines.Scan()
		done <- lines.Text()
	}()
	select {
	case line := <-done:
		if !strings.HasPrefix(line, "retire resident memory ") || !strings.HasSuffix(line, "is over --max-worker-memory 1 MiB") {
			t.Errorf("line %q", line)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no retire request within 5s for a process over 1 MiB")
	}
}
