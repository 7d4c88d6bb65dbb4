package worker

import (
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/httpwire"
)

// loopConn is a connection the sync class's loop owns: a non-blocking socket that Go's network
// poller does not know. A socket registered with both would wake an idle Go thread for every
// request as well as the loop (measured: 5 µs more CPU per request).
//
// Outside non-blocking mode, reads and writes wait in poll(2) on the calling thread: the loop
// uses them only while the app runs (its body reads and writes), where the sync worker waits
// for its one client anyway.
type loopConn struct {
	fd            int // -1 once closed or handed back
	loop          *syncClass
	local, remote net.Addr
	// Deadlines in Unix nanoseconds, 0 for none. Atomic: a graceful stop sets the read
	// deadline of idle connections from another goroutine.
	readDeadline, writeDeadline atomic.Int64

	// nonBlocking makes reads return httpwire.ErrWouldBlock instead of waiting, and
	// nonBlockingWrites makes writes do so, with what they wrote: the loop goes on with other
	// connections.
	nonBlocking, nonBlockingWrites bool
	// lingering says the write side is shut: reads only drain what the client still sends,
	// and Close leaves the rest of the draining to the loop.
	lingering bool
	eof       bool
}

var _ net.Conn = (*loopConn)(nil)

func (lc *loopConn) Read(p []byte) (int, error) {
	if lc.fd < 0 {
		return 0, net.ErrClosed
	}
	for {
		n, err := unix.Read(lc.fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			lc.eof = true
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return 0, &net.OpError{Op: "read", Net: "tcp", Addr: lc.remote, Err: os.NewSyscallError("read", err)}
		case lc.nonBlocking || lc.lingering:
			return 0, httpwire.ErrWouldBlock
		}
		if err := lc.wait(unix.POLLIN, &lc.readDeadline); err != nil {
			return 0, err
		}
	}
}

func (lc *loopConn) Write(p []byte) (int, error) {
	if lc.fd < 0 {
		return 0, net.ErrClosed
	}
	written := 0
	for written < len(p) {
		n, err := unix.Write(lc.fd, p[written:])
		if n > 0 {
			written += n
		}
		switch {
		case err == nil, err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return written, &net.OpError{Op: "write", Net: "tcp", Addr: lc.remote, Err: os.NewSyscallError("write", err)}
		case lc.nonBlockingWrites:
			return written, httpwire.ErrWouldBlock
		}
		if err := lc.wait(unix.POLLOUT, &lc.writeDeadline); err != nil {
			return written, err
		}
	}
	return written, nil
}

// WriteVectors writes all of bufs with writev(2), as net.Buffers does for Go's own sockets; the
// engine uses it for large response bodies.
func (lc *loopConn) WriteVectors(bufs net.Buffers) error {
	for len(bufs) > 0 {
		n, err := unix.Writev(lc.fd, bufs)
		for n > 0 {
			k := min(n, len(bufs[0]))
			bufs[0] = bufs[0][k:]
			n -= k
			if len(bufs[0]) == 0 {
				bufs = bufs[1:]
			}
		}
		for len(bufs) > 0 && len(bufs[0]) == 0 {
			bufs = bufs[1:]
		}
		switch {
		case err == nil, err == unix.EINTR:
			continue
		case err != unix.EAGAIN:
			return &net.OpError{Op: "writev", Net: "tcp", Addr: lc.remote, Err: os.NewSyscallError("writev", err)}
		}
		if err := lc.wait(unix.POLLOUT, &lc.writeDeadline); err != nil {
			return err
		}
	}
	return nil
}

