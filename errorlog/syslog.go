package errorlog

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// syslogQueue bounds the lines waiting to be sent; past it, lines are dropped rather than
	// making the process that logs wait for a slow or absent syslog daemon.
	syslogQueue = 1024
	// syslogTimeout bounds a connect and a write: only the sending goroutine waits for them.
	syslogTimeout = time.Second
	// syslogRetry is how long lines are dropped after a failure before connecting again.
	syslogRetry = time.Second
	// maxDatagram is the longest UDP payload; a longer message is cut rather than lost.
	maxDatagram = 65507
)

// Syslog sends log lines to a syslog daemon as gunicorn's Python SysLogHandler does, one message
// a line (a traceback stays in its line's message): "<PRI>TAG: [PID] MESSAGE\x00", PRI being the
// facility times 8 plus the severity, so that syslog filters written for gunicorn's lines match
// gowsgi's. Sending never holds up the caller: lines wait in a bounded queue for a goroutine of
// the Syslog's own, which drops them while the daemon cannot be reached.
type Syslog struct {
	networks []string // the socket types to try, in order
	address  string
	facility int
	head     string // "TAG: [PID] "
	queue    chan syslogItem

	// The sending goroutine's own.
	conn     net.Conn
	datagram bool
	retryAt  time.Time
	failing  bool
}

// syslogItem is one message to send, or with flushed set a request to say when those before
// it are sent.
type syslogItem struct {
	msg     []byte
	flushed chan struct{}
}

// NewSyslog starts a Syslog to addr as gunicorn's --log-syslog-to writes it: udp://HOST[:PORT],
// tcp://HOST[:PORT] (port 514 when not given) or unix://PATH, with #dgram or #stream to choose
// the socket type, else a datagram socket and a stream socket are tried in turn. It connects
// when the first line is sent.
func NewSyslog(addr string, facility int, tag string) (*Syslog, error) {
	networks, address, err := parseSyslogAddr(addr)
	if err != nil {
		return nil, err
	}
	s := &Syslog{networks: networks, address: address, facility: facility,
		head: tag + ": [" + strconv.Itoa(os.Getpid()) + "] ", queue: make(chan syslogItem, syslogQueue)}
	go s.run()
	syslogs.Lock()
	syslogs.all = append(syslogs.all, s)
	syslogs.Unlock()
	return s, nil
}

// SyslogTag is the tag gunicorn gives the lines of one of its logs ("error" or "access"):
// gunicorn.PREFIX.LOG, where PREFIX is --log-syslog-prefix, else the process name with its
// colons made dots.
func SyslogTag(prefix, processName, log string) string {
	if prefix == "" {
		prefix = strings.ReplaceAll(processName, ":", ".")
	}
	return "gunicorn." + prefix + "." + log
}

func parseSyslogAddr(addr string) (networks []string, address string, err error) {
	scheme, rest, _ := strings.Cut(addr, "://")
	switch scheme {
	case "unix":
		path, kind, _ := strings.Cut(rest, "#")
		switch kind {
		case "dgram":
			return []string{"unixgram"}, path, nil
		case "stream":
			return []string{"unix"}, path, nil
		}
		return []string{"unixgram", "unix"}, path, nil
	case "udp", "tcp":
		host, port := rest, "514"
		if strings.HasPrefix(rest, "[") {
			end := strings.Index(rest, "]")
			if end < 0 {
				return nil, "", fmt.Errorf("%q: no ] after the IPv6 address", addr)
			}
			host, rest = rest[1:end], rest[end+1:]
			if p, found := strings.CutPrefix(rest, ":"); found {
				port = p
			}
		} else if h, p, found := strings.Cut(rest, ":"); found {
			host, port = h, p
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, "", fmt.Errorf("%q is not a valid port number", port)
		}
		if host == "" {
			host = "localhost"
		}
		return []string{scheme}, net.JoinHostPort(host, port), nil
	}
	return nil, "", fmt.Errorf("invalid syslog address %q: expected udp://, tcp:// or unix://", addr)
}

// severities are syslog's numbers for the levels, as Python's SysLogHandler maps them.
var severities = map[Level]int{LevelDebug: 7, LevelInfo: 6, LevelWarning: 4, LevelError: 3, LevelCritical: 2}

