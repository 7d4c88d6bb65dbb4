package worker

import (
	"net"
	"testing"
	"time"

	"gowsgi/httpwire/wiretest"
)

// Every request arriving one byte at a time parses as it does in one piece.
func TestHTTPByteAtATime(t *testing.T) {
	requests := "\r\nPOST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n" +
		"GET /d HTTP/1.0\r\nConnection: keep-alive\r\nX:  y \r\n\r\n"
	want := []string{"/a hello", "/c abcde", "/d "}

	server, client := net.Pipe()
	srv := newHTTPServer(testLimits, "http", wiretest.Echo)
	go srv.serveConn(server)
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
