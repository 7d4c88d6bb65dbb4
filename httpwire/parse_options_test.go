package httpwire

import (
	"strings"
	"testing"
)

var (
	permitMethod  = Parsing{PermitUnconventionalMethod: true}
	casefold      = Parsing{PermitUnconventionalMethod: true, CasefoldMethod: true}
	permitVersion = Parsing{PermitUnconventionalVersion: true}
	stripSpaces   = Parsing{StripHeaderSpaces: true}
	permitFolding = Parsing{PermitObsoleteFolding: true}
	everySwitch   = Parsing{PermitUnconventionalMethod: true, PermitUnconventionalVersion: true,
		CasefoldMethod: true, StripHeaderSpaces: true, PermitObsoleteFolding: true}
)

// parseWith parses head as a server with the given switches does, and sums up the result as
// "METHOD PROTO http11 Name=value|…".
func parseWith(p Parsing, head string) (string, *Refusal) {
	lim := testLimits
	lim.Parsing = p
	var req Request
	h := headInfo{lim: &lim}
	if rerr := parseText(head, &req, &h); rerr != nil {
		return "", rerr
	}
	var fields []string
	for _, f := range req.Header {
		fields = append(fields, string(f.Name)+"="+string(f.Value))
	}
	kind := "http10"
	if h.http11 {
		kind = "http11"
	}
	return string(req.Method) + " " + req.Proto + " " + kind + " " + strings.Join(fields, "|"), nil
}

// Each switch turns a refusal into a request, and changes nothing with the switches off.
func TestHTTPParseSwitches(t *testing.T) {
	cases := []struct {
		name   string
		head   string
		on     Parsing
		strict *Refusal
		want   string
	}{
		{"lower-case method", "get / HTTP/1.1\r\n\r\n", permitMethod, errMethod, "get HTTP/1.1 http11 "},
		{"mixed-case method", "GeT / HTTP/1.1\r\n\r\n", permitMethod, errMethod, "GeT HTTP/1.1 http11 "},
		{"two-letter method", "GE / HTTP/1.1\r\n\r\n", permitMethod, errMethod, "GE HTTP/1.1 http11 "},
		{"one-letter method", "G / HTTP/1.1\r\n\r\n", permitMethod, errMethod, "G HTTP/1.1 http11 "},
		{"21-letter method", "ABCDEFGHIJKLMNOPQRSTU / HTTP/1.1\r\n\r\n", permitMethod, errMethod,
			"ABCDEFGHIJKLMNOPQRSTU HTTP/1.1 http11 "},
		{"method with #", "GE#T / HTTP/1.1\r\n\r\n", permitMethod, errMethod, "GE#T HTTP/1.1 http11 "},
		{"case-folded method", "get / HTTP/1.1\r\n\r\n", casefold, errMethod, "GET HTTP/1.1 http11 "},
		{"case-folded, still with #", "g#t / HTTP/1.1\r\n\r\n", casefold, errMethod, "G#T HTTP/1.1 http11 "},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", permitVersion, errVersionSupport, "GET HTTP/1.2 http11 "},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", permitVersion, errVersionSupport, "GET HTTP/2.0 http11 "},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", permitVersion, errVersionSupport, "GET HTTP/0.9 http10 "},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", stripSpaces, errHeaderName,
			"GET HTTP/1.1 http11 Host=x"},
		{"blanks before colon", "GET / HTTP/1.1\r\nX-A \t :  v \r\n\r\n", stripSpaces, errHeaderName,
			"GET HTTP/1.1 http11 X-A=v"},
		{"folded value", "GET / HTTP/1.1\r\nX-A: a \r\n  b \r\n\tc\r\nX-B: d\r\n\r\n", permitFolding, errFolding,
			"GET HTTP/1.1 http11 X-A=a b c|X-B=d"},
		{"fold after an empty value", "GET / HTTP/1.1\r\nX-A:\r\n b\r\n\r\n", permitFolding, errFolding,
			"GET HTTP/1.1 http11 X-A=b"},
		{"blank continuation line", "GET / HTTP/1.1\r\nX-A: a\r\n \r\nX-B: c\r\n\r\n", permitFolding, errFolding,
			"GET HTTP/1.1 http11 X-A=a|X-B=c"},
		{"fold with bare LF", "GET / HTTP/1.1\nX-A: a\n b\n\n", permitFolding, errFolding,
			"GET HTTP/1.1 http11 X-A=a b"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, rerr := parseWith(Parsing{}, c.head); rerr != c.strict {
				t.Errorf("switches off: %v, want %q", rerr, c.strict.Reason)
			}
			var bare headInfo // a parse outside a server is as strict
			if rerr := parseText(c.head, new(Request), &bare); rerr != c.strict {
				t.Errorf("no limits: %v, want %q", rerr, c.strict.Reason)
			}
			got, rerr := parseWith(c.on, c.head)
			if rerr != nil {
				t.Fatalf("switched on: %s", rerr.Reason)
			}
			if got != c.want {
				t.Errorf("switched on: %q, want %q", got, c.want)
			}
		})
	}
}

