package wiretest

import (
	"strings"
	"testing"

	"gowsgi/httpwire"
)

// MalformedRequests are heads the engine must refuse, with the status it answers.
var MalformedRequests = []struct {
	Name, Raw string
	Code      int
}{
	{"garbage", "garbage\r\n\r\n", 400},
	{"no version", "GET /\r\n\r\n", 400},
	{"TLS handshake", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400},
	{"bad method", "G(T / HTTP/1.1\r\n\r\n", 400},
	{"space in target", "GET /a b HTTP/1.1\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\n\r\n", 400},
	{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505},
	{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
	{"HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", 400},
	{"lowercase version", "GET / http/1.1\r\n\r\n", 400},
	{"CR in request line", "GET / HTTP/1.1\r\r\n\r\n", 400},
	{"request line too long", "GET /" + strings.Repeat("a", 5000) + " HTTP/1.1\r\n\r\n", 414},
	{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
	{"bad header name", "GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400},
	{"empty header name", "GET / HTTP/1.1\r\n: x\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n", 400},
	{"bare CR in value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 400},
	{"control char in value", "GET / HTTP/1.1\r\nX: a\x1bb\r\n\r\n", 400},
	{"obsolete folding", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
	{"header line too long", "GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 9000) + "\r\n\r\n", 431},
	{"too many headers", "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n", 431},
	{"signed length", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", 400},
	{"negative length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
	{"spaced length", "POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\nhello", 400},
	{"empty length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400},
	{"length list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
	{"huge length", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
	{"differing lengths", "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
	{"length and coding", "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"gzip coding", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"gzip then chunked", "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
	{"chunked twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"empty coding", "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", 400},
	{"chunked on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
	{"unknown expectation", "POST / HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417},
	{"relative target", "GET foo/bar HTTP/1.1\r\n\r\n", 400},
	{"authority-form without CONNECT", "GET example.com:443 HTTP/1.1\r\n\r\n", 400},
	{"asterisk-form without OPTIONS", "GET * HTTP/1.1\r\n\r\n", 400},
	{"malformed absolute-form", "PUT s://]ufd/: HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400},
	{"lower-case method", "get / HTTP/1.1\r\n\r\n", 400},
	{"mixed-case method", "Get / HTTP/1.1\r\n\r\n", 400},
	{"header line over the limit with its CRLF", "GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 8186) + "\r\n\r\n", 431},
}

func testMalformedRequests(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	for _, m := range MalformedRequests {
		t.Run(m.Name, func(t *testing.T) {
			r, c := RoundTrip(t, addr, m.Raw)
			if r.Code != m.Code {
				t.Fatalf("status %q, want %d", r.Status, m.Code)
			}
			if r.Header("Connection") != "close" || r.Header("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("headers %v", r.Headers)
			}
			if !strings.HasPrefix(r.Body, r.Status[4:]+"\n") {
				t.Errorf("body %q", r.Body)
			}
			c.ExpectClosed()
			// The engine keeps serving other connections.
			if ok, _ := RoundTrip(t, addr, "GET /ok HTTP/1.1\r\n\r\n"); ok.Code != 200 {
				t.Fatalf("next connection got %q", ok.Status)
			}
		})
	}
}

// A client still sending an over-long header gets its 431, not a connection reset.
func testHeaderTooLargeWhileSending(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	go c.SendAsync("GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 200000) + "\r\n\r\n")
	if r := c.Read(false); r.Code != 431 {
		t.Fatalf("status %q", r.Status)
	}
	c.ExpectClosed()
}

func testLimitsAtTheEdge(t *testing.T, serve Server) {
	lim := DefaultLimits()
	lim.RequestLine, lim.Fields, lim.FieldSize = len("GET /abcd HTTP/1.1"), 2, len("X: 12345\r\n")
	addr := serve(t, lim, Echo)
	if r, _ := RoundTrip(t, addr, "GET /abcd HTTP/1.1\r\nX: 12345\r\nY: 1\r\n\r\n"); r.Code != 200 {
		t.Errorf("request at the limits: %q", r.Status)
	}
	for raw, code := range map[string]int{
		"GET /abcde HTTP/1.1\r\n\r\n":                414,
		"GET /abcd HTTP/1.1\r\nX: 123456\r\n\r\n":    431,
		"GET /abcd HTTP/1.1\r\nX: 1\nY: 2\nZ: 3\n\n": 431,
		"GET /abcde HTTP/1.1\r\nX: 123456\r\n\r\n":   414,
		"GET /abcd HTTP/1.1\r\nX: 1234567890123\r\n": 431, // refused before the head ends
	} {
		if r, c := RoundTrip(t, addr, raw); r.Code != code {
			t.Errorf("%q: status %q, want %d", raw, r.Status, code)
		} else {
			c.ExpectClosed()
		}
	}
}

func testLenientFraming(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	r, _ := RoundTrip(t, addr, "\r\n\n\r\nGET /x?q HTTP/1.1\nHost: a\nX-Y:z\n\n")
	if r.Code != 200 || r.BodyField("path") != "/x" || r.BodyField("query") != "q" {
		t.Fatalf("bare LF request: %q %q", r.Status, r.Body)
	}
	if !strings.Contains(r.Body, "header=Host:a\nheader=X-Y:z\n") {
		t.Errorf("headers not parsed: %q", r.Body)
	}
}

// Names with "_" travel on to the wsgi package, which decides whether the app sees them; here
// they must only never act as the headers they resemble.
func testUnderscoreHeadersDoNotFrame(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	// Content_Length is not Content-Length: no body, and "hello" is the next (bad) request.
	c.Send("POST / HTTP/1.1\r\nX_Forwarded_For: evil\r\nContent_Length: 5\r\nX-Ok: 1\r\n\r\nhello\r\n\r\n")
	r := c.Read(false)
	if r.Code != 200 || !strings.Contains(r.Body, "header=X_Forwarded_For:evil\nheader=Content_Length:5\nheader=X-Ok:1\n") {
		t.Fatalf("headers not passed on as sent: %q", r.Body)
	}
	if r.BodyField("length") != "0" || r.BodyField("body") != "" {
		t.Errorf("Content_Length framed a body: %q", r.Body)
	}
	if r2 := c.Read(false); r2.Code != 400 {
		t.Errorf("the smuggled bytes should be a bad request, got %q", r2.Status)
	}
	c.ExpectClosed()
}

func testDuplicateIdenticalLength(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	r, _ := RoundTrip(t, addr, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
	if r.Code != 200 || r.BodyField("body") != "hello" {
		t.Fatalf("got %q %q", r.Status, r.Body)
	}
}

// A second Host or Content-Type line is refused (RFC 9112 §3.2, RFC 9110 §5.3): the app would
// see the two values joined, and a proxy in front may have routed on either one.
func testSingletonHeadersTwice(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	for name, raw := range map[string]string{
		"two hosts":         "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
		"two hosts, cased":  "GET / HTTP/1.1\r\nHost: a\r\nhOsT: a\r\n\r\n",
		"two content types": "POST / HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
	} {
		r, c := RoundTrip(t, addr, raw)
		if r.Code != 400 || r.Header("Connection") != "close" {
			t.Errorf("%s: %q %v", name, r.Status, r.Headers)
		}
		c.ExpectClosed()
	}
	// One of each, and names that only look alike, are served.
	r, _ := RoundTrip(t, addr, "POST / HTTP/1.1\r\nHost: a\r\nX-Host: b\r\nHost_: c\r\n"+
		"Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi")
	if r.Code != 200 || r.BodyField("body") != "hi" {
		t.Fatalf("%q %q", r.Status, r.Body)
	}
}

// A header line counts against --limit-request-field_size with its CRLF, as in gunicorn: with
// the default 8190, 8188 bytes of text fit and 8189 do not, however the line ends.
func testFieldSizeCountsTheLineEnd(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	fits := "X: " + strings.Repeat("v", 8188-len("X: "))
	for _, raw := range []string{
		"GET / HTTP/1.1\r\n" + fits + "\r\n\r\n",
		"GET / HTTP/1.1\n" + fits + "\n\n",
	} {
		if r, _ := RoundTrip(t, addr, raw); r.Code != 200 {
			t.Errorf("8188 bytes of text: %q", r.Status)
		}
	}
	for _, raw := range []string{
		"GET / HTTP/1.1\r\n" + fits + "v\r\n\r\n",
		"GET / HTTP/1.1\n" + fits + "v\n\n",
		"GET / HTTP/1.1\r\n" + fits + "v\r", // refused before the line ends
	} {
		r, c := RoundTrip(t, addr, raw)
		if r.Code != 431 {
			t.Errorf("8189 bytes of text: %q", r.Status)
		}
		c.ExpectClosed()
	}
}

// Through a server: its parser switches reach the parse, a refused request closes only its own
// connection, and the server goes on serving.
func testParseSwitchesInTheServer(t *testing.T, serve Server) {
	cases := []struct {
		name, raw string
		on        httpwire.Parsing
		want      string // the Echo line that shows the switch at work
	}{
		{"unconventional method", "get / HTTP/1.1\r\nHost: x\r\n\r\n",
			httpwire.Parsing{PermitUnconventionalMethod: true}, "method=get\n"},
		{"case-folded method", "get / HTTP/1.1\r\nHost: x\r\n\r\n",
			httpwire.Parsing{PermitUnconventionalMethod: true, CasefoldMethod: true}, "method=GET\n"},
		{"unconventional version", "GET / HTTP/1.2\r\nHost: x\r\n\r\n",
			httpwire.Parsing{PermitUnconventionalVersion: true}, "proto=HTTP/1.2\n"},
		{"spaces before the colon", "GET / HTTP/1.1\r\nHost: x\r\nX-A : v\r\n\r\n",
			httpwire.Parsing{StripHeaderSpaces: true}, "header=X-A:v\n"},
		{"folded header", "GET / HTTP/1.1\r\nX-A: a\r\n b\r\nHost: x\r\n\r\n",
			httpwire.Parsing{PermitObsoleteFolding: true}, "header=X-A:a b\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			strict := serve(t, DefaultLimits(), Echo)
			r, conn := RoundTrip(t, strict, c.raw)
			if r.Code != 400 && r.Code != 505 {
				t.Fatalf("switch off: status %q", r.Status)
			}
			conn.ExpectClosed()
			if r, _ := RoundTrip(t, strict, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); r.Code != 200 {
				t.Fatalf("after a refusal: status %q", r.Status)
			}
			lim := DefaultLimits()
			lim.Parsing = c.on
			relaxed := serve(t, lim, Echo)
			r, conn = RoundTrip(t, relaxed, c.raw)
			if r.Code != 200 || !strings.Contains(r.Body, c.want) {
				t.Fatalf("switch on: status %q, body %q, want a line %q", r.Status, r.Body, c.want)
			}
			// Same connection, next request: nothing of the rewrite is left behind.
			conn.Send("GET /next HTTP/1.1\r\nHost: x\r\nX-A: z\r\n\r\n")
			if r := conn.Read(false); r.Code != 200 || r.BodyField("path") != "/next" {
				t.Fatalf("second request: status %q, body %q", r.Status, r.Body)
			}
		})
	}
}
