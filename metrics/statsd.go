package metrics

import (
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
)

const (
	// statsdInterval is how often the master sends what changed. Workers never send: one
	// datagram per request from the worker cost 30% of a hello-world app's requests per
	// second, where the master's batches cost it nothing measurable.
	statsdInterval = 100 * time.Millisecond
	// Lines are packed into datagrams of at most udpPacket bytes, which fit a common
	// network's MTU, as statsd servers expect; or localPacket for a server on this machine
	// (a unix socket or a loopback address), where no network splits them, as DogStatsD's
	// own clients size them for unix sockets. A datagram costs about the same whatever its
	// size (measured on loopback: 12 µs for 1432 bytes or 8192), and the master sends one
	// line per request: bigger datagrams make each line cheaper.
	udpPacket   = 1432
	localPacket = 8192
	// gaugeRefresh is how often gunicorn.workers is sent again when it has not changed, so a
	// statsd server that restarted learns it; backlogInterval how often gunicorn.backlog is.
	gaugeRefresh    = 10 * time.Second
	backlogInterval = time.Second
	// redialInterval spaces attempts to reach a statsd server that could not be reached.
	redialInterval = time.Second
)

// Statsd says where and how to send statsd metrics.
type Statsd struct {
	// Network is "udp" or "unixgram", Address a HOST:PORT or a socket path.
	Network, Address string
	// Prefix is --statsd-prefix as given, Tags --dogstatsd-tags.
	Prefix, Tags string
	// Backlog sends gunicorn.backlog (--enable-backlog-metric).
	Backlog bool
}

// SendStatsd sends the board's metrics under gunicorn's names every statsdInterval, until stop
// is closed, then once more. Run it on a goroutine of its own: nothing it does waits for a
// request, nor a request for it.
func (b *Board) SendStatsd(options Statsd, stop <-chan struct{}) {
	s := &statsdSender{options: options, format: statsdFormat{prefix: statsdPrefix(options.Prefix),
		tags: options.Tags}, lastWorkers: -1}
	tick := time.NewTicker(statsdInterval)
	defer tick.Stop()
	defer s.close()
	for {
		select {
		case <-stop:
			s.flush(b, time.Now())
			return
		case now := <-tick.C:
			s.flush(b, now)
		}
	}
}

// statsdPrefix is the prefix as gunicorn applies it: trailing dots become one, and a prefix of
// one character, which gunicorn's pattern does not match, is used as it is.
func statsdPrefix(prefix string) string {
	if trimmed := strings.TrimRight(prefix, "."); len(trimmed) >= 2 {
		return trimmed + "."
	}
	return prefix
}

// statsdFormat writes statsd lines as gunicorn's statsd logger writes them.
type statsdFormat struct{ prefix, tags string }

func (f statsdFormat) counter(to []byte, name string, n uint64) []byte {
	return f.end(strconv.AppendUint(f.start(to, name), n, 10), "|c|@1.0")
}

// timer writes a duration given in microseconds as milliseconds, with no trailing zeros in
// the fraction; in integers, for the master writes one such line per request.
func (f statsdFormat) timer(to []byte, name string, us uint32) []byte {
	to = strconv.AppendUint(f.start(to, name), uint64(us/1000), 10)
	if fraction := us % 1000; fraction != 0 {
		digits := []byte{'.', byte('0' + fraction/100), byte('0' + fraction/10%10), byte('0' + fraction%10)}
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		to = append(to, digits...)
	}
	return f.end(to, "|ms")
}

func (f statsdFormat) gauge(to []byte, name string, n int64) []byte {
	return f.end(strconv.AppendInt(f.start(to, name), n, 10), "|g")
}

func (f statsdFormat) histogram(to []byte, name string, n int64) []byte {
	return f.end(strconv.AppendInt(f.start(to, name), n, 10), "|h")
}

func (f statsdFormat) start(to []byte, name string) []byte {
	return append(append(append(to, f.prefix...), name...), ':')
}

// end adds the type and the DogStatsD tags.
func (f statsdFormat) end(to []byte, kind string) []byte {
	to = append(to, kind...)
	if f.tags != "" {
		to = append(append(to, "|#"...), f.tags...)
	}
	return to
}

var statsdLogNames = [errorlog.LineKinds]string{"gunicorn.log.warning", "gunicorn.log.error",
	"gunicorn.log.exception", "gunicorn.log.critical"}

