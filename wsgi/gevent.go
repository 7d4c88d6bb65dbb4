package wsgi

import (
	"time"

	"gowsgi/pyembed"
)

// GeventMissing says that the embedded Python cannot import gevent, which -k gevent needs.
type GeventMissing = pyembed.GeventMissing

// useGevent patches the standard library for gevent before anything of the app is imported,
// and sends every request to gevent's hub from then on; the worker's main thread runs the
// hub with RunHub.
func useGevent() error {
	if err := pyembed.PatchGevent(); err != nil {
		return err
	}
	return pyembed.StartHub()
}

// RunHub runs gevent's hub, which serves the requests in greenlets, until StopHub. Call it on
// the thread that loaded the app.
func RunHub() error { return pyembed.RunHub() }

// StopHub makes RunHub return.
func StopHub() { pyembed.StopHub() }

// HubStalled reports whether gevent's hub has let work wait longer than d: a greenlet keeps its
// thread, in a loop that never yields or blocked in C. PingHub gives it work to notice that
// by when no request comes. Without gevent, HubStalled is false.
func HubStalled(d time.Duration) bool { return pyembed.HubStalled(d) }

// PingHub: see HubStalled.
func PingHub() { pyembed.PingHub() }
