package wiretest

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
)

// Client is one connection to a server under test, which reads the responses it gets as a
// strict HTTP/1.1 client would, failing the test on anything malformed.
type Client struct {
	T    testing.TB
	Conn net.Conn
	br   *bufio.Reader
}

// NewClient reads and writes nc for t.
func NewClient(t testing.TB, nc net.Conn) *Client {
	return &Client{T: t, Conn: nc, br: bufio.NewReader(nc)}
}

// Dial connects to addr over TCP, for at most 10 s of the test; the connection closes when the
// test ends.
func Dial(t testing.TB, addr string) *Client {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return NewClient(t, nc)
}

// RoundTrip sends raw bytes on a new connection and reads one response.
func RoundTrip(t testing.TB, addr, raw string) (*Response, *Client) {
	t.Helper()
	c := Dial(t, addr)
	c.Send(raw)
	return c.Read(false), c
}

func (c *Client) Send(s string) {
	c.T.Helper()
	if _, err := io.WriteString(c.Conn, s); err != nil {
		c.T.Fatal(err)
	}
}

// SendAsync is Send for a goroutine: the server may close before it has taken everything.
func (c *Client) SendAsync(s string) { io.WriteString(c.Conn, s) }

// Response is one response as it arrived.
type Response struct {
	Proto, Status string
	Code          int
	Headers       [][2]string
	Body          string
	RawBody       string // as framed on the wire
	Chunked       bool
}

// Header is the value of the first header called name, or "".
func (r *Response) Header(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

// Count is how many headers are called name.
func (r *Response) Count(name string) int {
	n := 0
	for _, h := range r.Headers {
		if strings.EqualFold(h[0], name) {
			n++
		}
	}
	return n
}

// BodyField returns the value of "key=value" in a body written by Echo.
func (r *Response) BodyField(key string) string {
	for line := range strings.Lines(r.Body) {
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return strings.TrimSuffix(v, "\n")
		}
	}
	return "<missing>"
}

// Read reads one response; noBody is for answers to HEAD.
func (c *Client) Read(noBody bool) *Response {
	c.T.Helper()
	line := c.Line()
	proto, rest, _ := strings.Cut(line, " ")
	r := &Response{Proto: proto, Status: rest}
	r.Code, _ = strconv.Atoi(rest[:min(3, len(rest))])
	for {
		h := c.Line()
		if h == "" {
			break
		}
		name, value, ok := strings.Cut(h, ": ")
		if !ok {
			c.T.Fatalf("malformed response header line %q", h)
		}
		r.Headers = append(r.Headers, [2]string{name, value})
	}
	if noBody || r.Code < 200 || r.Code == 204 || r.Code == 304 {
		return r
	}
	var raw, body bytes.Buffer
	switch {
	case r.Header("Content-Length") != "":
		n, _ := strconv.Atoi(r.Header("Content-Length"))
		c.ReadN(&body, n)
		raw.Write(body.Bytes())
	case strings.EqualFold(r.Header("Transfer-Encoding"), "chunked"):
		r.Chunked = true
		c.readChunks(&raw, &body)
	default:
		all, err := io.ReadAll(c.br)
		if err != nil && !IsReset(err) {
			c.T.Fatal(err)
		}
		body.Write(all)
		raw.Write(all)
	}
	r.Body, r.RawBody = body.String(), raw.String()
	return r
}

// readChunks reads a chunked body, without trailers, into body, and as framed into raw.
func (c *Client) readChunks(raw, body *bytes.Buffer) {
	c.T.Helper()
	for {
		size := c.Line()
		raw.WriteString(size + "\r\n")
		n, err := strconv.ParseInt(size, 16, 64)
		if err != nil {
			c.T.Fatalf("bad chunk size %q", size)
		}
		if n == 0 {
			if end := c.Line(); end != "" {
				c.T.Fatalf("trailer after last chunk: %q", end)
			}
			raw.WriteString("\r\n")
			return
		}
		c.ReadN(body, int(n))
		raw.Write(body.Bytes()[body.Len()-int(n):])
		if end := c.Line(); end != "" {
			c.T.Fatalf("chunk not followed by CRLF: %q", end)
		}
		raw.WriteString("\r\n")
	}
}

// Line reads one line, which must end in CRLF, and returns it without.
func (c *Client) Line() string {
	c.T.Helper()
	s, err := c.br.ReadString('\n')
	if err != nil {
		c.T.Fatalf("reading a response line: %v (got %q)", err, s)
	}
	if !strings.HasSuffix(s, "\r\n") {
		c.T.Fatalf("response line without CRLF: %q", s)
	}
	return strings.TrimSuffix(s, "\r\n")
}

func (c *Client) ReadN(dst *bytes.Buffer, n int) {
	c.T.Helper()
	if _, err := io.CopyN(dst, c.br, int64(n)); err != nil {
		c.T.Fatalf("reading %d body bytes: %v", n, err)
	}
}

// ExpectClosed checks that the server closed the connection with nothing more to say.
func (c *Client) ExpectClosed() {
	c.T.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	rest, err := io.ReadAll(c.br)
	if err != nil && !IsReset(err) {
		c.T.Fatalf("connection not closed: %v", err)
	}
	if len(rest) > 0 {
		c.T.Fatalf("unexpected bytes before close: %q", rest)
	}
}

// ExpectOpen checks that the connection is still usable and nothing unexpected arrived.
func (c *Client) ExpectOpen() {
	c.T.Helper()
	c.Conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	b, err := c.br.Peek(1)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		c.T.Fatalf("connection should be open and quiet, got %q, %v", b, err)
	}
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
}

// IsReset reports whether err is the peer resetting the connection.
func IsReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// IsToken reports whether s is an RFC 9110 token, as a header name or a method must be.
func IsToken(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		alnum := 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9'
		return !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", r)
	})
}
