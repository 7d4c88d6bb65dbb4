package httpwire_test

import (
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// serve is the engine alone as the behaviour tests start it: a goroutine per connection that
// serves one request after another, until the test ends and closes what is left.
func serve(t testing.TB, lim httpwire.Limits, app wiretest.App) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eng := httpwire.NewEngine(lim)
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	go func() {
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			open[nc] = true
			mu.Unlock()
			go func() {
				httpwire.ServeConn(eng, nc, false, app)
				mu.Lock()
				delete(open, nc)
				mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for nc := range open {
			nc.Close()
		}
	})
	return l.Addr().String()
}

func TestEngine(t *testing.T) { wiretest.Run(t, serve) }

func BenchmarkHello(b *testing.B)          { wiretest.BenchmarkHello(b, serve) }
func BenchmarkHelloRoundTrip(b *testing.B) { wiretest.BenchmarkHelloRoundTrip(b, serve) }

// Every request arriving one byte at a time parses as it does in one piece.
func TestByteAtATime(t *testing.T) {
	requests := "\r\nPOST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n" +
		"GET /d HTTP/1.0\r\nConnection: keep-alive\r\nX:  y \r\n\r\n"
	want := []string{"/a hello", "/c abcde", "/d "}

	server, client := net.Pipe()
	go httpwire.ServeConn(httpwire.NewEngine(wiretest.DefaultLimits()), server, false, wiretest.Echo)
	defer client.Close()
	go func() {
		for i := range len(requests) {
			client.Write([]byte{requests[i]})
		}
	}()
	c := wiretest.NewClient(t, client)
	client.SetDeadline(time.Now().Add(10 * time.Second))
	for _, w := range want {
		r := c.Read(false)
		if got := r.BodyField("path") + " " + r.BodyField("body"); got != w {
			t.Errorf("got %q, want %q (%q)", got, w, r.Body)
		}
	}
}

// FuzzHTTPConn feeds arbitrary bytes through the whole engine: it must neither panic nor hang,
// and whatever it writes is HTTP responses.
func FuzzHTTPConn(f *testing.F) {
	for _, m := range wiretest.MalformedRequests {
		f.Add([]byte(m.Raw), uint8(3))
	}
	f.Add([]byte("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"+
		"3;x\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), uint8(1))
	f.Add([]byte("HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"), uint8(200))
	lim := wiretest.DefaultLimits()
	lim.RequestLine, lim.Fields, lim.FieldSize = 200, 10, 100
	eng := httpwire.NewEngine(lim)
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		out := string(httpwire.ServeScripted(eng, input, int(piece%64)+1, false, wiretest.Echo))
		if len(out) > 0 && !strings.HasPrefix(out, "HTTP/1.1 ") {
			t.Fatalf("output does not start with a status line: %q", out[:min(len(out), 80)])
		}
	})
}
