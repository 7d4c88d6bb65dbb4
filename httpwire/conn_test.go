package httpwire

import (
	"strings"
	"testing"
)

// cloggedConn takes only room more bytes, then returns ErrWouldBlock, as a socket in a
// non-blocking mode of its own does when its send buffer is full.
type cloggedConn struct {
	*scriptedConn
	room int
}

func (c *cloggedConn) Write(p []byte) (int, error) {
	n := min(len(p), c.room)
	c.room -= n
	c.output.Write(p[:n])
	if n < len(p) {
		return n, ErrWouldBlock
	}
	return n, nil
}

// A Flush that would block keeps what was not written for the next one, and does not count as
// a failed write: the response goes out whole once the connection takes it.
func TestFlushThatWouldBlockKeepsTheRest(t *testing.T) {
	sc := &scriptedConn{input: []byte("GET /a HTTP/1.1\r\n\r\n"), piece: 4096}
	nc := &cloggedConn{scriptedConn: sc, room: 10}
	c := new(Conn)
	c.Open(NewEngine(testLimits), nc, "http")
	if err := c.ReadRequest(); err != nil {
		t.Fatal(err)
	}
	_, w := c.Begin()
	w.WriteHeader([]byte("200 OK"), 200, nil)
	w.Write([]byte("hello"))
	if !c.Finish() {
		t.Fatal("a complete response did not keep the connection")
	}
	if err := c.Flush(); err != ErrWouldBlock || sc.output.Len() != 10 {
		t.Fatalf("first flush: %v, %d bytes out", err, sc.output.Len())
	}
	nc.room = 1 << 20
	if err := c.Flush(); err != nil {
		t.Fatalf("second flush: %v", err)
	}
	out := sc.output.String()
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\n5\r\nhello\r\n0\r\n\r\n") {
		t.Fatalf("sent %q", out)
	}
}
