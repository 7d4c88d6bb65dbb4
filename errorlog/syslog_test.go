package errorlog

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSyslogAddr(t *testing.T) {
	for _, c := range []struct{ addr, networks, address string }{
		{"udp://localhost:514", "udp", "localhost:514"},
		{"udp://syslog.example", "udp", "syslog.example:514"},
		{"udp://", "udp", "localhost:514"},
		{"tcp://10.0.0.1:1514", "tcp", "10.0.0.1:1514"},
		{"udp://[::1]:5514", "udp", "[::1]:5514"},
		{"udp://[::1]", "udp", "[::1]:514"},
		{"unix:///dev/log", "unixgram unix", "/dev/log"},
		{"unix:///run/log#dgram", "unixgram", "/run/log"},
		{"unix:///run/log#stream", "unix", "/run/log"},
	} {
		networks, address, err := parseSyslogAddr(c.addr)
		if err != nil || strings.Join(networks, " ") != c.networks || address != c.address {
			t.Errorf("parseSyslogAddr(%q) = %v %q %v, want %s %q", c.addr, networks, address, err, c.networks, c.address)
		}
	}
	for _, bad := range []string{"udp://host:port", "udp://host:0", "udp://[::1", "http://host"} {
		if _, _, err := parseSyslogAddr(bad); err == nil {
			t.Errorf("parseSyslogAddr(%q) accepted it", bad)
		}
	}
}

func TestSyslogTag(t *testing.T) {
	if got := SyslogTag("", "app:application", "error"); got != "gunicorn.app.application.error" {
		t.Errorf("tag without a prefix: %q", got)
	}
	if got := SyslogTag("shop", "app:application", "access"); got != "gunicorn.shop.access" {
		t.Errorf("tag with a prefix: %q", got)
	}
}

// receive reads one datagram from conn, or fails the test after a while.
func receive(t *testing.T, conn net.PacketConn) string {
	t.Helper()
	buf := make([]byte, 1<<17)
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, _, err := conn.ReadFrom(buf)
	if err != nil {
		t.Fatalf("no syslog datagram: %v", err)
	}
	return string(buf[:n])
}

func TestSyslogSendsGunicornsMessagesOverUDP(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	s, err := NewSyslog("udp://"+conn.LocalAddr().String(), 19, "gunicorn.app.error")
	if err != nil {
		t.Fatal(err)
	}
	s.Send(LevelInfo, []byte("Booting worker"))
	s.Send(LevelError, []byte("Traceback:\n  line"))
	pid := os.Getpid()
	for _, want := range []string{
		fmt.Sprintf("<158>gunicorn.app.error: [%d] Booting worker\x00", pid),
		fmt.Sprintf("<155>gunicorn.app.error: [%d] Traceback:\n  line\x00", pid),
	} {
		if got := receive(t, conn); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	s.Send(LevelDebug, bytes.Repeat([]byte("x"), 70000))
	if got := receive(t, conn); len(got) != maxDatagram || !strings.HasSuffix(got, "x\x00") {
		t.Errorf("a line too long for a datagram: %d bytes ending %q", len(got), got[len(got)-2:])
	}
}

func TestSyslogOverUnixSockets(t *testing.T) {
	dir := t.TempDir()
	dgram := filepath.Join(dir, "dgram")
	conn, err := net.ListenPacket("unixgram", dgram)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// No socket type: the datagram socket is tried first.
	s, _ := NewSyslog("unix://"+dgram, 1, "t")
	s.Send(LevelWarning, []byte("over a datagram"))
	if got := receive(t, conn); !strings.HasPrefix(got, "<12>t: [") || !strings.HasSuffix(got, "] over a datagram\x00") {
		t.Errorf("unix datagram: %q", got)
	}

	stream := filepath.Join(dir, "stream")
	l, err := net.Listen("unix", stream)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var all []byte
		buf := make([]byte, 4096)
		for bytes.Count(all, []byte{0}) < 2 {
			n, err := c.Read(buf)
			if err != nil {
				break
			}
			all = append(all, buf[:n]...)
		}
		got <- string(all)
	}()
	// Either type: a datagram socket cannot connect to a stream one, so the stream is used.
	s, _ = NewSyslog("unix://"+stream, 1, "t")
	s.Send(LevelInfo, []byte("one"))
	s.Send(LevelInfo, []byte("two"))
	if text := <-got; strings.Count(text, "<14>t: [") != 2 || !strings.HasSuffix(text, "] two\x00") {
		t.Errorf("unix stream: %q", text)
	}
}

func TestSyslogNeverHoldsUpTheCaller(t *testing.T) {
	var logged bytes.Buffer
	SetOutput(&logged)
	t.Cleanup(func() { SetOutput(os.Stderr) })
	// A daemon that takes the connection and never reads: writes stall once the kernel's
	// buffers are full.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	go func() {
		if c, err := l.Accept(); err == nil {
			<-release
			c.Close()
		}
	}()
	s, _ := NewSyslog("tcp://"+l.Addr().String(), 1, "t")
	line := bytes.Repeat([]byte("y"), 16<<10)
	start := time.Now()
	for range 4 * syslogQueue {
		s.Send(LevelInfo, line)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("%d lines to a stalled daemon took %v", 4*syslogQueue, took)
	}
	// The daemon goes away: what is queued fails fast, within this test.
	close(release)
	l.Close()
	s.flush(time.Minute)

	// Nothing listens: the lines are dropped, and the error log says so once.
	unused, _ := net.Listen("tcp", "127.0.0.1:0")
	unused.Close()
	s, _ = NewSyslog("tcp://"+unused.Addr().String(), 1, "t")
	s.Send(LevelInfo, []byte("lost"))
	s.Send(LevelInfo, []byte("lost too"))
	s.flush(5 * time.Second)
	mu.Lock()
	text := logged.String()
	mu.Unlock()
	if strings.Count(text, "Can't send log lines to syslog at "+unused.Addr().String()) != 1 {
		t.Errorf("the error log should report the failure once:\n%s", text)
	}
}

func TestErrorLogGoesToSyslog(t *testing.T) {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var local bytes.Buffer
	SetOutput(&local)
	t.Cleanup(func() {
		SetOutput(os.Stderr)
		mu.Lock()
		errorSyslog = nil
		mu.Unlock()
		syslogs.Lock()
		syslogs.addr = ""
		syslogs.Unlock()
	})
	if OpenSyslog("access") != nil {
		t.Fatal("OpenSyslog made a Syslog before StartSyslog")
	}
	if err := StartSyslog("udp://"+conn.LocalAddr().String(), 16, "", "app:app"); err != nil {
		t.Fatal(err)
	}
	Debug("not at the default level")
	Info("Booting worker with pid: %d", 42)
	if got := receive(t, conn); !strings.HasPrefix(got, "<134>gunicorn.app.app.error: [") ||
		!strings.HasSuffix(got, "] Booting worker with pid: 42\x00") {
		t.Errorf("error log line in syslog: %q", got)
	}
	mu.Lock()
	text := local.String()
	mu.Unlock()
	if !strings.Contains(text, "[INFO] Booting worker with pid: 42") {
		t.Errorf("the line should still be written locally: %q", text)
	}
	OpenSyslog("access").Send(LevelInfo, []byte(`127.0.0.1 - - "GET / HTTP/1.1" 200`))
	if got := receive(t, conn); !strings.HasPrefix(got, "<134>gunicorn.app.app.access: [") {
		t.Errorf("access line in syslog: %q", got)
	}
	FlushSyslog()
}
