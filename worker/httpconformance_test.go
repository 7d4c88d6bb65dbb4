package worker

import (
	"strings"
	"testing"
	"time"
)

// A second Host or Content-Type line is refused (RFC 9112 §3.2, RFC 9110 §5.3): the app would
// see the two values joined, and a proxy in front may have routed on either one.
func TestHTTPSingletonHeadersTwice(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	for name, raw := range map[string]string{
		"two hosts":         "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
		"two hosts, cased":  "GET / HTTP/1.1\r\nHost: a\r\nhOsT: a\r\n\r\n",
		"two content types": "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	} {
		r, c := roundTrip(t, addr, raw)
		if r.code != 400 || r.header("Connection") != "close" {
			t.Errorf("%s: %q %v", name, r.status, r.headers)
		}
		c.expectClosed()
	}
	// One of each, and names that only look alike, are served.
	r, _ := roundTrip(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nX-Host: b\r\nHost_: c\r\n"+
		"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
	if r.code != 200 || r.bodyField("body") != "hi" {
		t.Fatalf("%q %q", r.status, r.body)
	}
}

// Chunked framing lines must end in CRLF and hold no control characters: a bare LF is allowed
// in request heads only (RFC 9112 §2.2), and accepting it between chunks lets a proxy and the
// engine disagree on where the body ends.
func TestHTTPChunkedFramingIsStrict(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	for name, body := range map[string]string{
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
	} {
		r, c := roundTrip(t, addr, "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"+body)
		if r.code != 200 || r.bodyField("bodyerror") == "<missing>" {
			t.Errorf("%s: the app should see a body error, got %q", name, r.body)
		}
		if r.header("Connection") != "close" {
			t.Errorf("%s: Connection %q", name, r.header("Connection"))
		}
		c.expectClosed()
	}
}

// What the strict framing still accepts: extensions, whitespace before them, trailers, and a
// trailer line longer than the read buffer (but within the field size limit).
func TestHTTPChunkedFramingAccepted(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	long := "X-Long: " + strings.Repeat("t", readBufSize+100) + "\r\n"
	c := dial(t, addr)
	c.send("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"3 ;ext=1\r\nabc\r\n2;q=\"x y\"\r\nde\r\n0\r\n" + long + "Y: \t2\r\n\r\n" +
		"GET /b HTTP/1.1\r\n\r\n")
	if r := c.read(false); r.bodyField("body") != "abcde" || r.bodyField("bodyerror") != "<missing>" {
		t.Fatalf("body %q", r.body)
	}
	if r := c.read(false); r.bodyField("path") != "/b" {
		t.Fatalf("request after the trailers: %q", r.body)
	}
}

// A request sent on an idle keep-alive connection just as a graceful stop begins is answered,
// with "Connection: close", rather than lost to a close the client could not see coming; an idle
// connection that sends nothing closes after shutdownGrace.
func TestHTTPShutdownAnswersARequestAlreadyOnItsWay(t *testing.T) {
	addr, srv := startServer(t, testLimits, echo)
	reused, silent := dial(t, addr), dial(t, addr)
	reused.send("GET /first HTTP/1.1\r\n\r\n")
	if r := reused.read(false); r.code != 200 || r.header("Connection") != "" {
		t.Fatalf("first response %q %v", r.status, r.headers)
	}
	silent.send("GET /first HTTP/1.1\r\n\r\n")
	silent.read(false)

	start := time.Now()
	srv.shutdown()
	reused.send("GET /second HTTP/1.1\r\n\r\n")
	if r := reused.read(false); r.bodyField("path") != "/second" || r.header("Connection") != "close" {
		t.Fatalf("request after shutdown began: %q %v %q", r.status, r.headers, r.body)
	}
	reused.expectClosed()
	silent.expectClosed()
	if waited := time.Since(start); waited < shutdownGrace/2 || waited > shutdownGrace+time.Second {
		t.Fatalf("idle connection closed after %v, want about %v", waited, shutdownGrace)
	}
	if !srv.wait(time.Now().Add(time.Second)) {
		t.Fatal("connections remain after shutdown")
	}
}
