package httpwire

import (
	"bytes"
	"io"
	"net"
	"time"
)

var testLimits = Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190, Keepalive: 10 * time.Second, Sendfile: true}

// scriptedConn is a net.Conn that delivers its input in small pieces and records the output.
type scriptedConn struct {
	input  []byte
	piece  int
	output bytes.Buffer
}

func (s *scriptedConn) Read(p []byte) (int, error) {
	if len(s.input) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), s.piece)], s.input)
	s.input = s.input[n:]
	return n, nil
}

func (s *scriptedConn) Write(p []byte) (int, error) { return s.output.Write(p) }
func (s *scriptedConn) Close() error                { return nil }
func (s *scriptedConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8000}
}
func (s *scriptedConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (s *scriptedConn) SetDeadline(time.Time) error      { return nil }
func (s *scriptedConn) SetReadDeadline(time.Time) error  { return nil }
func (s *scriptedConn) SetWriteDeadline(time.Time) error { return nil }

// openScripted opens a Conn of eng on input, arriving piece bytes at a time.
func openScripted(eng *Engine, input []byte, piece int) (*Conn, *scriptedConn) {
	sc := &scriptedConn{input: input, piece: piece}
	c := new(Conn)
	c.Open(eng, sc, "http")
	return c, sc
}

// serveConn serves nc with eng as the simplest server does: one request after another, each
// answered by app, until the connection ends; uwsgi reads uwsgi packets instead of HTTP heads.
func serveConn(eng *Engine, nc net.Conn, uwsgi bool, app func(*Request, ResponseWriter)) {
	var c Conn
	c.Open(eng, nc, "http")
	defer c.Reset()
	read := c.ReadRequest
	if uwsgi {
		read = c.ReadUwsgiRequest
	}
	for read() == nil {
		req, w := c.Begin()
		app(req, w)
		if !c.Finish() {
			return
		}
	}
}
