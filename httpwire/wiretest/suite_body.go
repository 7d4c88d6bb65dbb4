package wiretest

import (
	"bytes"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"gowsgi/httpwire"
)

func testChunkedRequestBody(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	c.Send("POST /up HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n" +
		"5;name=value\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: dropped\r\nY: 2\r\n\r\n" +
		"GET /next HTTP/1.1\r\n\r\n")
	r := c.Read(false)
	if r.BodyField("body") != "hello, chunked!" || r.BodyField("length") != "-1" {
		t.Fatalf("Echo %q", r.Body)
	}
	if strings.Contains(r.Body, "bodyerror") || r.Header("Connection") != "" {
		t.Fatalf("Echo %q, headers %v", r.Body, r.Headers)
	}
	if r2 := c.Read(false); r2.BodyField("path") != "/next" {
		t.Fatalf("request after a chunked body: %q", r2.Body)
	}
}

func testBadChunkedBodies(t *testing.T, serve Server) {
	expectBodyErrors(t, serve(t, DefaultLimits(), Echo), map[string]string{
		"bad size":           "zz\r\nhello\r\n0\r\n\r\n",
		"empty size":         "\r\nhello\r\n0\r\n\r\n",
		"size overflow":      "1000000000000000\r\n",
		"junk after size":    "5 x\r\nhello\r\n0\r\n\r\n",
		"missing CRLF":       "5\r\nhelloXX\r\n0\r\n\r\n",
		"size line too long": "5;" + strings.Repeat("e", 2000) + "\r\nhello\r\n0\r\n\r\n",
	})
}

func testTruncatedBody(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	c.Send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello")
	c.Conn.(*net.TCPConn).CloseWrite()
	r := c.Read(false)
	if r.BodyField("body") != "hello" || r.BodyField("bodyerror") != io.ErrUnexpectedEOF.Error() {
		t.Fatalf("Echo %q", r.Body)
	}
	c.ExpectClosed()
}