// ReadFrom sends a file with sendfile(2) when r is a limited *os.File, as Go's own TCP sockets
// do; anything else is copied.
func (lc *loopConn) ReadFrom(r io.Reader) (int64, error) {
	lr, ok := r.(*io.LimitedReader)
	var f *os.File
	if ok {
		f, ok = lr.R.(*os.File)
	}
	if !ok {
		return io.Copy(writerOnly{lc}, r)
	}
	raw, err := f.SyscallConn()
	if err != nil {
		return io.Copy(writerOnly{lc}, r)
	}
	var sent int64
	for lr.N > 0 {
		var n int
		var serr error
		raw.Control(func(in uintptr) {
			n, serr = unix.Sendfile(lc.fd, int(in), nil, int(min(lr.N, 1<<30)))
		})
		if n > 0 {
			sent += int64(n)
			lr.N -= int64(n)
		}
		switch {
		case serr == nil && n == 0:
			return sent, nil // end of file
		case serr == nil, serr == unix.EINTR:
			continue
		case serr != unix.EAGAIN:
			return sent, &net.OpError{Op: "sendfile", Net: "tcp", Addr: lc.remote, Err: os.NewSyscallError("sendfile", serr)}
		}
		if err := lc.wait(unix.POLLOUT, &lc.writeDeadline); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// writerOnly hides ReadFrom from io.Copy, which would otherwise call it again.
type writerOnly struct{ io.Writer }

// wait blocks until the socket is ready for events or the deadline passes.
func (lc *loopConn) wait(events int16, deadline *atomic.Int64) error {
	for {
		timeout := -1
		if d := deadline.Load(); d != 0 {
			left := time.Until(time.Unix(0, d))
			if left <= 0 {
				return os.ErrDeadlineExceeded
			}
			timeout = int((left + time.Millisecond - 1) / time.Millisecond)
		}
		fds := [1]unix.PollFd{{Fd: int32(lc.fd), Events: events}}
		n, err := unix.Poll(fds[:], timeout)
		if err != nil && err != unix.EINTR {
			return os.NewSyscallError("poll", err)
		}
		if n > 0 {
			return nil // ready, or failed: the next read or write says which
		}
	}
}

// CloseWrite shuts the write side; reads from here on only drain.
func (lc *loopConn) CloseWrite() error {
	if lc.fd < 0 {
		return net.ErrClosed
	}
	if err := unix.Shutdown(lc.fd, unix.SHUT_WR); err != nil {
		return os.NewSyscallError("shutdown", err)
	}
	lc.lingering = true
	return nil
}

// Close closes the socket, unless the client may still be sending after a CloseWrite: then the
// loop drains it until the read deadline (see syncClass.linger).
func (lc *loopConn) Close() error {
	if lc.fd < 0 {
		return net.ErrClosed
	}
	fd := lc.fd
	lc.fd = -1
	if lc.lingering && !lc.eof {
		lc.loop.linger(fd, lc.readDeadline.Load())
		return nil
	}
	lc.loop.forget(fd)
	return unix.Close(fd)
}

// toNetConn gives the socket back to Go's network poller, for a client the loop should not
// wait for (a request head that arrives in pieces, a body still on its way).
func (lc *loopConn) toNetConn() (net.Conn, error) {
	lc.loop.forget(lc.fd)
	f := os.NewFile(uintptr(lc.fd), "connection")
	lc.fd = -1
	defer f.Close()
	nc, err := net.FileConn(f)
	if err != nil {
		return nil, err
	}
	if d := lc.readDeadline.Load(); d != 0 {
		nc.SetReadDeadline(time.Unix(0, d))
	}
	return nc, nil
}

func (lc *loopConn) LocalAddr() net.Addr  { return lc.local }
func (lc *loopConn) RemoteAddr() net.Addr { return lc.remote }

func (lc *loopConn) SetDeadline(t time.Time) error {
	lc.SetReadDeadline(t)
	return lc.SetWriteDeadline(t)
}

func (lc *loopConn) SetReadDeadline(t time.Time) error {
	lc.readDeadline.Store(unixNano(t))
	return nil
}

func (lc *loopConn) SetWriteDeadline(t time.Time) error {
	lc.writeDeadline.Store(unixNano(t))
	return nil
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