// Send queues msg, of the given level, for the daemon; when the queue is full, msg is dropped.
func (s *Syslog) Send(level Level, msg []byte) {
	line := make([]byte, 0, len(s.head)+len(msg)+8)
	line = append(line, '<')
	line = strconv.AppendInt(line, int64(s.facility*8+severities[level]), 10)
	line = append(line, '>')
	line = append(line, s.head...)
	line = append(append(line, msg...), 0)
	select {
	case s.queue <- syslogItem{msg: line}:
	default:
	}
}

// flush returns once the lines queued before it are sent or dropped, or after timeout.
func (s *Syslog) flush(timeout time.Duration) {
	done := make(chan struct{})
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case s.queue <- syslogItem{flushed: done}:
	case <-deadline.C:
		return
	}
	select {
	case <-done:
	case <-deadline.C:
	}
}

func (s *Syslog) run() {
	for item := range s.queue {
		if item.flushed != nil {
			close(item.flushed)
			continue
		}
		s.send(item.msg)
	}
}

// send writes one message, connecting first if need be; on a failure it drops the connection,
// and the lines until syslogRetry has passed. The error log hears of a failure once, until
// a line gets through again.
func (s *Syslog) send(msg []byte) {
	if s.conn == nil {
		if time.Now().Before(s.retryAt) {
			return
		}
		if err := s.connect(); err != nil {
			s.failed(err)
			return
		}
	}
	if s.datagram && len(msg) > maxDatagram {
		msg = append(msg[:maxDatagram-1], 0)
	}
	s.conn.SetWriteDeadline(time.Now().Add(syslogTimeout))
	if _, err := s.conn.Write(msg); err != nil {
		s.conn.Close()
		s.conn = nil
		s.failed(err)
		return
	}
	s.failing = false
}

func (s *Syslog) connect() error {
	var err error
	for _, network := range s.networks {
		if s.conn, err = net.DialTimeout(network, s.address, syslogTimeout); err == nil {
			s.datagram = network != "tcp" && network != "unix"
			return nil
		}
	}
	return err
}

func (s *Syslog) failed(err error) {
	s.retryAt = time.Now().Add(syslogRetry)
	if !s.failing {
		s.failing = true
		// Not to syslog: the line would only join the ones that cannot be sent.
		emit(LevelWarning, fmt.Sprintf("Can't send log lines to syslog at %s, dropping them: %v", s.address, err), false)
	}
}

// syslogs are the process's Syslogs, for FlushSyslog, and the settings StartSyslog was given,
// for OpenSyslog.
var syslogs struct {
	sync.Mutex
	all          []*Syslog
	addr         string
	facility     int
	prefix, name string
}

// StartSyslog sends the error log's lines to the syslog daemon at addr as well, from now on,
// tagged as gunicorn tags them (see SyslogTag). OpenSyslog then opens the process's other logs
// to the same daemon.
func StartSyslog(addr string, facility int, prefix, processName string) error {
	s, err := NewSyslog(addr, facility, SyslogTag(prefix, processName, "error"))
	if err != nil {
		return err
	}
	syslogs.Lock()
	syslogs.addr, syslogs.facility, syslogs.prefix, syslogs.name = addr, facility, prefix, processName
	syslogs.Unlock()
	mu.Lock()
	errorSyslog = s
	mu.Unlock()
	return nil
}

// OpenSyslog is a Syslog for the process's log named log ("access"), to the daemon that
// StartSyslog chose; nil when the error log does not go to syslog.
func OpenSyslog(log string) *Syslog {
	syslogs.Lock()
	addr, facility, prefix, name := syslogs.addr, syslogs.facility, syslogs.prefix, syslogs.name
	syslogs.Unlock()
	if addr == "" {
		return nil
	}
	s, _ := NewSyslog(addr, facility, SyslogTag(prefix, name, log)) // StartSyslog parsed addr
	return s
}

// FlushSyslog waits until the lines given to the process's Syslogs are sent, for at most
// syslogTimeout each: the process calls it on its way out.
func FlushSyslog() {
	syslogs.Lock()
	all := syslogs.all
	syslogs.Unlock()
	for _, s := range all {
		s.flush(syslogTimeout)
	}
}
