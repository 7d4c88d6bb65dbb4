package worker

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

func TestHTTPChunkedRequestBody(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	c.send("POST /up HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: dropped\r\nY: 2\r\n\r\n" +
		"GET /next HTTP/1.1\r\n\r\n")
	r := c.read(false)
	if r.bodyField("body") != "hello, chunked!" || r.bodyField("length") != "-1" {
		t.Fatalf("echo %q", r.body)
	}
	if strings.Contains(r.body, "bodyerror") || r.header("Connection") != "" {
		t.Fatalf("echo %q, headers %v", r.body, r.headers)
	}
	if r2 := c.read(false); r2.bodyField("path") != "/next" {
		t.Fatalf("request after a chunked body: %q", r2.body)
	}
}

func TestHTTPBadChunkedBodies(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	for name, body := range map[string]string{
		"bad size":           "zz\r\nhello\r\n0\r\n\r\n",
		"empty size":         "\r\nhello\r\n0\r\n\r\n",
		"size overflow":      "1000000000000000\r\n",
		"junk after size":    "5 x\r\nhello\r\n0\r\n\r\n",
		"missing CRLF":       "5\r\nhelloXX\r\n0\r\n\r\n",
		"size line too long": "5;" + strings.Repeat("e", 2000) + "\r\nhello\r\n0\r\n\r\n",
	} {
		r, c := roundTrip(t, addr, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		if r.code != 200 || !strings.Contains(r.body, "bodyerror=") {
			t.Errorf("%s: the app should see a body error, got %q", name, r.body)
		}
		if r.header("Connection") != "close" {
			t.Errorf("%s: Connection %q", name, r.header("Connection"))
		}
		c.expectClosed()
	}
}

func TestHTTPTruncatedBody(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello")
	c.nc.(*net.TCPConn).CloseWrite()
	r := c.read(false)
	if r.bodyField("body") != "hello" || r.bodyField("bodyerror") != io.ErrUnexpectedEOF.Error() {
		t.Fatalf("echo %q", r.body)
	}
	c.expectClosed()
}

// gate is a dispatch that tells the test it started and waits for permission to go on.
type gate struct {
	entered, proceed chan struct{}
	read             bool // read the body before answering
}

func newGate(read bool) *gate {
	return &gate{entered: make(chan struct{}, 10), proceed: make(chan struct{}, 10), read: read}
}

func (g *gate) dispatch(req *httpwire.Request, w httpwire.ResponseWriter) {
	g.entered <- struct{}{}
	<-g.proceed
	body := "not read"
	if g.read {
		b, _ := io.ReadAll(req.Body)
		body = string(b)
	}
	writeText(w, "200 OK", body)
}

func waitFor(t *testing.T, ch chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatal("dispatch was not called")
	}
}

