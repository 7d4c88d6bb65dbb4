package worker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"gowsgi/errorlog"
	"gowsgi/metrics"
)

const (
	// acceptSlice bounds each wait in Accept, so that the admission check before it is never
	// older than this when a connection arrives.
	acceptSlice = 20 * time.Millisecond
	// acceptRetry is the pause after a failed accept. Out of descriptors, accept fails at once
	// and the connection stays in the backlog, so retrying without a pause would spin a core;
	// a short pause still takes the connection within milliseconds of a descriptor freeing up.
	acceptRetry = 10 * time.Millisecond
)

// acceptors are the worker's accept loops, one per listening socket.
type acceptors struct {
	listeners []net.Listener
	running   sync.WaitGroup
	counts    *metrics.Recorder
}

func newAcceptors(listeners []net.Listener, counts *metrics.Recorder) *acceptors {
	return &acceptors{listeners: listeners, counts: counts}
}

func (a *acceptors) start(srv *httpServer, gate *admission) {
	for _, l := range a.listeners {
		a.running.Add(1)
		go func() {
			defer a.running.Done()
			acceptLoop(l, srv, gate, a.counts)
		}()
	}
}

// close closes the listening sockets (the worker's copies: the other workers keep accepting),
// which ends the loops.
func (a *acceptors) close() {
	for _, l := range a.listeners {
		l.Close()
	}
}

// wait waits, until deadline, for the loops to return once closed. A connection a loop took
// from the kernel just before its socket closed is counted by the server only on the loop's
// way back from Accept; a graceful stop that counted the connections before then would see
// none left and end the worker with that connection unanswered.
func (a *acceptors) wait(deadline time.Time) {
	done := make(chan struct{})
	go func() {
		a.running.Wait()
		close(done)
	}()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
	}
}

func acceptLoop(l net.Listener, srv *httpServer, gate *admission, counts *metrics.Recorder) {
	deadline, _ := l.(interface{ SetDeadline(time.Time) error })
	var outage acceptOutage
	for {
		if !gate.free() {
			// Held back: the other workers must not pause to leave connections to this one.
			srv.load.Hold()
			gate.waitFree()
			srv.load.Resume()
			srv.publishLoad()
		}
		gate.waitWhileYielding()
		if deadline != nil {
			deadline.SetDeadline(time.Now().Add(acceptSlice))
		}
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				outage.check(l.Addr(), time.Now())
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			outage.failed(l.Addr(), err, time.Now())
			time.Sleep(acceptRetry)
			continue
		}
		outage.check(l.Addr(), time.Now())
		srv.accepted()
		counts.Accepted()
		go srv.serveAccepted(c)
		waitWhileAhead(srv.load)
	}
}

// acceptOutage is a run of failed accepts on one listener. The error log says once that the
// worker cannot accept and once that it accepts again: out of descriptors, the loop fails a
// hundred times a second, and a line for each would flood the log and hide the cause. A worker
// at its limit also flaps, each descriptor freed letting one connection in from the backlog
// before the next accept fails, so the run ends only once no accept has failed for
// acceptRecovered.
type acceptOutage struct {
	first, last time.Time
	failures    int
}

// acceptRecovered is how long accepting must work before an outage counts as over. The loop
// tries at least every acceptSlice, and without a descriptor to spare every try fails (Linux
// takes the new descriptor before it looks for a connection), so a second without a failure
// means the worker has descriptors again.
const acceptRecovered = time.Second

func (o *acceptOutage) failed(addr net.Addr, err error, now time.Time) {
	if o.failures == 0 {
		o.first = now
		errorlog.Error("Worker cannot accept connections on %s: %s; it keeps serving the connections it has and retries",
			addr, acceptFailure(err))
	}
	o.last = now
	o.failures++
}

// check ends the outage, if there is one and accepting has worked since for acceptRecovered.
func (o *acceptOutage) check(addr net.Addr, now time.Time) {
	if o.failures == 0 || now.Sub(o.last) < acceptRecovered {
		return
	}
	errorlog.Info("Worker accepts connections on %s again, after %d failed attempts over %s",
		addr, o.failures, o.last.Sub(o.first).Round(time.Millisecond))
	o.failures = 0
}

// acceptFailure explains an accept error, naming the limit reached when it is one on
// descriptors: the fix differs (ulimit -n for the process, fs.file-max for the system).
func acceptFailure(err error) string {
	switch {
	case errors.Is(err, syscall.EMFILE):
		var lim syscall.Rlimit
		if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
			return fmt.Sprintf("%v (EMFILE: the worker holds its limit of %d open files, ulimit -n)", err, lim.Cur)
		}
		return fmt.Sprintf("%v (EMFILE: the worker holds its limit of open files, ulimit -n)", err)
	case errors.Is(err, syscall.ENFILE):
		return fmt.Sprintf("%v (ENFILE: the system holds its limit of open files, fs.file-max)", err)
	}
	return err.Error()
}
