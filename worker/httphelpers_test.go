package worker

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

var testLimits = limits{Limits: httpwire.Limits{RequestLine: 4094, Fields: 100, FieldSize: 8190, Keepalive: 10 * time.Second, Sendfile: true}}

// startServer serves dispatch on a loopback port until the test ends.
func startServer(t testing.TB, lim limits, dispatch func(*httpwire.Request, httpwire.ResponseWriter)) (string, *httpServer) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(lim, "http", dispatch)
	if viaSyncLoop {
		startSyncLoop(t, srv)
	}
	serveOn(t, l, srv)
	return l.Addr().String(), srv
}

// serveOn serves the connections l accepts with srv until the test ends, then checks that srv
// shuts down.
func serveOn(t testing.TB, l net.Listener, srv *httpServer) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go srv.serveConn(c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		srv.shutdown()
		if !srv.wait(time.Now().Add(5 * time.Second)) {
			t.Error("connections still open 5 s after shutdown")
		}
	})
}

// echo answers with what the engine parsed, so tests can check the parse from the client side.
func echo(req *httpwire.Request, w httpwire.ResponseWriter) {
	var b bytes.Buffer
	b.WriteString("method=" + string(req.Method) + "\n")
	b.WriteString("uri=" + string(req.RawURI) + "\n")
	b.WriteString("path=" + string(req.Path) + "\n")
	b.WriteString("query=" + string(req.Query) + "\n")
	b.WriteString("proto=" + req.Proto + "\n")
	b.WriteString("length=" + strconv.FormatInt(req.ContentLength, 10) + "\n")
	for _, h := range req.Header {
		b.WriteString("header=" + string(h.Name) + ":" + string(h.Value) + "\n")
	}
	b.WriteString("remote=" + req.RemoteAddr + " " + req.RemotePort + "\n")
	b.WriteString("server=" + req.ServerName + " " + req.ServerPort + " " + req.Scheme + "\n")
	body, err := io.ReadAll(req.Body)
	b.WriteString("body=" + string(body) + "\n")
	if err != nil {
		b.WriteString("bodyerror=" + err.Error() + "\n")
	}
	writeText(w, "200 OK", b.String())
}

// writeText answers with a Content-Length body.
func writeText(w httpwire.ResponseWriter, status, text string) {
	code, _ := strconv.Atoi(status[:3])
	w.WriteHeader([]byte(status), code, []httpwire.HeaderField{
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len(text)))},
	})
	w.Write([]byte(text))
}

type testClient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dial(t testing.TB, addr string) *testClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &testClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *testClient) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

// sendAsync is send for a goroutine: the server may close before it has taken everything.
func (c *testClient) sendAsync(s string) { io.WriteString(c.nc, s) }

type testResponse struct {
	proto, status string
	code          int
	headers       [][2]string
	body          string
	rawBody       string // as framed on the wire
	chunked       bool
}

func (r *testResponse) header(name string) string {
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func (r *testResponse) count(name string) int {
	n := 0
	for _, h := range r.headers {
		if strings.EqualFold(h[0], name) {
			n++
		}
	}
	return n
}

// bodyField returns the value of "key=value" in an echo body.
func (r *testResponse) bodyField(key string) string {
	for line := range strings.Lines(r.body) {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSuffix(v, "\n")
		}
	}
	return "<missing>"
}

// read reads one response; noBody is for answers to HEAD.
func (c *testClient) read(noBody bool) *testResponse {
	c.t.Helper()
	line := c.line()
	proto, rest, _ := strings.Cut(line, " ")
	r := &testResponse{proto: proto, status: rest}
	r.code, _ = strconv.Atoi(rest[:min(3, len(rest))])
	for {
		h := c.line()
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ": ")
		if !ok {
			c.t.Fatalf("malformed response header line %q", h)
		}
		r.headers = append(r.headers, [2]string{name, value})
	}
	if noBody || r.code < 200 || r.code == 204 || r.code == 304 {
		return r
	}
	var raw, body bytes.Buffer
	switch {
	case r.header("Content-Length") != "":
		n, _ := strconv.Atoi(r.header("Content-Length"))
		c.readN(&body, n)
		raw.Write(body.Bytes())
	case strings.EqualFold(r.header("Transfer-Encoding"), "chunked"):
		r.chunked = true
		for {
			size := c.line()
			raw.WriteString(size + "\r\n")
			n, err := strconv.ParseInt(size, 16, 64)
			if err != nil {
				c.t.Fatalf("bad chunk size %q", size)
			}
			if n == 0 {
				if end := c.line(); end != "" {
					c.t.Fatalf("trailer after last chunk: %q", end)
				}
				raw.WriteString("\r\n")
				break
			}
			c.readN(&body, int(n))
			raw.Write(body.Bytes()[body.Len()-int(n):])
			if end := c.line(); end != "" {
				c.t.Fatalf("chunk not followed by CRLF: %q", end)
			}
			raw.WriteString("\r\n")
		}
	default:
		all, err := io.ReadAll(c.br)
		if err != nil && !isReset(err) {
			c.t.Fatal(err)
		}
		body.Write(all)
		raw.Write(all)
	}
	r.body, r.rawBody = body.String(), raw.String()
	return r
}

func (c *testClient) line() string {
	c.t.Helper()
	s, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a response line: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.t.Fatalf("response line without CRLF: %q", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

func (c *testClient) readN(dst *bytes.Buffer, n int) {
	c.t.Helper()
	if _, err := io.CopyN(dst, c.br, int64(n)); err != nil {
		c.t.Fatalf("reading %d body bytes: %v", n, err)
	}
}

// expectClosed checks that the server closed the connection with nothing more to say.
func (c *testClient) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	rest, err := io.ReadAll(c.br)
	if err != nil && !isReset(err) {
		c.t.Fatalf("connection not closed: %v", err)
	}
	if len(rest) > 0 {
		c.t.Fatalf("unexpected bytes before close: %q", rest)
	}
}

// expectOpen checks that the connection is still usable and nothing unexpected arrived.
func (c *testClient) expectOpen() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	b, err := c.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.t.Fatalf("connection should be open and quiet, got %q, %v", b, err)
	}
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// roundTrip sends raw bytes on a new connection and reads one response.
func roundTrip(t testing.TB, addr, raw string) (*testResponse, *testClient) {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	return c.read(false), c
}
