package wiretest

import (
	"io"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

var helloRequest = []byte("GET /hello HTTP/1.1\r\nHost: localhost:8000\r\nUser-Agent: bench\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n")

// helloResponseSize is the size of one answer of helloServer (the Date value has a fixed width).
var helloResponseSize = len("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nServer: gowsgi\r\n" +
	"Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n\r\nHello world!")

// helloServer starts a server that answers "Hello world!" and connects to it.
func helloServer(b *testing.B, serve Server) *Client {
	status, body := []byte("200 OK"), []byte("Hello world!")
	header := Fields("Content-Type", "text/plain", "Content-Length", "12")
	addr := serve(b, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader(status, 200, header)
		w.Write(body)
	})
	c := Dial(b, addr)
	c.Conn.SetDeadline(time.Time{})
	return c
}

// BenchmarkHello measures a server per request, with 16 keep-alive requests pipelined per
// write. Its allocations per request are the engine's and the server's: the engine's own
// should stay at none.
func BenchmarkHello(b *testing.B, serve Server) {
	c := helloServer(b, serve)
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

// BenchmarkHelloRoundTrip is BenchmarkHello with one request per round trip, as a client that
// does not pipeline sends them.
func BenchmarkHelloRoundTrip(b *testing.B, serve Server) {
	c := helloServer(b, serve)
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
