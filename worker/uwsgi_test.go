package worker

import (
	"bytes"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"gowsgi/allowlist"
	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// startUwsgiServer serves dispatch over uwsgi on a new socket of network ("tcp" or "unix") for
// peers in allow, through the sync class's loop when loop is set.
func startUwsgiServer(t *testing.T, network, allow string, loop bool, dispatch dispatchFunc) string {
	t.Helper()
	address := "127.0.0.1:0"
	if network == "unix" {
		address = filepath.Join(t.TempDir(), "uwsgi.sock")
	}
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(testLimits, "http", dispatch)
	srv.uwsgi = testUwsgiPolicy(t, allow)
	if loop {
		startSyncLoop(t, srv)
	}
	serveOn(t, l, srv)
	return l.Addr().String()
}

func testUwsgiPolicy(t testing.TB, allow string) *uwsgiPolicy {
	list, err := allowlist.Parse(allow)
	if err != nil {
		t.Fatal(err)
	}
	return &uwsgiPolicy{allow: list}
}

func dialUnix(t *testing.T, path string) *wiretest.Client {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return wiretest.NewClient(t, nc)
}

func TestUwsgiRequestAndAnswer(t *testing.T) {
	for _, loop := range []bool{false, true} {
		addr := startUwsgiServer(t, "tcp", "127.0.0.1", loop, wiretest.Echo)
		c := wiretest.Dial(t, addr)
		c.Send(string(wiretest.NginxPost) + "hello")
		r := c.Read(false)
		if r.Code != 200 || r.Header("Connection") != "close" {
			t.Fatalf("loop %v: got %d %q", loop, r.Code, r.Headers)
		}
		for key, want := range map[string]string{
			"method": "POST", "uri": "/p%25q?x=1", "path": "/p%25q", "query": "x=1", "proto": "HTTP/1.1",
			"length": "5", "remote": "203.0.113.9 40123", "server": "example.com 443 https", "body": "hello",
		} {
			if got := r.BodyField(key); got != want {
				t.Errorf("loop %v: %s=%q, want %q", loop, key, got, want)
			}
		}
		c.ExpectClosed()
	}
}

// Without the vars a proxy adds, the connection's own addresses and gunicorn's defaults stand.
func TestUwsgiMinimalPacket(t *testing.T) {
	addr := startUwsgiServer(t, "tcp", "127.0.0.1", false, wiretest.Echo)
	c := wiretest.Dial(t, addr)
	c.Send(string(wiretest.UwsgiPacket()))
	r := c.Read(false)
	for key, want := range map[string]string{
		"method": "GET", "uri": "/", "path": "/", "query": "", "proto": "HTTP/1.1", "length": "0",
		"remote": "127.0.0.1 " + portOf(c.Conn.LocalAddr()), "server": "127.0.0.1 " + portOf(c.Conn.RemoteAddr()) + " http",
	} {
		if got := r.BodyField(key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
}

// An answer without Content-Length is not chunked: the end of the connection delimits it.
func TestUwsgiStreamedAnswer(t *testing.T) {
	for _, loop := range []bool{false, true} {
		addr := startUwsgiServer(t, "tcp", "127.0.0.1", loop, func(req *httpwire.Request, w httpwire.ResponseWriter) {
			w.WriteHeader([]byte("200 OK"), 200, nil)
			for range 100 {
				w.Write(bytes.Repeat([]byte("x"), 10000))
				w.Flush()
			}
		})
		c := wiretest.Dial(t, addr)
		c.Send(string(wiretest.UwsgiPacket("REQUEST_METHOD", "GET")))
		r := c.Read(false)
		if r.Chunked || r.Header("Transfer-Encoding") != "" || len(r.Body) != 1000000 {
			t.Errorf("loop %v: chunked %v, %d bytes, headers %q", loop, r.Chunked, len(r.Body), r.Headers)
		}
	}
}

func TestUwsgiPeerNotAllowed(t *testing.T) {
	var served atomic.Int32
	count := func(req *httpwire.Request, w httpwire.ResponseWriter) {
		served.Add(1)
		wiretest.Echo(req, w)
	}
	tcp := startUwsgiServer(t, "tcp", "10.0.0.1", false, count)
	c := wiretest.Dial(t, tcp)
	c.SendAsync(string(wiretest.UwsgiPacket("REQUEST_METHOD", "GET")))
	c.ExpectClosed()
	if served.Load() != 0 {
		t.Error("a refused peer's request was served")
	}
	// A unix socket has no peer address: it is always allowed.
	unix := startUwsgiServer(t, "unix", "10.0.0.1", false, count)
	c = dialUnix(t, unix)
	c.Send(string(wiretest.UwsgiPacket("REQUEST_METHOD", "GET")))
	if r := c.Read(false); r.Code != 200 || served.Load() != 1 {
		t.Errorf("unix socket peer: %d, %d served", r.Code, served.Load())
	}
}

// A server goes on serving after packets whose framing is broken, each of which closes its own
// connection unanswered.
func TestUwsgiServesOnAfterMalformedPackets(t *testing.T) {
	addr := startUwsgiServer(t, "tcp", "127.0.0.1", false, wiretest.Echo)
	for name, packet := range wiretest.MalformedUwsgi {
		c := wiretest.Dial(t, addr)
		c.SendAsync(string(packet))
		if name == "vars cut short" || name == "header cut short" || name == "datasize over the vars" {
			c.Conn.(*net.TCPConn).CloseWrite()
		}
		c.ExpectClosed()
	}
	c := wiretest.Dial(t, addr)
	c.Send(string(wiretest.UwsgiPacket("REQUEST_METHOD", "GET")))
	if r := c.Read(false); r.Code != 200 {
		t.Errorf("after malformed packets: %d", r.Code)
	}
}
