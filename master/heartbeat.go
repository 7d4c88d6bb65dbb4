package master

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gowsgi/errorlog"
	"gowsgi/metrics"
)

// abortGrace is how long a worker sent SIGABRT for a timeout has to run its worker_abort and
// worker_exit hooks and exit before it is killed.
const abortGrace = 2 * time.Second

// stuckSilence is how long a worker whose last reported request has outrun --timeout may stay
// silent before it is taken for stuck: twice the longest gap the heartbeat protocol allows.
const stuckSilence = 2 * time.Second

// HeartbeatFDEnv tells a worker which descriptor is the write end of its heartbeat pipe: the
// one after its listening sockets. The worker writes one line per report (see reportKind).
const HeartbeatFDEnv = "GOWSGI_HEARTBEAT_FD"

// reportKind is what a heartbeat line says.
type reportKind int

const (
	// reportReady: "ready", the app is loaded and the worker accepts connections.
	reportReady reportKind = iota
	// reportIdle: "idle", no request in flight.
	reportIdle
	// reportBusy: "busy <start-unix-ms> <METHOD> <PATH>", the oldest request in flight.
	reportBusy
	// reportRetire: "retire <reason>", the worker asks to be replaced and then stopped.
	reportRetire
	// reportUnknown: a line this master does not understand (from a newer worker binary).
	reportUnknown
)

// workerReport is one heartbeat line, posted to the arbiter loop.
type workerReport struct {
	pid  int
	kind reportKind
	// For reportBusy: the request in flight; for reportRetire: why.
	since  time.Time
	method string
	path   string
	reason string
}

// parseReport reads one heartbeat line; ok is false for a line the master does not know, which
// still counts as a sign of life.
func parseReport(line string) (r workerReport, ok bool) {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "ready":
		return workerReport{kind: reportReady}, true
	case "idle":
		return workerReport{kind: reportIdle}, true
	case "retire":
		return workerReport{kind: reportRetire, reason: rest}, true
	case "busy":
		fields := strings.SplitN(rest, " ", 3)
		if len(fields) != 3 {
			return r, false
		}
		ms, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return r, false
		}
		return workerReport{kind: reportBusy, since: time.UnixMilli(ms), method: fields[1], path: fields[2]}, true
	}
	return r, false
}

// readHeartbeat posts every line from a worker's pipe to the arbiter until the worker exits
// and the pipe reaches end of file.
func (a *arbiter) readHeartbeat(pid int, pipe *os.File) {
	defer pipe.Close()
	lines := bufio.NewScanner(pipe)
	for lines.Scan() {
		r, ok := parseReport(lines.Text())
		if !ok {
			r.kind = reportUnknown
		}
		r.pid = pid
		a.reports <- r
	}
}

// handleReport records a worker's report; any line at all proves the worker is alive.
func (a *arbiter) handleReport(r workerReport) {
	w, known := a.workers[r.pid]
	if !known {
		return
	}
	w.heardAt = time.Now()
	switch r.kind {
	case reportReady:
		w.ready, w.activity, w.busySince = true, "idle", time.Time{}
		a.noteStartedUp()
	case reportIdle:
		w.activity, w.busySince = "idle", time.Time{}
	case reportBusy:
		w.activity, w.busySince = "serving "+r.method+" "+r.path, r.since
	case reportRetire:
		if !w.retiring && !w.replaceAsked {
			w.replaceAsked = true
			a.board.CountRestart(retireRestart(r.reason))
			a.logWorker(w, "asks to be replaced: %s", r.reason)
		}
	}
}

// checkHealth kills workers that stopped reporting for longer than --timeout, and workers
// asked to stop that outlived --graceful-timeout; maintain then replaces them. A worker that
// falls silent while the request it last reported has run past --timeout is not given another
// full timeout: the worker stops reporting exactly when such a request cannot be interrupted.
func (a *arbiter) checkHealth() {
	now := time.Now()
	for _, w := range a.workers {
		silence := now.Sub(w.heardAt)
		overdue := !w.busySince.IsZero() && now.Sub(w.busySince) > a.timeout && silence > stuckSilence
		switch {
		case w.killed:
		case !w.abortedAt.IsZero():
			if now.Sub(w.abortedAt) > abortGrace {
				a.logWorker(w, "did not exit within %s of SIGABRT; killing it", abortGrace)
				a.kill(w)
			}
		case w.retiring && !w.stopBy.IsZero() && now.After(w.stopBy):
			a.logWorker(w, "still running %s after it was told to stop; killing it", a.gracefulTimeout)
			a.kill(w)
		case !w.retiring && a.timeout > 0 && (silence > a.timeout || overdue):
			// How long the reported request has run, or for an idle worker how long it has
			// been silent.
			took := silence
			if !w.busySince.IsZero() {
				took = now.Sub(w.busySince)
			}
			errorlog.Error("Worker %d (pid %d) timed out after %d s while %s",
				w.id, w.proc.Pid, int(took/time.Second), w.activity)
			a.abort(w)
		}
	}
}

// abort sends SIGABRT, as gunicorn does to a worker that timed out, so that its worker_abort
// hook runs; a replacement starts at once, and checkHealth kills the worker if it is still
// there after abortGrace. Its exit is not logged again when it is reaped.
func (a *arbiter) abort(w *workerProcess) {
	w.retiring, w.abortedAt = true, time.Now()
	a.board.CountRestart(metrics.RestartTimeout)
	a.stats.stopped++
	_ = w.proc.Signal(syscall.SIGABRT)
}

// kill ends a worker with SIGKILL; its exit is not logged again when it is reaped.
func (a *arbiter) kill(w *workerProcess) {
	w.retiring, w.killed = true, true
	a.stats.stopped++
	_ = w.proc.Signal(syscall.SIGKILL)
}

// logWorker logs an event of one worker, naming it by number and pid.
func (a *arbiter) logWorker(w *workerProcess, format string, args ...any) {
	errorlog.Info("Worker %d (pid %d) "+format, append([]any{w.id, w.proc.Pid}, args...)...)
}
