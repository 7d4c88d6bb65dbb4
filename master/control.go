package master

import (
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/control"
	"gowsgi/errorlog"
)

const (
	// controlIdleTimeout is how long a client may stay silent between commands, as in gunicorn.
	controlIdleTimeout = 5 * time.Minute
	// controlWriteTimeout bounds writing an answer to a client that does not read it.
	controlWriteTimeout = 10 * time.Second
	// maxControlConnections bounds the clients served at once, so that a flood of connections
	// cannot take the descriptors the master needs to start workers.
	maxControlConnections = 32
	// A refused client has refusedReadTimeout to send its first request, of at most
	// refusedMessageLimit bytes, so that the refusal answers it under its own id.
	refusedReadTimeout  = 2 * time.Second
	refusedMessageLimit = 4096
	// controlCloseWait bounds how long closing the server waits for answers being written,
	// such as the one to the shutdown command that closes it.
	controlCloseWait = time.Second
)

// controlServer serves the control socket on goroutines of its own, but reads and changes
// nothing of the arbiter's: each command goes to the arbiter loop as a controlRequest, as a
// signal would, and the loop answers it. Malformed messages are answered here and never reach
// the loop.
type controlServer struct {
	path     string
	listener *net.UnixListener
	// file is the socket file as created: close removes the file only while it is that one.
	file     os.FileInfo
	requests chan<- controlRequest
	// slots holds a token for each connection being served.
	slots chan struct{}
	// mu guards done's closing and conns, so that no conversation starts waiting for a
	// request after close has woken the others.
	mu        sync.Mutex
	done      chan struct{}
	conns     map[*net.UnixConn]bool
	active    sync.WaitGroup
	closeOnce sync.Once
}

// controlRequest is a parsed command for the arbiter loop, which answers on reply.
type controlRequest struct {
	command control.Command
	reply   chan controlReply
}

// controlReply is the data of an answer (a value that marshals to a JSON object), or why the
// command failed.
type controlReply struct {
	data any
	err  error
}

// serveControl creates the control socket at path, owned by the master's user, with the
// permission bits mode, and starts serving it. A socket file that no server answers on any
// more is replaced; one that a server answers on is left alone (errSocketInUse).
func serveControl(path string, mode os.FileMode, requests chan<- controlRequest) (*controlServer, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	// No one else may connect before the mode is set; the arbiter's goroutine, which runs
	// this, is the only one that creates files.
	previous := unix.Umask(0o177)
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(previous)
	if err != nil {
		return nil, unwrapOpError(err)
	}
	listener.SetUnlinkOnClose(false)
	file, err := os.Lstat(path)
	if err == nil {
		err = os.Chmod(path, mode)
	}
	if err != nil {
		listener.Close()
		os.Remove(path)
		return nil, err
	}
	s := &controlServer{path: path, listener: listener, file: file, requests: requests,
		slots: make(chan struct{}, maxControlConnections), done: make(chan struct{}),
		conns: make(map[*net.UnixConn]bool)}
	go s.serve()
	return s, nil
}

func (s *controlServer) serve() {
	for {
		conn, err := s.listener.AcceptUnix()
		if err != nil {
			if s.closed() {
				return
			}
			// Out of descriptors, most likely: wait rather than spin.
			errorlog.Warning("Control socket: can't accept a connection: %v", unwrapOpError(err))
			time.Sleep(time.Second)
			continue
		}
		select {
		case s.slots <- struct{}{}:
		default:
			s.answer(conn, control.Failure(nil, "too many control connections; try again later"))
			conn.Close()
			continue
		}
		if !s.track(conn) {
			conn.Close()
			return
		}
		go func() {
			defer func() { <-s.slots }()
			defer s.untrack(conn)
			s.converse(conn)
		}()
	}
}

// converse serves one client: its user is checked, then its requests are answered in turn
// until it leaves, stays silent too long, or breaks the framing.
func (s *controlServer) converse(conn *net.UnixConn) {
	if uid, pid, allowed := peerAllowed(conn); !allowed {
		s.refuse(conn, uid, pid)
		return
	}
	for s.awaitRequest(conn) {
		payload, err := control.ReadMessage(conn, control.MaxMessageSize)
		var tooLarge *control.TooLargeError
		if errors.As(err, &tooLarge) {
			// The rest of the stream cannot be framed any more: answer and hang up.
			s.answer(conn, control.Failure(nil, err.Error()))
			return
		}
		if err != nil || !s.answer(conn, s.respond(payload)) {
			return
		}
	}
}