func TestHTTPBodyReadLazily(t *testing.T) {
	g := newGate(true)
	addr, _ := startServer(t, testLimits, g.dispatch)
	c := dial(t, addr)
	c.send("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
	waitFor(t, g.entered) // dispatched before any body byte was sent
	g.proceed <- struct{}{}
	c.send("hello")
	if r := c.read(false); r.body != "hello" {
		t.Fatalf("body %q", r.body)
	}
}

func TestHTTPExpectContinue(t *testing.T) {
	g := newGate(true)
	addr, _ := startServer(t, testLimits, g.dispatch)
	c := dial(t, addr)
	// An earlier pipelined response must come before "100 Continue".
	c.send("POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx" +
		"POST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	waitFor(t, g.entered)
	g.proceed <- struct{}{}
	if r := c.read(false); r.body != "x" {
		t.Fatalf("first response %q", r.body)
	}
	waitFor(t, g.entered)
	c.expectOpen() // nothing before the app reads the body
	g.proceed <- struct{}{}
	if line := c.line(); line != "HTTP/1.1 100 Continue" {
		t.Fatalf("got %q, want 100 Continue", line)
	}
	if blank := c.line(); blank != "" {
		t.Fatalf("100 Continue not followed by a blank line: %q", blank)
	}
	c.send("hello")
	if r := c.read(false); r.code != 200 || r.body != "hello" || r.header("Connection") != "" {
		t.Fatalf("final response %q %q %v", r.status, r.body, r.headers)
	}
	c.expectOpen()
}

func TestHTTPExpectContinueUnread(t *testing.T) {
	g := newGate(false)
	addr, _ := startServer(t, testLimits, g.dispatch)

	// The client waits for 100 Continue that never comes: the connection closes after the answer.
	c := dial(t, addr)
	c.send("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	g.proceed <- struct{}{}
	r := c.read(false)
	if r.code != 200 || r.header("Connection") != "close" {
		t.Fatalf("response %q %v", r.status, r.headers)
	}
	c.expectClosed()

	// The body came along anyway: it is dropped and the connection kept.
	c = dial(t, addr)
	c.send("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
	g.proceed <- struct{}{}
	if r := c.read(false); r.code != 200 || r.header("Connection") != "" {
		t.Fatalf("response %q %v", r.status, r.headers)
	}
	c.expectOpen()
}

func TestHTTPUnreadBodyDrained(t *testing.T) {
	g := newGate(false)
	addr, _ := startServer(t, testLimits, g.dispatch)
	for _, tc := range []struct {
		name, head, body string
		keep             bool
	}{
		{"small length", "Content-Length: 1000", strings.Repeat("b", 1000), true},
		{"large length", "Content-Length: 2000000", strings.Repeat("b", 2000000), false},
		{"small chunked", "Transfer-Encoding: chunked", "3e8\r\n" + strings.Repeat("b", 1000) + "\r\n0\r\n\r\n", true},
		{"large chunked", "Transfer-Encoding: chunked", strings.Repeat("10000\r\n"+strings.Repeat("b", 65536)+"\r\n", 20) + "0\r\n\r\n", false},
	} {
		c := dial(t, addr)
		go c.sendAsync("POST / HTTP/1.1\r\n" + tc.head + "\r\n\r\n" + tc.body)
		g.proceed <- struct{}{}
		r := c.read(false)
		if r.body != "not read" {
			t.Fatalf("%s: %q", tc.name, r.body)
		}
		if !tc.keep {
			c.expectClosed()
			continue
		}
		c.send("GET /again HTTP/1.1\r\n\r\n")
		g.proceed <- struct{}{}
		if r := c.read(false); r.code != 200 {
			t.Fatalf("%s: next request %q", tc.name, r.status)
		}
	}
}

func TestHTTPLargeBodyReads(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	addr, _ := startServer(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		var got []byte
		buf := make([]byte, 50000) // larger than the read buffer: read straight from the socket
		for {
			n, err := req.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		writeText(w, "200 OK", strconv.FormatBool(bytes.Equal(got, payload)))
	})
	c := dial(t, addr)
	go c.sendAsync("POST / HTTP/1.1\r\nContent-Length: " + strconv.Itoa(len(payload)) + "\r\n\r\n" + string(payload))
	if r := c.read(false); r.body != "true" {
		t.Fatal("large body corrupted")
	}
	chunked := "4e20\r\n" + string(payload[:20000]) + "\r\n" + strconv.FormatInt(int64(len(payload)-20000), 16) + "\r\n" +
		string(payload[20000:]) + "\r\n0\r\n\r\n"
	go c.sendAsync("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
	if r := c.read(false); r.body != "true" {
		t.Fatal("large chunked body corrupted")
	}
}

// The request line stays valid after the body has been read through the read buffer.
func TestHTTPRequestLineOutlivesBody(t *testing.T) {
	addr, _ := startServer(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		n, _ := io.Copy(io.Discard, req.Body)
		writeText(w, "200 OK", string(req.Method)+" "+string(req.RawURI)+" "+string(req.Path)+" "+
			string(req.Query)+" "+strconv.FormatInt(n, 10))
	})
	c := dial(t, addr)
	body := strings.Repeat("Z", 100000)
	go c.sendAsync("PATCH /p/q?x=y HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + body)
	if r := c.read(false); r.body != "PATCH /p/q?x=y /p/q x=y 100000" {
		t.Fatalf("%q", r.body)
	}
	go c.sendAsync("PUT /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n186a0\r\n" + body + "\r\n0\r\n\r\n")
	if r := c.read(false); r.body != "PUT /chunked /chunked  100000" {
		t.Fatalf("%q", r.body)
	}
}

// Every request arriving one byte at a time parses as it does in one piece.
func TestHTTPByteAtATime(t *testing.T) {
	requests := "\r\nPOST /a?b HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n" +
		"GET /d HTTP/1.0\r\nConnection: keep-alive\r\nX:  y \r\n\r\n"
	want := []string{"/a hello", "/c abcde", "/d "}

	server, client := net.Pipe()
	srv := newHTTPServer(testLimits, "http", echo)
	go srv.serveConn(server)
	defer client.Close()
	go func() {
		for i := range len(requests) {
			client.Write([]byte{requests[i]})
		}
	}()
	c := &testClient{t: t, nc: client, br: bufio.NewReader(client)}
	client.SetDeadline(time.Now().Add(10 * time.Second))
	for _, w := range want {
		r := c.read(false)
		if got := r.bodyField("path") + " " + r.bodyField("body"); got != w {
			t.Errorf("got %q, want %q (%q)", got, w, r.body)
		}
	}
}
