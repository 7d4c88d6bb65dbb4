package worker

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// acceptSlice bounds each wait in Accept, so that the admission check before it is never older
// than this when a connection arrives.
const acceptSlice = 20 * time.Millisecond

// acceptors are the worker's accept loops, one per listening socket.
type acceptors struct {
	listeners []net.Listener
	running   sync.WaitGroup
}

func newAcceptors(listeners []net.Listener) *acceptors {
	return &acceptors{listeners: listeners}
}

func (a *acceptors) start(srv *httpServer, gate *admission) {
	for _, l := range a.listeners {
		a.running.Add(1)
		go func() {
			defer a.running.Done()
			acceptLoop(l, srv, gate)
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

func acceptLoop(l net.Listener, srv *httpServer, gate *admission) {
	deadline, _ := l.(interface{ SetDeadline(time.Time) error })
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
				continue
			}
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors and the like: back off instead of spinning.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		srv.accepted()
		go srv.serveAccepted(c)
		waitWhileAhead(srv.load)
	}
}
