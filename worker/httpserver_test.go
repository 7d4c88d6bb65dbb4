package worker

import (
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// The engine's behaviour tests, served by the worker's HTTP server.
func TestHTTPEngine(t *testing.T) { wiretest.Run(t, suiteServer(false)) }

func TestHTTPShutdown(t *testing.T) {
	g := wiretest.NewGate(false)
	addr, srv := startServer(t, testLimits, g.App)
	idle := wiretest.Dial(t, addr)
	idle.Send("GET / HTTP/1.1\r\n\r\n")
	g.Proceed <- struct{}{}
	idle.Read(false)
	busy := wiretest.Dial(t, addr)
	busy.Send("GET / HTTP/1.1\r\n\r\n")
	wiretest.WaitFor(t, g.Entered) // first request
	wiretest.WaitFor(t, g.Entered) // the busy one

	srv.shutdown()
	idle.ExpectClosed()
	if srv.wait(time.Now().Add(100 * time.Millisecond)) {
		t.Fatal("wait reported all closed while a request runs")
	}
	g.Proceed <- struct{}{}
	if r := busy.Read(false); r.Code != 200 || r.Header("Connection") != "close" {
		t.Fatalf("busy connection: %q %v", r.Status, r.Headers)
	}
	busy.ExpectClosed()
	if !srv.wait(time.Now().Add(2 * time.Second)) {
		t.Fatal("connections remain after shutdown")
	}
}

// A request sent on an idle keep-alive connection just as a graceful stop begins is answered,
// with "Connection: close", rather than lost to a close the client could not see coming; an idle
// connection that sends nothing closes after shutdownGrace.
func TestHTTPShutdownAnswersARequestAlreadyOnItsWay(t *testing.T) {
	addr, srv := startServer(t, testLimits, wiretest.Echo)
	reused, silent := wiretest.Dial(t, addr), wiretest.Dial(t, addr)
	reused.Send("GET /first HTTP/1.1\r\n\r\n")
	if r := reused.Read(false); r.Code != 200 || r.Header("Connection") != "" {
		t.Fatalf("first response %q %v", r.Status, r.Headers)
	}
	silent.Send("GET /first HTTP/1.1\r\n\r\n")
	silent.Read(false)

	start := time.Now()
	srv.shutdown()
	reused.Send("GET /second HTTP/1.1\r\n\r\n")
	if r := reused.Read(false); r.BodyField("path") != "/second" || r.Header("Connection") != "close" {
		t.Fatalf("request after shutdown began: %q %v %q", r.Status, r.Headers, r.Body)
	}
	reused.ExpectClosed()
	silent.ExpectClosed()
	if waited := time.Since(start); waited < shutdownGrace/2 || waited > shutdownGrace+time.Second {
		t.Fatalf("idle connection closed after %v, want about %v", waited, shutdownGrace)
	}
	if !srv.wait(time.Now().Add(time.Second)) {
		t.Fatal("connections remain after shutdown")
	}
}

func TestHTTPAddresses(t *testing.T) {
	for _, network := range []string{"tcp4", "tcp6", "unix"} {
		address := map[string]string{"tcp4": "127.0.0.1:0", "tcp6": "[::1]:0", "unix": filepath.Join(t.TempDir(), "s")}[network]
		l, err := net.Listen(network, address)
		if err != nil {
			t.Logf("%s not available: %v", network, err)
			continue
		}
		srv := newHTTPServer(testLimits, "https", wiretest.Echo)
		go func() {
			if nc, err := l.Accept(); err == nil {
				srv.serveConn(nc)
			}
		}()
		nc, err := net.Dial(network, l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(nc, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
		c := wiretest.NewClient(t, nc)
		r := c.Read(false)
		nc.Close()
		l.Close()
		want := map[string]string{
			"tcp4": "127.0.0.1 " + portOf(nc.LocalAddr()) + "|127.0.0.1 " + portOf(l.Addr()) + " https",
			"tcp6": "::1 " + portOf(nc.LocalAddr()) + "|::1 " + portOf(l.Addr()) + " https",
			"unix": " |" + address + " 443 https",
		}[network]
		if got := r.BodyField("remote") + "|" + r.BodyField("server"); got != want {
			t.Errorf("%s: got %q, want %q", network, got, want)
		}
	}
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

var helloRequest = []byte("GET /hello HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")

func helloServer(b *testing.B) *wiretest.Client {
	status, body := []byte("200 OK"), []byte("Hello world!")
	header := wiretest.Fields("Content-Type", "text/plain", "Content-Length", "12")
	addr, _ := startServer(b, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader(status, 200, header)
		w.Write(body)
	})
	c := wiretest.Dial(b, addr)
	c.Conn.SetDeadline(time.Time{})
	return c
}

// helloResponseSize is the size of one answer of helloServer (the Date value has a fixed width).
var helloResponseSize = len("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nServer: gowsgi\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nHello world!")

// BenchmarkHTTPHello measures the engine per request with 16 requests pipelined per write.
func BenchmarkHTTPHello(b *testing.B) {
	c := helloServer(b)
	const depth = 16
	batch := []byte(strings.Repeat(string(helloRequest), depth))
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for sent := 0; sent < b.N; sent += depth {
			n := min(depth, b.N-sent)
			if _, err := c.Conn.Write(batch[:n*len(helloRequest)]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for want := b.N * helloResponseSize; want > 0; {
		n, err := c.Conn.Read(buf[:min(len(buf), want)])
		if err != nil {
			b.Fatal(err)
		}
		want -= n
	}
}

// BenchmarkHTTPHelloRoundTrip is one request per round trip, as a non-pipelining client sends.
func BenchmarkHTTPHelloRoundTrip(b *testing.B) {
	c := helloServer(b)
	buf := make([]byte, helloResponseSize)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := c.Conn.Write(helloRequest); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.Conn, buf); err != nil {
			b.Fatal(err)
		}
	}
}