// What the switches do not let through.
func TestHTTPParseSwitchesKeepRefusing(t *testing.T) {
	folding := permitFolding
	folding.PermitUnconventionalMethod = true
	cases := []struct {
		name string
		head string
		on   Parsing
		want *Refusal
	}{
		// gunicorn checks the method before it case-folds: alone, the switch lets "get" in no more
		// than before.
		{"case-folding alone", "get / HTTP/1.1\r\n\r\n", Parsing{CasefoldMethod: true}, errMethod},
		{"method not a token", "G(T / HTTP/1.1\r\n\r\n", everySwitch, errMethod},
		{"two-digit minor version", "GET / HTTP/1.10\r\n\r\n", everySwitch, errVersion},
		{"lower-case version", "GET / http/1.1\r\n\r\n", everySwitch, errVersion},
		{"version without minor", "GET / HTTP/3\r\n\r\n", everySwitch, errVersion},
		{"blank inside the name", "GET / HTTP/1.1\r\nX A: v\r\n\r\n", everySwitch, errHeaderName},
		{"blank and no colon", "GET / HTTP/1.1\r\nX-A v\r\n\r\n", everySwitch, errHeaderName},
		{"fold right after the request line", "GET / HTTP/1.1\r\n X-A: v\r\n\r\n", everySwitch, errFolding},
		{"fold right after an unconventional request line", "get / HTTP/1.1\r\n\tX-A: v\r\n\r\n", folding, errFolding},
		// The joined value is what noteHeader sees: a fold cannot hide a second length.
		{"folded Content-Length", "POST / HTTP/1.1\r\nContent-Length: 1\r\n 0\r\n\r\n", everySwitch, errContentLength},
		{"folded Transfer-Encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked,\r\n gzip\r\n\r\n", everySwitch, errTransferCoding},
		{"control character on a continuation line", "GET / HTTP/1.1\r\nX-A: a\r\n b\x01\r\n\r\n", everySwitch, errHeaderValue},
		{"joined line over the field size", "GET / HTTP/1.1\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n " +
			strings.Repeat("b", 5000) + "\r\n\r\n", everySwitch, ErrFieldTooLarge},
	}
	for _, c := range cases {
		if _, rerr := parseWith(c.on, c.head); rerr != c.want {
			t.Errorf("%s: %v, want %q", c.name, rerr, c.want.Reason)
		}
	}
}

func TestHTTPParseSwitchesKeepRequestSemantics(t *testing.T) {
	lim := testLimits
	lim.Parsing = everySwitch
	for head, want := range map[string]struct{ isHead, keepAlive bool }{
		"head / HTTP/1.1\r\n\r\n":                                   {true, true},
		"HEAD / HTTP/0.9\r\n\r\n":                                   {true, false},
		"GET / HTTP/1.2\r\n\r\n":                                    {false, true},
		"GET / HTTP/1.1\r\nConnection:\r\n close\r\n\r\n":           {false, false},
		"GET / HTTP/1.0\r\nConnection : keep-alive\r\n\r\n":         {false, true},
		"POST / HTTP/1.2\r\nTransfer-Encoding: chunked\r\n\r\n":     {false, true},
		"POST / HTTP/0.9\r\nContent-Length:\r\n\t3\r\n\r\nabc":      {false, false},
		"OPTIONS * HTTP/1.1\r\nX-A: one\r\n two\r\nHost: x\r\n\r\n": {false, true},
	} {
		var req Request
		h := headInfo{lim: &lim}
		if rerr := parseText(head, &req, &h); rerr != nil {
			t.Errorf("%q: %s", head, rerr.Reason)
			continue
		}
		if h.isHead != want.isHead || h.keepAlive != want.keepAlive {
			t.Errorf("%q: isHead %v keepAlive %v, want %+v", head, h.isHead, h.keepAlive, want)
		}
	}
}
