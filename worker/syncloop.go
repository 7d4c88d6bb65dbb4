package worker

import (
	"net"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
	"gowsgi/httpwire"
	"gowsgi/wsgi"
)

// syncClass runs every request on the main thread, the one that imported the app, as gunicorn's
// sync worker does: objects made at import time that check their thread (an sqlite3
// connection) keep working.
//
// The main thread does not wait for requests handed to it: it runs an event loop that owns
// every plain HTTP/1.1 connection once its first request head has arrived, and reads, calls the
// app and writes for all of them, waiting in epoll between requests — one kernel wake-up per
// request at most, and none while requests keep coming. Handing each request from the
// connection's goroutine to the main thread over a channel cost two thread wake-ups per request
// instead (measured at 64 connections, 2 workers: 12–15 µs more CPU per hello request, 50 µs more
// per Flask request; shared/design.md §2). Connections the loop cannot own (TLS, HTTP/2) still
// hand their requests over, through the loop's inbox.
//
// The loop waits for no client: a connection with nothing to read is left in epoll, a head that
// arrives in pieces or a body the app left unread and the client is still sending goes back to
// a goroutine of its own, and a closing connection is drained from epoll.
type syncClass struct {
	handler *wsgi.Handler
	gate    admission
	srv     *httpServer

	epfd   int
	wakefd int // an eventfd other goroutines write to wake the loop
	// asleep is set while the loop is about to wait or waiting in epoll: only then does
	// handing it work cost a write to wakefd.
	asleep atomic.Bool

	mu    sync.Mutex
	inbox []*httpConn // adopted connections with a request ready
	jobs  []*syncJob  // requests from connections the loop does not own
	// spare slices, swapped with inbox and jobs so that taking work allocates nothing
	spareInbox []*httpConn
	spareJobs  []*syncJob

	// serving is the request the loop is answering on a connection it owns, which dispatch
	// then runs in place.
	serving atomic.Pointer[httpwire.Request]

	// Loop state, touched only by the main thread.
	entries      []loopEntry // by descriptor
	waiting      int         // parked and lingering entries
	lastSweep    time.Time
	lastYield    time.Time
	lastCPUYield time.Time
	events       [128]unix.EpollEvent
	scratch      []byte // where lingering connections are drained to

	exiting  atomic.Bool
	exitCode atomic.Int32
}

// loopEntry is what the loop knows of one descriptor in its epoll set.
type loopEntry struct {
	conn *httpConn // a connection waiting for its next request
	lc   *loopConn
	// lingerUntil is set for a closed connection the loop still drains (Unix nanoseconds).
	lingerUntil int64
	lingerLeft  int
}

type syncJob struct {
	req  *httpwire.Request
	w    httpwire.ResponseWriter
	done chan struct{}
}

var syncJobPool = sync.Pool{New: func() any { return &syncJob{done: make(chan struct{}, 1)} }}

const (
	// sweepInterval is how often the loop looks for connections past their deadline (idle
	// keep-alive, a graceful stop's grace, lingering): deadlines are kept to within it.
	sweepInterval = 250 * time.Millisecond
	// lingerBudget is how much a closing connection is drained, as httpwire.Conn.Close does.
	lingerBudget = 256 << 10
	// yieldInterval is how often the loop lets its goroutine be rescheduled. Go's sysmon
	// takes a goroutine that runs 10 ms without being rescheduled for one stuck in a system
	// call, takes its P, and then watches every 20 µs for a millisecond: 1.5k–2.5k wake-ups a
	// second and 5% of a hello request's CPU, measured. Rescheduling costs two thread
	// wake-ups, 125 times a second: under CPU contention each may stall the loop for a few
	// milliseconds (measured), so it is done no more often than keeps sysmon quiet.
	yieldInterval = 8 * time.Millisecond
	// cpuYieldInterval is how often a busy loop offers its CPU to other threads (sched_yield,
	// which returns at once when nothing else waits for it). A loop with requests queued never
	// blocks, so the kernel would let it run its whole time slice, several milliseconds, while
	// the other workers and the clients that share its CPU wait. Measured with 2 workers and
	// wrk on 2 CPUs (hello app, 64 connections): offered every 2 ms, p99 3.2 ms instead of
	// 4.3 ms and 10% less CPU per request, as batches of ready connections grow; every 1 ms,
	// 2.7–2.9 ms against 3.2 ms, at the same rps and CPU per request; every 0.5 ms, p99 fell
	// a little more but rps fell 8% and CPU per request rose 10%.
	cpuYieldInterval = time.Millisecond
)