// statsdSender is SendStatsd's state: the socket, and what was sent last.
type statsdSender struct {
	options Statsd
	format  statsdFormat
	conn    syscall.RawConn
	closer  net.Conn
	// packetLimit is the largest datagram for the server connected to.
	packetLimit int
	dialedAt    time.Time
	// warned is set once the error log has said the server cannot be reached.
	warned bool
	last   Totals
	// lastWorkers is the gunicorn.workers last sent, at workersAt; backlogAt is when
	// gunicorn.backlog was.
	lastWorkers          int64
	workersAt, backlogAt time.Time
	samples              []uint32
	line, packet         []byte
}

// flush sends the counts that grew since the last flush, every request duration kept since,
// and the gauges when due; while the server cannot be reached, they are dropped.
func (s *statsdSender) flush(b *Board, now time.Time) {
	var t Totals
	b.Read(&t)
	s.samples = b.takeSamples(s.samples[:0])
	if s.conn != nil || s.dial() {
		s.write(&t, now)
	}
	s.last = t
}

func (s *statsdSender) write(t *Totals, now time.Time) {
	f := s.format
	if n := t.TotalRequests() - s.last.TotalRequests(); n > 0 {
		s.add(f.counter(s.line[:0], "gunicorn.requests", n))
	}
	for code, count := range t.Statuses {
		if n := count - s.last.Statuses[code]; n > 0 {
			s.add(f.counter(s.line[:0], "gunicorn.request.status."+strconv.Itoa(code), n))
		}
	}
	for kind, count := range t.LogLines {
		if n := count - s.last.LogLines[kind]; n > 0 {
			s.add(f.counter(s.line[:0], statsdLogNames[kind], n))
		}
	}
	for _, us := range s.samples {
		s.add(f.timer(s.line[:0], "gunicorn.request.duration", us))
	}
	if t.Workers != s.lastWorkers || now.Sub(s.workersAt) >= gaugeRefresh {
		s.add(f.gauge(s.line[:0], "gunicorn.workers", t.Workers))
		s.lastWorkers, s.workersAt = t.Workers, now
	}
	if s.options.Backlog && t.Backlog >= 0 && now.Sub(s.backlogAt) >= backlogInterval {
		s.add(f.histogram(s.line[:0], "gunicorn.backlog", t.Backlog))
		s.backlogAt = now
	}
	s.send()
}

// add puts a line in the packet, sending the packet first when the line would not fit.
func (s *statsdSender) add(line []byte) {
	s.line = line
	if len(s.packet) > 0 && len(s.packet)+1+len(line) > s.packetLimit {
		s.send()
	}
	if len(s.packet) > 0 {
		s.packet = append(s.packet, '\n')
	}
	s.packet = append(s.packet, line...)
}

// send sends the packet without waiting: a server that is slow, full or gone loses it.
func (s *statsdSender) send() {
	if len(s.packet) == 0 {
		return
	}
	defer func() { s.packet = s.packet[:0] }()
	_ = s.conn.Write(func(fd uintptr) bool {
		_, _ = unix.SendmsgN(int(fd), s.packet, nil, nil, unix.MSG_DONTWAIT)
		return true
	})
}

func (s *statsdSender) dial() bool {
	if time.Since(s.dialedAt) < redialInterval {
		return false
	}
	s.dialedAt = time.Now()
	conn, err := net.Dial(s.options.Network, s.options.Address)
	if err == nil {
		s.conn, err = conn.(syscall.Conn).SyscallConn()
		s.closer = conn
		s.packetLimit = packetLimit(conn.RemoteAddr())
	}
	if err != nil {
		if !s.warned {
			errorlog.Warning("Can't reach statsd at %s: %v; its metrics are dropped until it can be", s.options.Address, err)
			s.warned = true
		}
		if s.closer != nil {
			s.closer.Close()
		}
		s.conn, s.closer = nil, nil
		return false
	}
	return true
}

func packetLimit(server net.Addr) int {
	if udp, isUDP := server.(*net.UDPAddr); isUDP && !udp.IP.IsLoopback() {
		return udpPacket
	}
	return localPacket
}

func (s *statsdSender) close() {
	if s.closer != nil {
		s.closer.Close()
	}
}
