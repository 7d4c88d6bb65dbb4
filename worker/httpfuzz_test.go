package worker

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"gowsgi/httpwire/wiretest"
)

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

// FuzzHTTPConn feeds arbitrary bytes through the whole engine: it must neither panic nor hang,
// and whatever it writes is HTTP responses.
func FuzzHTTPConn(f *testing.F) {
	for _, m := range wiretest.MalformedRequests {
		f.Add([]byte(m.Raw), uint8(3))
	}
	f.Add([]byte("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"+
		"3;x\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), uint8(1))
	f.Add([]byte("HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n"), uint8(200))
	lim := testLimits
	lim.RequestLine, lim.Fields, lim.FieldSize = 200, 10, 100
	srv := newHTTPServer(lim, "http", wiretest.Echo)
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		conn := &scriptedConn{input: input, piece: int(piece%64) + 1}
		c := srv.open(conn)
		c.serve()
		srv.release(c)
		if out := conn.output.Bytes(); len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
			t.Fatalf("output does not start with a status line: %q", out[:min(len(out), 80)])
		}
	})
}
