package worker

import (
	"runtime"
	"time"

	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

const (
	// watchInterval is how often the watchdog checks requests and reports to the master, which
	// expects a word at least once a second.
	watchInterval = 500 * time.Millisecond
	// stuckGrace is how long an interrupted request may take to end. Python code sees the
	// exception within milliseconds; a request still running after this is blocked in C.
	stuckGrace = time.Second
)

// watchdog proves to the master that this worker's Python can make progress, and enforces the
// request timeout (0 disables it). It runs on its own OS thread with its own Python thread
// state. It stops reporting when Python cannot make progress: the GIL is held for good, or a
// timed-out request is blocked in C where no exception reaches it, or (hubbed: the gevent
// worker class) gevent's hub has not come back to its loop for longer than the timeout. The
// master then replaces the worker, naming the request.
func watchdog(h *wsgi.Handler, hb *heartbeat, timeout time.Duration, hubbed bool) {
	runtime.LockOSThread()
	for range time.Tick(watchInterval) {
		// What the worker is doing goes out first: if Python is stuck below, the master's
		// last word from this worker names the request.
		if busy := h.Oldest(); busy != nil {
			hb.busy(busy.Start, busy.Method, busy.Path)
		} else {
			hb.idle()
		}
		wsgi.Probe()
		wsgi.PingHub()
		if timeout <= 0 {
			continue
		}
		// Under gevent a request that outlived its interruption may be waiting for a slow
		// client while the hub serves the others: only a hub that stopped too is stuck.
		if stuck := h.Watch(timeout, stuckGrace); stuck != nil && (!hubbed || wsgi.HubStalled(stuckGrace)) {
			errorlog.Error("Request %s %s is blocked outside Python past its timeout; "+
				"this worker stops reporting so that the master replaces it", stuck.Method, stuck.Path)
			select {} // silence until the master acts
		}
		// A greenlet blocked in C, even one no request runs in, stops every request.
		if hubbed && wsgi.HubStalled(timeout+stuckGrace) {
			errorlog.Error("gevent's hub has not run for over %s: a greenlet keeps its thread; "+
				"this worker stops reporting so that the master replaces it", timeout)
			select {}
		}
	}
}
