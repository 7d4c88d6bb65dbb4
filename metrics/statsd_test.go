package metrics

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"gowsgi/errorlog"
)

func TestStatsdPrefixFollowsGunicorn(t *testing.T) {
	for prefix, want := range map[string]string{"": "", "app": "app.", "app.": "app.", "app...": "app.",
		"my.app": "my.app.", "a": "a", "a.": "a.", "a..": "a.."} {
		if got := statsdPrefix(prefix); got != want {
			t.Errorf("%q: %q, want %q", prefix, got, want)
		}
	}
}

func TestStatsdLines(t *testing.T) {
	plain, tagged := statsdFormat{prefix: "app."}, statsdFormat{prefix: "app.", tags: "env:prod,team:web"}
	for _, c := range []struct{ got, want string }{
		{string(plain.counter(nil, "gunicorn.requests", 3)), "app.gunicorn.requests:3|c|@1.0"},
		{string(plain.timer(nil, "gunicorn.request.duration", 1500)), "app.gunicorn.request.duration:1.5|ms"},
		{string(plain.gauge(nil, "gunicorn.workers", 4)), "app.gunicorn.workers:4|g"},
		{string(plain.histogram(nil, "gunicorn.backlog", 0)), "app.gunicorn.backlog:0|h"},
		{string(tagged.counter(nil, "gunicorn.log.error", 1)), "app.gunicorn.log.error:1|c|@1.0|#env:prod,team:web"},
		{string(tagged.timer(nil, "gunicorn.request.duration", 12)), "app.gunicorn.request.duration:0.012|ms|#env:prod,team:web"},
	} {
		if c.got != c.want {
			t.Errorf("%q, want %q", c.got, c.want)
		}
	}
}

// receive reads datagrams until none comes for a while.
func receive(t *testing.T, conn net.PacketConn) []string {
	t.Helper()
	var packets []string
	buf := make([]byte, 65536)
	for {
		conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			return packets
		}
		packets = append(packets, string(buf[:n]))
	}
}

func TestTheSenderSendsWhatGrewAndEveryDurationInPackets(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	b, table := newBoard(t, true)
	r, _ := startWorker(t, b, table)
	for i := range 300 {
		r.Begin()
		r.End([]byte("GET"), 200+i%2*304, time.Duration(i)*time.Millisecond, 0)
	}
	r.CountLine(errorlog.ErrorLine)
	b.SetWorkers(2)
	b.SetBacklog(4)
	s := &statsdSender{options: Statsd{Network: "udp", Address: conn.LocalAddr().String(), Backlog: true},
		format: statsdFormat{prefix: "p."}, lastWorkers: -1}
	defer s.close()
	s.flush(b, time.Now())
	packets := receive(t, conn)
	var lines []string
	for _, p := range packets {
		if len(p) > localPacket {
			t.Errorf("a datagram of %d bytes", len(p))
		}
		lines = append(lines, strings.Split(p, "\n")...)
	}
	if len(packets) < 2 {
		t.Errorf("%d lines in %d datagrams: they should not fit in one", len(lines), len(packets))
	}
	for _, want := range []string{"p.gunicorn.requests:300|c|@1.0", "p.gunicorn.request.status.200:150|c|@1.0",
		"p.gunicorn.request.status.504:150|c|@1.0", "p.gunicorn.log.error:1|c|@1.0", "p.gunicorn.workers:2|g",
		"p.gunicorn.backlog:4|h", "p.gunicorn.request.duration:0|ms", "p.gunicorn.request.duration:99|ms"} {
		if !slices.Contains(lines, want) {
			t.Errorf("no line %q in %q", want, lines)
		}
	}
	timers := 0
	for _, line := range lines {
		if strings.HasPrefix(line, "p.gunicorn.request.duration:") {
			timers++
		}
	}
	if timers != 300 {
		t.Errorf("%d durations sent, want one for each of the 300 requests", timers)
	}

	// The next flush sends only what changed: one request, and no gauge that stayed.
	r.Begin()
	r.End([]byte("GET"), 200, time.Millisecond, 0)
	s.flush(b, time.Now())
	got := receive(t, conn)
	want := []string{"p.gunicorn.requests:1|c|@1.0\np.gunicorn.request.status.200:1|c|@1.0\np.gunicorn.request.duration:1|ms"}
	if !slices.Equal(got, want) {
		t.Errorf("second flush %q, want %q", got, want)
	}
}

func TestDatagramsFitTheWayToTheServer(t *testing.T) {
	for _, c := range []struct {
		server net.Addr
		want   int
	}{
		{&net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8125}, localPacket},
		{&net.UDPAddr{IP: net.IPv6loopback, Port: 8125}, localPacket},
		{&net.UnixAddr{Name: "/run/statsd.sock", Net: "unixgram"}, localPacket},
		{&net.UDPAddr{IP: net.IPv4(10, 1, 2, 3), Port: 8125}, udpPacket},
	} {
		if got := packetLimit(c.server); got != c.want {
			t.Errorf("%s: %d, want %d", c.server, got, c.want)
		}
	}
}

func TestAnUnreachableStatsdServerCostsNothingButTheMetrics(t *testing.T) {
	b, table := newBoard(t, true)
	r, _ := startWorker(t, b, table)
	r.Begin()
	r.End([]byte("GET"), 200, time.Millisecond, 0)
	s := &statsdSender{options: Statsd{Network: "unixgram", Address: t.TempDir() + "/absent.sock"},
		lastWorkers: -1}
	s.flush(b, time.Now())
	s.flush(b, time.Now())
	if s.conn != nil || len(s.packet) != 0 {
		t.Fatal("a connection or a packet kept for a server that is not there")
	}
}
