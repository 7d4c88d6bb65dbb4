package worker

import (
	"io"
	"net"
	"path/filepath"
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
// connection that sends nothing closes after httpwire.DrainGrace.
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
	if waited := time.Since(start); waited < httpwire.DrainGrace/2 || waited > httpwire.DrainGrace+time.Second {
		t.Fatalf("idle connection closed after %v, want about %v", waited, httpwire.DrainGrace)
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

// The engine's benchmarks, through the worker's HTTP server.
func BenchmarkHTTPHello(b *testing.B) { wiretest.BenchmarkHello(b, suiteServer(false)) }
func BenchmarkHTTPHelloRoundTrip(b *testing.B) {
	wiretest.BenchmarkHelloRoundTrip(b, suiteServer(false))
}