// respond is the answer to one request: an error for a request that cannot be read or
// parsed, else whatever the arbiter loop answers.
func (s *controlServer) respond(payload []byte) control.Response {
	id, words, err := control.DecodeRequest(payload)
	if err != nil {
		return control.Failure(id, err.Error())
	}
	command, err := control.Parse(words)
	if err != nil {
		return control.Failure(id, err.Error())
	}
	reply := make(chan controlReply, 1)
	select {
	case s.requests <- controlRequest{command: command, reply: reply}:
	case <-s.done:
		return control.Failure(id, "gowsgi is shutting down")
	}
	// The loop answers every request it takes before doing anything else.
	r := <-reply
	if r.err != nil {
		return control.Failure(id, r.err.Error())
	}
	response, err := control.OK(id, r.data)
	if err != nil {
		return control.Failure(id, "can't encode the answer: "+err.Error())
	}
	return response
}

// answer writes one response; false means the client is gone.
func (s *controlServer) answer(conn *net.UnixConn, response control.Response) bool {
	if err := conn.SetWriteDeadline(time.Now().Add(controlWriteTimeout)); err != nil {
		return false
	}
	return control.WriteMessage(conn, response) == nil
}

// refuse answers a client of another user with an error, under the id of its first request
// when it sends one soon enough, and logs who it was.
func (s *controlServer) refuse(conn *net.UnixConn, uid, pid int) {
	errorlog.Warning("Control socket: refused a connection from uid %d (pid %d): only uid %d and root may use it",
		uid, pid, os.Geteuid())
	var id json.RawMessage
	if conn.SetReadDeadline(time.Now().Add(refusedReadTimeout)) == nil {
		if payload, err := control.ReadMessage(conn, refusedMessageLimit); err == nil {
			id, _, _ = control.DecodeRequest(payload)
		}
	}
	s.answer(conn, control.Failure(id, "permission denied: only the user gowsgi runs as may use its control socket"))
}

// peerAllowed says whether the process at the other end runs as the master's user or as
// root, from the credentials the kernel recorded when it connected; uid and pid are -1 when
// they cannot be read.
func peerAllowed(conn *net.UnixConn) (uid, pid int, allowed bool) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return -1, -1, false
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return -1, -1, false
	}
	uid, pid = int(cred.Uid), int(cred.Pid)
	return uid, pid, uid == os.Geteuid() || uid == 0
}

// track registers a conversation so that close can wake it; false once the server is closed.
func (s *controlServer) track(conn *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed() {
		return false
	}
	s.conns[conn] = true
	s.active.Add(1)
	return true
}

func (s *controlServer) untrack(conn *net.UnixConn) {
	s.mu.Lock()
	delete(s.conns, conn)
	s.mu.Unlock()
	conn.Close()
	s.active.Done()
}

// awaitRequest sets the idle deadline for the next request; false once the server is closed.
func (s *controlServer) awaitRequest(conn *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.closed() && conn.SetReadDeadline(time.Now().Add(controlIdleTimeout)) == nil
}

func (s *controlServer) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// close stops accepting, wakes the clients waiting between commands, lets answers being
// written finish (for a while), and removes the socket file unless it is no longer this
// server's. It may be called more than once, and on a nil server.
func (s *controlServer) close() {
	if s == nil {
		return
	}
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.listener.Close()
		for conn := range s.conns {
			_ = conn.SetReadDeadline(time.Now())
		}
		s.mu.Unlock()
		finished := make(chan struct{})
		go func() {
			s.active.Wait()
			close(finished)
		}()
		select {
		case <-finished:
		case <-time.After(controlCloseWait):
		}
		if info, err := os.Lstat(s.path); err == nil && os.SameFile(info, s.file) {
			os.Remove(s.path)
		}
	})
}