func newSyncClass(h *wsgi.Handler) *syncClass {
	return &syncClass{handler: h, epfd: -1, wakefd: -1,
		gate: admission{limit: 1, progressing: h.Progressing}}
}

// attach prepares the loop and makes srv hand it its plain connections.
func (s *syncClass) attach(srv *httpServer) error {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return err
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return err
	}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd,
		&unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(wakefd)}); err != nil {
		unix.Close(epfd)
		unix.Close(wakefd)
		return err
	}
	s.epfd, s.wakefd, s.srv = epfd, wakefd, srv
	srv.adopter = s
	return nil
}

func (s *syncClass) admission() *admission { return &s.gate }

// dispatch runs the request in place when the loop is answering it, and otherwise hands it to
// the loop and waits.
func (s *syncClass) dispatch(req *httpwire.Request, w httpwire.ResponseWriter) {
	s.gate.enter()
	defer s.gate.leave()
	if s.serving.Load() == req {
		s.handler.Serve(req, w)
		return
	}
	job := syncJobPool.Get().(*syncJob)
	job.req, job.w = req, w
	s.mu.Lock()
	s.jobs = append(s.jobs, job)
	s.mu.Unlock()
	s.wakeIfAsleep()
	<-job.done
	job.req, job.w = nil, nil
	syncJobPool.Put(job)
}

// adopt takes over a plain TCP or unix connection whose request head nextRequest has just
// parsed. It runs on the connection's goroutine, which must not touch c once it returns true.
func (s *syncClass) adopt(c *httpConn) bool {
	orig := c.NetConn()
	switch orig.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return false
	}
	raw, err := orig.(syscall.Conn).SyscallConn()
	if err != nil {
		return false
	}
	fd := -1
	raw.Control(func(orig uintptr) {
		fd, err = unix.FcntlInt(orig, unix.F_DUPFD_CLOEXEC, 0)
	})
	if err != nil || fd < 0 {
		return false
	}
	lc := &loopConn{fd: fd, loop: s, local: orig.LocalAddr(), remote: orig.RemoteAddr()}
	s.srv.mu.Lock()
	c.SetNetConn(lc)
	s.srv.mu.Unlock()
	orig.Close() // the duplicate keeps the connection; Go's poller lets go of it
	s.mu.Lock()
	s.inbox = append(s.inbox, c)
	s.mu.Unlock()
	if c.arriving {
		c.arriving = false // counted since its accept; now as the inbox's
	} else {
		s.gate.queued(1)
	}
	s.wakeIfAsleep()
	return true
}

func (s *syncClass) wakeIfAsleep() {
	if s.asleep.Load() {
		s.wake()
	}
}

func (s *syncClass) wake() {
	one := [8]byte{1}
	unix.Write(s.wakefd, one[:])
}

