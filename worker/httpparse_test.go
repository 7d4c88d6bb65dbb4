package worker

import (
	"strings"
	"testing"

	"gowsgi/httpwire"
)

// parseText runs parseHead on a complete head, with the line ends readHead would find.
func parseText(head string, req *httpwire.Request, h *headInfo) *requestError {
	var ends []int32
	for i := range len(head) {
		if head[i] == '\n' {
			ends = append(ends, int32(i))
		}
	}
	return parseHead([]byte(head), ends, req, h)
}

func TestHTTPParseHeadFields(t *testing.T) {
	var req httpwire.Request
	var h headInfo
	head := "POST /a%20b/c?x=1&y=2#frag HTTP/1.1\r\nHost: example.com\r\nX-Spaced: \t two  words \t\r\n" +
		"Content-Length: 3\r\nX_Under: kept\r\nAccept:\r\n\r\n"
	if rerr := parseText(head, &req, &h); rerr != nil {
		t.Fatalf("parse failed: %s", rerr.reason)
	}
	checks := []struct{ got, want string }{
		{string(req.Method), "POST"},
		{string(req.RawURI), "/a%20b/c?x=1&y=2#frag"},
		{string(req.Path), "/a%20b/c"},
		{string(req.Query), "x=1&y=2"},
		{req.Proto, "HTTP/1.1"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	var names []string
	for _, f := range req.Header {
		names = append(names, string(f.Name)+"="+string(f.Value))
	}
	if got := strings.Join(names, "|"); got != "Host=example.com|X-Spaced=two  words|Content-Length=3|X_Under=kept|Accept=" {
		t.Errorf("headers: %s", got)
	}
	if req.ContentLength != 3 || !h.keepAlive || h.isHead || !h.http11 {
		t.Errorf("length %d keepAlive %v isHead %v http11 %v", req.ContentLength, h.keepAlive, h.isHead, h.http11)
	}
}

func TestHTTPParseTargets(t *testing.T) {
	for target, want := range map[string]string{
		"OPTIONS http://example.com/p/q?z=1": "/p/q z=1",
		"OPTIONS HTTP://example.com":         "/ ",
		"OPTIONS https://h:8080?a":           "/ a",
		"OPTIONS *":                          "* ",
		"CONNECT example.com:443":            "example.com:443 ",
		"OPTIONS /only#x?y":                  "/only ",
	} {
		var req httpwire.Request
		var h headInfo
		if rerr := parseText(target+" HTTP/1.1\r\n\r\n", &req, &h); rerr != nil {
			t.Fatalf("%s: %s", target, rerr.reason)
		}
		if got := string(req.Path) + " " + string(req.Query); got != want {
			t.Errorf("%s: path and query %q, want %q", target, got, want)
		}
	}
}

func TestHTTPParseConnectionSemantics(t *testing.T) {
	cases := []struct {
		head              string
		keepAlive, isHead bool
		expect            bool
	}{
		{"GET / HTTP/1.1\r\n\r\n", true, false, false},
		{"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false, false, false},
		{"GET / HTTP/1.0\r\n\r\n", false, false, false},
		{"HEAD / HTTP/1.0\r\nConnection: x, Keep-Alive\r\n\r\n", true, true, false},
		{"POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", true, false, true},
		{"POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n", true, false, false},
		{"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", false, false, false},
	}
	for _, c := range cases {
		var req httpwire.Request
		var h headInfo
		if rerr := parseText(c.head, &req, &h); rerr != nil {
			t.Fatalf("%q: %s", c.head, rerr.reason)
		}
		if h.keepAlive != c.keepAlive || h.isHead != c.isHead || h.expectContinue != c.expect {
			t.Errorf("%q: keepAlive %v isHead %v expect %v", c.head, h.keepAlive, h.isHead, h.expectContinue)
		}
	}
}

// The reason given matches the rule that was broken, even where another rule would also refuse.
func TestHTTPParseErrorReasons(t *testing.T) {
	for head, want := range map[string]*requestError{
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n":                                       errFolding,
		"GET / HTTP/1.1\r\nX : a\r\n\r\n":                                            errHeaderName,
		"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n":                                        errHeaderValue,
		"GET / HTTP/3\r\n\r\n":                                                       errVersion,
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n":                      errChunkedHTTP10,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n":                errTransferCoding,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n": errLengthAndCoding,
	} {
		var req httpwire.Request
		var h headInfo
		if got := parseText(head, &req, &h); got != want {
			t.Errorf("%q: got %v, want %q", head, got, want.reason)
		}
	}
}

// malformedRequests are heads the engine must refuse, with the status it answers.
var malformedRequests = []struct {
	name, raw string
	code      int
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

func TestHTTPMalformedRequests(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	for _, m := range malformedRequests {
		t.Run(m.name, func(t *testing.T) {
			r, c := roundTrip(t, addr, m.raw)
			if r.code != m.code {
				t.Fatalf("status %q, want %d", r.status, m.code)
			}
			if r.header("Connection") != "close" || r.header("Content-Type") != "text/plain; charset=utf-8" {
				t.Errorf("headers %v", r.headers)
			}
			if !strings.HasPrefix(r.body, r.status[4:]+"\n") {
				t.Errorf("body %q", r.body)
			}
			c.expectClosed()
			// The engine keeps serving other connections.
			if ok, _ := roundTrip(t, addr, "GET /ok HTTP/1.1\r\n\r\n"); ok.code != 200 {
				t.Fatalf("next connection got %q", ok.status)
			}
		})
	}
}

// A client still sending an over-long header gets its 431, not a connection reset.
func TestHTTPHeaderTooLargeWhileSending(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	go c.sendAsync("GET / HTTP/1.1\r\nX: " + strings.Repeat("v", 200000) + "\r\n\r\n")
	if r := c.read(false); r.code != 431 {
		t.Fatalf("status %q", r.status)
	}
	c.expectClosed()
}

func TestHTTPLimitsAtTheEdge(t *testing.T) {
	lim := testLimits
	lim.RequestLine, lim.Fields, lim.FieldSize = len("GET /abcd HTTP/1.1"), 2, len("X: 12345\r\n")
	addr, _ := startServer(t, lim, echo)
	if r, _ := roundTrip(t, addr, "GET /abcd HTTP/1.1\r\nX: 12345\r\nY: 1\r\n\r\n"); r.code != 200 {
		t.Errorf("request at the limits: %q", r.status)
	}
	for raw, code := range map[string]int{
		"GET /abcde HTTP/1.1\r\n\r\n":                414,
		"GET /abcd HTTP/1.1\r\nX: 123456\r\n\r\n":    431,
		"GET /abcd HTTP/1.1\r\nX: 1\nY: 2\nZ: 3\n\n": 431,
		"GET /abcde HTTP/1.1\r\nX: 123456\r\n\r\n":   414,
		"GET /abcd HTTP/1.1\r\nX: 1234567890123\r\n": 431, // refused before the head ends
	} {
		if r, c := roundTrip(t, addr, raw); r.code != code {
			t.Errorf("%q: status %q, want %d", raw, r.status, code)
		} else {
			c.expectClosed()
		}
	}
}

func TestHTTPLenientFraming(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	r, _ := roundTrip(t, addr, "\r\n\n\r\nGET /x?q HTTP/1.1\nHost: a\nX-Y:z\n\n")
	if r.code != 200 || r.bodyField("path") != "/x" || r.bodyField("query") != "q" {
		t.Fatalf("bare LF request: %q %q", r.status, r.body)
	}
	if !strings.Contains(r.body, "header=Host:a\nheader=X-Y:z\n") {
		t.Errorf("headers not parsed: %q", r.body)
	}
}

// Names with "_" travel on to the wsgi package, which decides whether the app sees them; here
// they must only never act as the headers they resemble.
func TestHTTPUnderscoreHeadersDoNotFrame(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	c := dial(t, addr)
	// Content_Length is not Content-Length: no body, and "hello" is the next (bad) request.
	c.send("POST / HTTP/1.1\r\nX_Forwarded_For: evil\r\nContent_Length: 5\r\nX-Ok: 1\r\n\r\nhello\r\n\r\n")
	r := c.read(false)
	if r.code != 200 || !strings.Contains(r.body, "header=X_Forwarded_For:evil\nheader=Content_Length:5\nheader=X-Ok:1\n") {
		t.Fatalf("headers not passed on as sent: %q", r.body)
	}
	if r.bodyField("length") != "0" || r.bodyField("body") != "" {
		t.Errorf("Content_Length framed a body: %q", r.body)
	}
	if r2 := c.read(false); r2.code != 400 {
		t.Errorf("the smuggled bytes should be a bad request, got %q", r2.status)
	}
	c.expectClosed()
}

func TestHTTPDuplicateIdenticalLength(t *testing.T) {
	addr, _ := startServer(t, testLimits, echo)
	r, _ := roundTrip(t, addr, "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello")
	if r.code != 200 || r.bodyField("body") != "hello" {
		t.Fatalf("got %q %q", r.status, r.body)
	}
}
