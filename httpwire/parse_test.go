package httpwire

import (
	"strings"
	"testing"
)

// parseText runs parseHead on a complete head, with the line ends readHead would find.
func parseText(head string, req *Request, h *headInfo) *Refusal {
	var ends []int32
	for i := range len(head) {
		if head[i] == '\n' {
			ends = append(ends, int32(i))
		}
	}
	return parseHead([]byte(head), ends, req, h)
}

func TestHTTPParseHeadFields(t *testing.T) {
	var req Request
	var h headInfo
	head := "POST /a%20b/c?x=1&y=2#frag HTTP/1.1\r\nHost: example.com\r\nX-Spaced: \t two  words \t\r\n" +
		"Content-Length: 3\r\nX_Under: kept\r\nAccept:\r\n\r\n"
	if rerr := parseText(head, &req, &h); rerr != nil {
		t.Fatalf("parse failed: %s", rerr.Reason)
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
		var req Request
		var h headInfo
		if rerr := parseText(target+" HTTP/1.1\r\n\r\n", &req, &h); rerr != nil {
			t.Fatalf("%s: %s", target, rerr.Reason)
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
		var req Request
		var h headInfo
		if rerr := parseText(c.head, &req, &h); rerr != nil {
			t.Fatalf("%q: %s", c.head, rerr.Reason)
		}
		if h.keepAlive != c.keepAlive || h.isHead != c.isHead || h.expectContinue != c.expect {
			t.Errorf("%q: keepAlive %v isHead %v expect %v", c.head, h.keepAlive, h.isHead, h.expectContinue)
		}
	}
}

// The reason given matches the rule that was broken, even where another rule would also refuse.
func TestHTTPParseErrorReasons(t *testing.T) {
	for head, want := range map[string]*Refusal{
		"GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n":                                       errFolding,
		"GET / HTTP/1.1\r\nX : a\r\n\r\n":                                            errHeaderName,
		"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n":                                        errHeaderValue,
		"GET / HTTP/3\r\n\r\n":                                                       errVersion,
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n":                      errChunkedHTTP10,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n":                errTransferCoding,
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n": errLengthAndCoding,
	} {
		var req Request
		var h headInfo
		if got := parseText(head, &req, &h); got != want {
			t.Errorf("%q: got %v, want %q", head, got, want.Reason)
		}
	}
}