// run is the loop. It returns once a code arrives on exit.
func (s *syncClass) run(exit <-chan int) int {
	go func() {
		code := <-exit
		s.exitCode.Store(int32(code))
		s.exiting.Store(true)
		s.wake()
	}()
	s.lastSweep = time.Now()
	for {
		// asleep goes up before the inbox is looked at: work handed over after the look
		// then comes with a wake-up.
		s.asleep.Store(true)
		if s.takeWork() {
			s.asleep.Store(false)
			continue
		}
		if s.exiting.Load() {
			return int(s.exitCode.Load())
		}
		timeout := -1
		if s.waiting > 0 {
			timeout = int(sweepInterval / time.Millisecond)
		}
		n, err := unix.EpollWait(s.epfd, s.events[:], timeout)
		s.asleep.Store(false)
		if err != nil && err != unix.EINTR {
			errorlog.Error("The sync worker's event loop cannot wait: %v", err)
			time.Sleep(10 * time.Millisecond)
		}
		for i := 0; i < n; i++ {
			s.ready(int(s.events[i].Fd))
		}
		now := time.Now()
		if s.waiting > 0 && now.Sub(s.lastSweep) >= sweepInterval {
			s.sweep(now)
		}
		if now.Sub(s.lastYield) >= yieldInterval {
			s.lastYield = now
			runtime.Gosched()
		} else if now.Sub(s.lastCPUYield) >= cpuYieldInterval {
			s.lastCPUYield = now
			unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0)
		}
	}
}

// takeWork serves what other goroutines handed over and reports whether there was any.
func (s *syncClass) takeWork() bool {
	s.mu.Lock()
	inbox, jobs := s.inbox, s.jobs
	s.inbox, s.jobs = s.spareInbox[:0], s.spareJobs[:0]
	s.mu.Unlock()
	for i, c := range inbox {
		s.gate.queued(-1)
		s.own(c)
		inbox[i] = nil
	}
	for i, job := range jobs {
		s.handler.Serve(job.req, job.w)
		job.done <- struct{}{}
		jobs[i] = nil
	}
	s.spareInbox, s.spareJobs = inbox[:0], jobs[:0]
	return len(inbox)+len(jobs) > 0
}

// own registers a newly adopted connection and answers its request.
func (s *syncClass) own(c *httpConn) {
	lc := c.NetConn().(*loopConn)
	if lc.fd >= len(s.entries) {
		s.entries = append(s.entries, make([]loopEntry, lc.fd+1-len(s.entries))...)
	}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, lc.fd,
		&unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(lc.fd)}); err != nil {
		errorlog.Error("The sync worker cannot watch a connection: %v", err)
		s.handBack(c, lc, false)
		return
	}
	s.entries[lc.fd] = loopEntry{lc: lc}
	s.serveOwned(c, lc, true)
}

// ready handles an event on fd.
func (s *syncClass) ready(fd int) {
	if fd == s.wakefd {
		var b [8]byte
		unix.Read(s.wakefd, b[:])
		return
	}
	if fd >= len(s.entries) {
		return
	}
	e := &s.entries[fd]
	switch {
	case e.conn != nil:
		c, lc := e.conn, e.lc
		e.conn = nil
		s.waiting--
		lc.nonBlocking = true
		err := c.Receive()
		lc.nonBlocking = false
		if err == httpwire.ErrWouldBlock {
			s.park(c, lc)
			return
		}
		if err != nil {
			c.Close(false)
			s.srv.release(c)
			return
		}
		s.serveOwned(c, lc, false)
	case e.lingerUntil != 0:
		s.drainLingering(fd, e)
	}
}

// serveOwned answers the requests the connection has ready, then parks it or lets it go.
// started says nextRequest has already parsed the first one.
func (s *syncClass) serveOwned(c *httpConn, lc *loopConn, started bool) {
	released := false
	defer func() {
		if p := recover(); p != nil {
			if c.dispatching {
				panic(p) // the application side's failure is the worker's to handle
			}
			errorlog.Error("HTTP engine failure on a connection from %s: %v\n%s", c.Request().RemoteAddr, p, debug.Stack())
			if !released {
				lc.lingering = false
				lc.Close()
				s.srv.release(c)
			}
		}
	}()
	for {
		if !started {
			lc.nonBlocking = true
			err := c.nextRequest()
			lc.nonBlocking = false
			if err == httpwire.ErrWouldBlock {
				released = true
				if c.Buffered() == 0 {
					s.park(c, lc) // blank lines only
				} else {
					// Part of a head: its client may take its time, so a goroutine
					// waits for the rest.
					s.handBack(c, lc, false)
				}
				return
			}
			if err != nil {
				released = true
				s.srv.release(c)
				return
			}
		}
		started = false
		s.serving.Store(c.Request())
		c.dispatchRequest()
		s.serving.Store(nil)
		if c.FinishWouldWait() {
			// The app left some of the body unread and it is still on its way: a goroutine
			// waits for it and drains it.
			released = true
			s.handBack(c, lc, true)
			return
		}
		if !c.Finish() {
			released = true
			s.srv.release(c)
			return
		}
		if c.Buffered() == 0 {
			released = true
			s.park(c, lc)
			return
		}
	}
}