func testBodyReadLazily(t *testing.T, serve Server) {
	g := NewGate(true)
	addr := serve(t, DefaultLimits(), g.App)
	c := Dial(t, addr)
	c.Send("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
	WaitFor(t, g.Entered) // dispatched before any body byte was sent
	g.Proceed <- struct{}{}
	c.Send("hello")
	if r := c.Read(false); r.Body != "hello" {
		t.Fatalf("body %q", r.Body)
	}
}

func testExpectContinue(t *testing.T, serve Server) {
	g := NewGate(true)
	addr := serve(t, DefaultLimits(), g.App)
	c := Dial(t, addr)
	// An earlier pipelined response must come before "100 Continue".
	c.Send("POST /a HTTP/1.1\r\nContent-Length: 1\r\n\r\nx" +
		"POST /b HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	WaitFor(t, g.Entered)
	g.Proceed <- struct{}{}
	if r := c.Read(false); r.Body != "x" {
		t.Fatalf("first response %q", r.Body)
	}
	WaitFor(t, g.Entered)
	c.ExpectOpen() // nothing before the app reads the body
	g.Proceed <- struct{}{}
	if line := c.Line(); line != "HTTP/1.1 100 Continue" {
		t.Fatalf("got %q, want 100 Continue", line)
	}
	if blank := c.Line(); blank != "" {
		t.Fatalf("100 Continue not followed by a blank line: %q", blank)
	}
	c.Send("hello")
	if r := c.Read(false); r.Code != 200 || r.Body != "hello" || r.Header("Connection") != "" {
		t.Fatalf("final response %q %q %v", r.Status, r.Body, r.Headers)
	}
	c.ExpectOpen()
}

func testExpectContinueUnread(t *testing.T, serve Server) {
	g := NewGate(false)
	addr := serve(t, DefaultLimits(), g.App)

	// The client waits for 100 Continue that never comes: the connection closes after the answer.
	c := Dial(t, addr)
	c.Send("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
	g.Proceed <- struct{}{}
	r := c.Read(false)
	if r.Code != 200 || r.Header("Connection") != "close" {
		t.Fatalf("response %q %v", r.Status, r.Headers)
	}
	c.ExpectClosed()

	// The body came along anyway: it is dropped and the connection kept.
	c = Dial(t, addr)
	c.Send("PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
	g.Proceed <- struct{}{}
	if r := c.Read(false); r.Code != 200 || r.Header("Connection") != "" {
		t.Fatalf("response %q %v", r.Status, r.Headers)
	}
	c.ExpectOpen()
}

func testUnreadBodyDrained(t *testing.T, serve Server) {
	g := NewGate(false)
	addr := serve(t, DefaultLimits(), g.App)
	for _, tc := range []struct {
		name, head, body string
		keep             bool
	}{
		{"small length", "Content-Length: 1000", strings.Repeat("b", 1000), true},
		{"large length", "Content-Length: 2000000", strings.Repeat("b", 2000000), false},
		{"small chunked", "Transfer-Encoding: chunked", "3e8\r\n" + strings.Repeat("b", 1000) + "\r\n0\r\n\r\n", true},
		{"large chunked", "Transfer-Encoding: chunked", strings.Repeat("10000\r\n"+strings.Repeat("b", 65536)+"\r\n", 20) + "0\r\n\r\n", false},
	} {
		c := Dial(t, addr)
		go c.SendAsync("POST / HTTP/1.1\r\n" + tc.head + "\r\n\r\n" + tc.body)
		g.Proceed <- struct{}{}
		r := c.Read(false)
		if r.Body != "not read" {
			t.Fatalf("%s: %q", tc.name, r.Body)
		}
		if !tc.keep {
			c.ExpectClosed()
			continue
		}
		c.Send("GET /again HTTP/1.1\r\n\r\n")
		g.Proceed <- struct{}{}
		if r := c.Read(false); r.Code != 200 {
			t.Fatalf("%s: next request %q", tc.name, r.Status)
		}
	}
}

func testLargeBodyReads(t *testing.T, serve Server) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20000)
	addr := serve(t, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		var got []byte
		buf := make([]byte, 50000) // larger than the read buffer: read straight from the socket
		for {
			n, err := req.Body.Read(buf)
			got = append(got, buf[:n]...)
			if err != nil {
				break
			}
		}
		WriteText(w, "200 OK", strconv.FormatBool(bytes.Equal(got, payload)))
	})
	c := Dial(t, addr)
	go c.SendAsync("POST / HTTP/1.1\r\nContent-Length: " + strconv.Itoa(len(payload)) + "\r\n\r\n" + string(payload))
	if r := c.Read(false); r.Body != "true" {
		t.Fatal("large body corrupted")
	}
	chunked := "4e20\r\n" + string(payload[:20000]) + "\r\n" + strconv.FormatInt(int64(len(payload)-20000), 16) + "\r\n" +
		string(payload[20000:]) + "\r\n0\r\n\r\n"
	go c.SendAsync("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
	if r := c.Read(false); r.Body != "true" {
		t.Fatal("large chunked body corrupted")
	}
}

// The request line stays valid after the body has been read through the read buffer.
func testRequestLineOutlivesBody(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		n, _ := io.Copy(io.Discard, req.Body)
		WriteText(w, "200 OK", string(req.Method)+" "+string(req.RawURI)+" "+string(req.Path)+" "+
			string(req.Query)+" "+strconv.FormatInt(n, 10))
	})
	c := Dial(t, addr)
	body := strings.Repeat("Z", 100000)
	go c.SendAsync("PATCH /p/q?x=y HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + body)
	if r := c.Read(false); r.Body != "PATCH /p/q?x=y /p/q x=y 100000" {
		t.Fatalf("%q", r.Body)
	}
	go c.SendAsync("PUT /chunked HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n186a0\r\n" + body + "\r\n0\r\n\r\n")
	if r := c.Read(false); r.Body != "PUT /chunked /chunked  100000" {
		t.Fatalf("%q", r.Body)
	}
}

// Chunked framing lines must end in CRLF and hold no control characters: a bare LF is allowed
// in request heads only (RFC 9112 §2.2), and accepting it between chunks lets a proxy and the
// engine disagree on where the body ends.
func testChunkedFramingIsStrict(t *testing.T, serve Server) {
	expectBodyErrors(t, serve(t, DefaultLimits(), Echo), map[string]string{
		"bare LF after size":      "3\nabc\r\n0\r\n\r\n",
		"bare LF after data":      "3\r\nabc\n0\r\n\r\n",
		"bare LF after last size": "3\r\nabc\r\n0\n\r\n",
		"bare LF ends trailers":   "3\r\nabc\r\n0\r\n\n",
		"bare LF in a trailer":    "3\r\nabc\r\n0\r\nX: 1\n\r\n",
		"bare CR in a trailer":    "3\r\nabc\r\n0\r\nX: 1\r2\r\n\r\n",
		"NUL in a trailer":        "3\r\nabc\r\n0\r\nX: \x00\r\n\r\n",
		"CR in an extension":      "3;a\rb\r\nabc\r\n0\r\n\r\n",
		"NUL in an extension":     "3;a=\x00\r\nabc\r\n0\r\n\r\n",
		"smuggled request":        "3\r\nabc\r\n0\r\n\nGET /smuggled HTTP/1.1\r\n\r\n",
	})
}

// What the strict framing still accepts: extensions, whitespace before them, trailers, and a
// trailer line longer than the engine's 4 KiB read buffer (but within the field size limit).
func testChunkedFramingAccepted(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	long := "X-Long: " + strings.Repeat("t", 4096+100) + "\r\n"
	c := Dial(t, addr)
	c.Send("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3 ;ext=1\r\nabc\r\n2;q=\"x y\"\r\nde\r\n0\r\n" + long + "Y: \t2\r\n\r\n" +
		"GET /b HTTP/1.1\r\n\r\n")
	if r := c.Read(false); r.BodyField("body") != "abcde" || r.BodyField("bodyerror") != "<missing>" {
		t.Fatalf("body %q", r.Body)
	}
	if r := c.Read(false); r.BodyField("path") != "/b" {
		t.Fatalf("request after the trailers: %q", r.Body)
	}
}

// Through the engine: a body whose framing breaks these rules is an error to the app, and the
// connection closes after the answer.
func testStrictChunkedFraming(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	expectBodyErrors(t, addr, map[string]string{
		"blank after the last size":   "3\r\nabc\r\n0 \r\n\r\n",
		"blank after a size":          "3\t\r\nabc\r\n0\r\n\r\n",
		"Content-Length trailer":      "3\r\nabc\r\n0\r\nContent-Length: 10\r\n\r\n",
		"Transfer-Encoding trailer":   "3\r\nabc\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n",
		"Host trailer":                "3\r\nabc\r\n0\r\nHost: evil.example\r\n\r\n",
		"not a field line":            "3\r\nabc\r\n0\r\nGET /smuggled HTTP/1.1\r\n\r\n",
		"trailer over the field size": "3\r\nabc\r\n0\r\nX: " + strings.Repeat("v", 8186) + "\r\n\r\n",
	})
	r, _ := RoundTrip(t, addr, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3 ;a=b\r\nabc\r\n0\r\nX: "+strings.Repeat("v", 8185)+"\r\n\r\n")
	if r.BodyField("body") != "abc" || r.BodyField("bodyerror") != "<missing>" {
		t.Fatalf("a blank before an extension, a trailer at the limit: %q", r.Body)
	}
}

// expectBodyErrors sends each of bodies as a chunked request body, on a connection of its own,
// and expects the app to see an error reading it, and the connection to close after the answer.
func expectBodyErrors(t *testing.T, addr string, bodies map[string]string) {
	t.Helper()
	for name, body := range bodies {
		r, c := RoundTrip(t, addr, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		if r.Code != 200 || r.BodyField("bodyerror") == "<missing>" {
			t.Errorf("%s: the app should see a body error, got %q %q", name, r.Status, r.Body)
		}
		if r.Header("Connection") != "close" {
			t.Errorf("%s: Connection %q", name, r.Header("Connection"))
		}
		c.ExpectClosed()
	}
}
