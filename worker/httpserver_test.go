package worker

import (
	"bufio"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

func TestHTTPPipelining(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody" +
		"POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nGET /4 HTTP/1.1\r\n\r\n")
	for _, want := range []string{"/1 ", "/2 body", "/3 ab", "/4 "} {
		r := c.read(false)
		if got := r.bodyField("path") + " " + r.bodyField("body"); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	c.send("GET /5 HTTP/1.1\r\n\r\n")
	if r := c.read(false); r.bodyField("path") != "/5" {
		t.Fatalf("keep-alive request: %q", r.body)
	}
}

// A response is not held back while the next pipelined request is still arriving.
func TestHTTPFlushBeforeWaiting(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	c.send("GET /a HTTP/1.1\r\n\r\nGET /b HT")
	if r := c.read(false); r.bodyField("path") != "/a" {
		t.Fatalf("%q", r.body)
	}
	c.send("TP/1.1\r\n\r\n")
	if r := c.read(false); r.bodyField("path") != "/b" {
		t.Fatalf("%q", r.body)
	}
}

func TestHTTPConnectionCloseRequested(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	r, c := roundTrip(t, addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n")
	if r.code != 200 || r.header("Connection") != "close" {
		t.Fatalf("%q %v", r.status, r.headers)
	}
	c.expectClosed()
}

func TestHTTPKeepaliveTimeout(t *testing.T) {
	lim := testLimits
	lim.Keepalive = 300 * time.Millisecond
	addr, _ := startServer(t, lim, echo)
	r, c := roundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if r.code != 200 || r.header("Connection") != "" {
		t.Fatalf("%q %v", r.status, r.headers)
	}
	start := time.Now()
	c.expectClosed()
	if waited := time.Since(start); waited < 200*time.Millisecond || waited > 2*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", waited)
	}
}

func TestHTTPKeepaliveOff(t *testing.T) {
	lim := testLimits
	lim.Keepalive = 0
	addr, _ := startServer(t, lim, echo)
	r, c := roundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if r.code != 200 || r.header("Connection") != "close" {
		t.Fatalf("%q %v", r.status, r.headers)
	}
	c.expectClosed()
}

func TestHTTPStalledClientsDoNotBlock(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	for range 50 {
		dial(t, addr).send("GET / HTTP/1.1\r\nHost: slow")
	}
	start := time.Now()
	if r, _ := roundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n"); r.code != 200 {
		t.Fatalf("%q", r.status)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("normal request took %v behind stalled clients", elapsed)
	}
}

func TestHTTPShutdown(t *testing.T) {
	g := newGate(false)
	addr, srv := startServer(t, testLimits, g.dispatch)
	idle := dial(t, addr)
	idle.send("GET / HTTP/1.1\r\n\r\n")
	g.proceed <- struct{}{}
	idle.read(false)
	busy := dial(t, addr)
	busy.send("GET / HTTP/1.1\r\n\r\n")
	waitFor(t, g.entered) // first request
	waitFor(t, g.entered) // the busy one

	srv.shutdown()
	idle.expectClosed()
	if srv.wait(time.Now().Add(100 * time.Millisecond)) {
		t.Fatal("wait reported all closed while a request runs")
	}
	g.proceed <- struct{}{}
	if r := busy.read(false); r.code != 200 || r.header("Connection") != "close" {
		t.Fatalf("busy connection: %q %v", r.status, r.headers)
	}
	busy.expectClosed()
	if !srv.wait(time.Now().Add(2 * time.Second)) {
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
		srv := newHTTPServer(testLimits, "https", echo)
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
		c := &testClient{t: t, nc: nc, br: bufio.NewReader(nc)}
		r := c.read(false)
		nc.Close()
		l.Close()
		want := map[string]string{
			"tcp4": "127.0.0.1 " + portOf(nc.LocalAddr()) + "|127.0.0.1 " + portOf(l.Addr()) + " https",
			"tcp6": "::1 " + portOf(nc.LocalAddr()) + "|::1 " + portOf(l.Addr()) + " https",
			"unix": " |" + address + " 443 https",
		}[network]
		if got := r.bodyField("remote") + "|" + r.bodyField("server"); got != want {
			t.Errorf("%s: got %q, want %q", network, got, want)
		}
	}
}

func portOf(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

var helloRequest = []byte("GET /hello HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")

func helloServer(b *testing.B) *testClient {
	status, body := []byte("200 OK"), []byte("Hello world!")
	header := fields("Content-Type", "text/plain", "Content-Length", "12")
	addr, _ := startServer(b, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader(status, 200, header)
		w.Write(body)
	})
	c := dial(b, addr)
	c.nc.SetDeadline(time.Time{})
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
			if _, err := c.nc.Write(batch[:n*len(helloRequest)]); err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for want := b.N * helloResponseSize; want > 0; {
		n, err := c.nc.Read(buf[:min(len(buf), want)])
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
		if _, err := c.nc.Write(helloRequest); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			b.Fatal(err)
		}
	}
}