// park sends what the connection has buffered and leaves it in epoll until its next request
// or its keep-alive deadline.
func (s *syncClass) park(c *httpConn, lc *loopConn) {
	lc.nonBlockingWrites = true
	err := c.Flush()
	lc.nonBlockingWrites = false
	switch {
	case err == httpwire.ErrWouldBlock:
		s.handBack(c, lc, false) // a client that does not read its answers
		return
	case err != nil:
		c.Close(false)
		s.srv.release(c)
		return
	}
	c.GoIdle()
	s.entries[lc.fd].conn = c
	s.waiting++
}

// handBack gives the connection to a goroutine of its own, on Go's network poller, from where
// serve can adopt it again. afterDispatch says the request's response is still to be finished.
func (s *syncClass) handBack(c *httpConn, lc *loopConn, afterDispatch bool) {
	nc, err := lc.toNetConn()
	if err != nil {
		errorlog.Error("The sync worker cannot hand a connection back: %v", err)
		s.srv.release(c)
		return
	}
	s.srv.mu.Lock()
	c.SetNetConn(nc)
	s.srv.mu.Unlock()
	go s.srv.drive(c, func() bool {
		if afterDispatch && !c.Finish() {
			return false
		}
		return c.serve()
	})
}

// forget drops fd from the epoll set; its descriptor is about to be closed or handed back.
func (s *syncClass) forget(fd int) {
	if fd < len(s.entries) {
		e := &s.entries[fd]
		if e.conn != nil || e.lingerUntil != 0 {
			s.waiting--
		}
		*e = loopEntry{}
	}
	unix.EpollCtl(s.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

// linger keeps draining a closed connection whose client may still be sending, until it stops,
// lingerBudget bytes or the deadline, so that its unread bytes do not make the kernel reset the
// connection before the client has read the answer.
func (s *syncClass) linger(fd int, deadline int64) {
	if deadline == 0 {
		deadline = time.Now().Add(time.Second).UnixNano()
	}
	e := &s.entries[fd]
	if e.conn == nil && e.lingerUntil == 0 {
		s.waiting++
	}
	*e = loopEntry{lingerUntil: deadline, lingerLeft: lingerBudget}
}

func (s *syncClass) drainLingering(fd int, e *loopEntry) {
	if s.scratch == nil {
		s.scratch = make([]byte, 16<<10)
	}
	for e.lingerLeft > 0 {
		n, err := unix.Read(fd, s.scratch)
		if err == unix.EAGAIN {
			return
		}
		if err == unix.EINTR {
			continue
		}
		if n <= 0 || err != nil {
			break
		}
		e.lingerLeft -= n
	}
	s.forget(fd)
	unix.Close(fd)
}

// sweep closes the connections whose deadline has passed.
func (s *syncClass) sweep(now time.Time) {
	s.lastSweep = now
	ns := now.UnixNano()
	for fd := range s.entries {
		e := &s.entries[fd]
		switch {
		case e.conn != nil:
			if d := e.lc.readDeadline.Load(); d != 0 && d <= ns {
				c := e.conn
				c.Close(false)
				s.srv.release(c)
			}
		case e.lingerUntil != 0 && e.lingerUntil <= ns:
			s.forget(fd)
			unix.Close(fd)
		}
	}
}
