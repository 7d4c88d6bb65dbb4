package worker

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// heartbeatFDEnv names the descriptor of the pipe on which the master listens to this worker;
// it is the master's HeartbeatFDEnv.
const heartbeatFDEnv = "GOWSGI_HEARTBEAT_FD"

// heartbeat is the worker's end of the pipe to the master, one line per report:
//
//	ready                               the app is loaded and the worker accepts
//	idle                                no request in flight
//	busy <start-unix-ms> <METHOD> <PATH> the oldest request in flight
//	retire <reason>                     replace this worker, then stop it gracefully
//
// The master kills a worker that reports nothing for --timeout seconds, so idle or busy must be
// sent at least once a second. A nil *heartbeat (no master listening) ignores every call.
type heartbeat struct {
	mu   sync.Mutex
	pipe *os.File
	line []byte
}

// openHeartbeat takes the pipe the master passed, or returns nil when there is none. It removes
// the variable from the environment so that the app, and processes it starts, do not see it.
func openHeartbeat() *heartbeat {
	text, ok := os.LookupEnv(heartbeatFDEnv)
	os.Unsetenv(heartbeatFDEnv)
	fd, err := strconv.Atoi(text)
	if !ok || err != nil || fd < 3 {
		return nil
	}
	// Children of the app must not hold the pipe open after the worker is gone.
	syscall.CloseOnExec(fd)
	return &heartbeat{pipe: os.NewFile(uintptr(fd), "heartbeat")}
}

func (h *heartbeat) ready() { h.send("ready") }

func (h *heartbeat) idle() { h.send("idle") }

// busy reports the oldest request in flight. Spaces and line breaks in the path would break the
// line format, so they are sent percent-encoded.
func (h *heartbeat) busy(start time.Time, method, path string) {
	if h == nil {
		return
	}
	h.send("busy " + strconv.FormatInt(start.UnixMilli(), 10) + " " + method + " " + lineSafe(path))
}

// retire asks the master to start a replacement and then stop this worker gracefully.
func (h *heartbeat) retire(reason string) {
	if h == nil {
		return
	}
	h.send("retire " + strings.Join(strings.Fields(reason), " "))
}

// send writes one line. A master that has gone away is not the worker's concern here: the
// parent-death signal ends the worker.
func (h *heartbeat) send(line string) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.line = append(append(h.line[:0], line...), '\n')
	_, _ = h.pipe.Write(h.line)
}

func lineSafe(s string) string {
	if !strings.ContainsAny(s, " \r\n%") {
		return s
	}
	r := strings.NewReplacer("%", "%25", " ", "%20", "\r", "%0D", "\n", "%0A")
	return r.Replace(s)
}
