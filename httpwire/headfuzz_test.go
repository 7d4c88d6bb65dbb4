package httpwire

import (
	"bytes"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fuzzLimits are small enough for the fuzzer to reach each of them with short inputs.
func fuzzLimits(p Parsing) Limits {
	lim := testLimits
	lim.RequestLine, lim.Fields, lim.FieldSize = 200, 10, 100
	lim.Parsing = p
	return lim
}

// parsingSwitches turns the low five bits of a fuzz argument into a set of parser switches.
func parsingSwitches(bits uint8) Parsing {
	return Parsing{
		PermitUnconventionalMethod:  bits&1 != 0,
		CasefoldMethod:              bits&2 != 0,
		PermitUnconventionalVersion: bits&4 != 0,
		StripHeaderSpaces:           bits&8 != 0,
		PermitObsoleteFolding:       bits&16 != 0,
	}
}

// headParse is what the engine made of the start of a connection, copied out of the
// connection's buffer so that parses can be compared after it is recycled.
type headParse struct {
	ended bool // the input ended before a complete head
	rerr  *Refusal
	// start is where the head begins in the input, after the empty lines the engine skips;
	// size is its length through the blank line.
	start, size                        int
	method, target, path, query, proto string
	fields                             [][2]string
	contentLength                      int64
	info                               headInfo
}

func (p *headParse) accepted() bool { return !p.ended && p.rerr == nil }

// parseConnHead runs the engine's head reading and parsing on input, delivered piece bytes at a
// time, and checks that the head it found is the one the input holds.
func parseConnHead(t *testing.T, eng *Engine, input []byte, piece int) headParse {
	c, conn := openScripted(eng, input, piece)
	defer c.Reset()
	n, rerr, err := c.readHead()
	if err != nil {
		return headParse{ended: true}
	}
	if rerr != nil {
		return headParse{rerr: rerr}
	}
	p := headParse{start: len(input) - len(conn.input) - (c.w - c.r), size: n}
	head := c.buf[c.r : c.r+n]
	if !bytes.Equal(head, input[p.start:p.start+n]) {
		t.Fatalf("head %q is not the input at %d", head, p.start)
	}
	if len(strings.Trim(string(input[:p.start]), "\r\n")) != 0 || bytes.Contains(input[:p.start], []byte("\r\r")) {
		t.Fatalf("skipped %q, which is not empty lines", input[:p.start])
	}
	if !bytes.HasSuffix(head, []byte("\n\n")) && !bytes.HasSuffix(head, []byte("\n\r\n")) {
		t.Fatalf("head %q does not end with a blank line", head)
	}
	if p.rerr = parseHead(head, c.lineEnds, &c.req, &c.head); p.rerr != nil {
		return p
	}
	req := &c.req
	p.method, p.target, p.proto = string(req.Method), string(req.RawURI), req.Proto
	p.path, p.query = string(req.Path), string(req.Query)
	for _, f := range req.Header {
		p.fields = append(p.fields, [2]string{string(f.Name), string(f.Value)})
	}
	p.contentLength = req.ContentLength
	p.info = c.head
	p.info.lim = nil
	return p
}

// FuzzRequestHead reads and parses arbitrary bytes as a request head, arriving piece bytes at a
// time, with the parser switches the low bits of switches select. A head the engine accepts
// must be one it could serve: its parts well-formed, within the limits, and framed the way its
// headers say. How the bytes arrive must not change the result, and the switches may only turn
// refusals into requests.
func FuzzRequestHead(f *testing.F) {
	var engines [32]*Engine
	for bits := range engines {
		engines[bits] = NewEngine(fuzzLimits(parsingSwitches(uint8(bits))))
	}
	f.Fuzz(func(t *testing.T, input []byte, piece, switches uint8) {
		eng := engines[switches%32]
		p := parseConnHead(t, eng, input, int(piece%64)+1)
		if whole := parseConnHead(t, eng, input, len(input)+1); !reflect.DeepEqual(p, whole) {
			t.Fatalf("in pieces of %d: %+v\nat once: %+v", piece%64+1, p, whole)
		}
		if switches%32 != 0 {
			if strict := parseConnHead(t, engines[0], input, len(input)+1); strict.accepted() && !reflect.DeepEqual(p, strict) {
				t.Fatalf("with switches %05b: %+v\nwithout: %+v", switches%32, p, strict)
			}
		}
		if p.accepted() {
			checkAcceptedHead(t, &p, &eng.lim)
		}
	})
}

// checkAcceptedHead holds an accepted head to the request-line and header rules, checked here
// with other code than the parser's where that is short.
func checkAcceptedHead(t *testing.T, p *headParse, lim *Limits) {
	t.Helper()
	on := lim.Parsing
	switch {
	case !isToken([]byte(p.method)):
		t.Fatalf("method %q is not a token", p.method)
	case !on.PermitUnconventionalMethod && !isConventionalMethod([]byte(p.method)):
		t.Fatalf("method %q accepted without --permit-unconventional-http-method", p.method)
	case on.CasefoldMethod && strings.ToUpper(p.method) != p.method:
		t.Fatalf("method %q not case-folded", p.method)
	case len(p.method)+len(p.target)+len(p.proto)+2 > lim.RequestLine:
		t.Fatalf("request line of %d bytes", len(p.method)+len(p.target)+len(p.proto)+2)
	case p.info.isHead != (p.method == "HEAD"):
		t.Fatalf("method %q, isHead %v", p.method, p.info.isHead)
	}
	checkVersion(t, p, on)
	checkTarget(t, p)
	checkFields(t, p, lim)
	checkFraming(t, p)
}

func checkVersion(t *testing.T, p *headParse, on Parsing) {
	t.Helper()
	v := p.proto
	conventional := v == proto10 || v == proto11
	wellFormed := len(v) == 8 && strings.HasPrefix(v, "HTTP/") && isDigit(v[5]) && v[6] == '.' && isDigit(v[7])
	if !conventional && !(on.PermitUnconventionalVersion && wellFormed) {
		t.Fatalf("version %q accepted", v)
	}
	if p.info.http11 != (v >= proto11) {
		t.Fatalf("version %q, http11 %v", v, p.info.http11)
	}
}

// checkTarget holds the target to a form its method may use (RFC 9112 §3.2), and Path and
// Query to the parts of it a WSGI app sees.
func checkTarget(t *testing.T, p *headParse) {
	t.Helper()
	target := p.target
	if target == "" || strings.ContainsFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		t.Fatalf("target %q is empty or has a blank or control character", target)
	}
	scheme, _, absolute := strings.Cut(target, "://")
	absolute = absolute && scheme != "" && isScheme([]byte(scheme))
	host, port, err := net.SplitHostPort(target)
	authority := err == nil && host != "" && port != ""
	switch {
	case target[0] == '/', absolute:
		if !strings.HasPrefix(p.path, "/") {
			t.Fatalf("target %q, path %q", target, p.path)
		}
	case target == "*" && p.method == "OPTIONS", p.method == "CONNECT" && authority:
		if p.path != target || p.query != "" {
			t.Fatalf("target %q, path %q, query %q", target, p.path, p.query)
		}
	default:
		t.Fatalf("target %q accepted for method %q", target, p.method)
	}
	if strings.ContainsAny(p.path, "?#") || strings.Contains(p.query, "#") {
		t.Fatalf("target %q split into path %q and query %q", target, p.path, p.query)
	}
	if beforeFragment, _, _ := strings.Cut(target, "#"); p.query != "" && !strings.HasSuffix(beforeFragment, "?"+p.query) {
		t.Fatalf("target %q, query %q", target, p.query)
	}
}

// checkFields holds each field to RFC 9110 §5: a token name, a value of visible characters,
// blanks and obs-text without blanks around it, within the field size limit.
func checkFields(t *testing.T, p *headParse, lim *Limits) {
	t.Helper()
	if len(p.fields) > lim.Fields {
		t.Fatalf("%d fields", len(p.fields))
	}
	hosts, types := 0, 0
	for _, f := range p.fields {
		name, value := f[0], f[1]
		switch {
		case !isToken([]byte(name)):
			t.Fatalf("field name %q is not a token", name)
		case strings.Trim(value, " \t") != value:
			t.Fatalf("field %q: value %q has blanks around it", name, value)
		case strings.ContainsFunc(value, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }):
			t.Fatalf("field %q: value %q has a control character", name, value)
		case len(name)+len(":")+len(value)+len(crlf) > lim.FieldSize:
			t.Fatalf("field %q of %d bytes", name, len(name)+len(value))
		}
		hosts += boolCount(strings.EqualFold(name, "Host"))
		types += boolCount(strings.EqualFold(name, "Content-Type"))
	}
	if hosts > 1 || types > 1 {
		t.Fatalf("%d Host and %d Content-Type fields", hosts, types)
	}
}

// checkFraming holds the body framing and connection handling to the fields that decide them
// (RFC 9112 §6 and §9.3).
func checkFraming(t *testing.T, p *headParse) {
	t.Helper()
	var lengths, codings []string
	closeAsked, keepAliveAsked, expects := false, false, 0
	for _, f := range p.fields {
		name, value := strings.ToLower(f[0]), f[1]
		switch name {
		case "content-length":
			lengths = append(lengths, value)
		case "transfer-encoding":
			for coding := range strings.SplitSeq(value, ",") {
				if coding = strings.Trim(coding, " \t"); coding != "" {
					codings = append(codings, strings.ToLower(coding))
				}
			}
		case "connection":
			for option := range strings.SplitSeq(value, ",") {
				option = strings.ToLower(strings.Trim(option, " \t"))
				closeAsked = closeAsked || option == "close"
				keepAliveAsked = keepAliveAsked || option == "keep-alive"
			}
		case "expect":
			if !strings.EqualFold(value, "100-continue") {
				t.Fatalf("expectation %q accepted", value)
			}
			expects++
		}
	}
	switch {
	case len(codings) > 0:
		if len(lengths) > 0 || !p.info.http11 || p.contentLength != -1 ||
			strings.Join(codings, ",") != "chunked" {
			t.Fatalf("codings %q, lengths %q, %s: content length %d", codings, lengths, p.proto, p.contentLength)
		}
	case len(lengths) > 0:
		for _, l := range lengths {
			if l != lengths[0] || strings.Trim(l, "0123456789") != "" || len(l) > 18 {
				t.Fatalf("lengths %q accepted", lengths)
			}
		}
		if want := strings.TrimLeft(lengths[0], "0"); p.contentLength < 0 ||
			p.contentLength > 0 && strconv.FormatInt(p.contentLength, 10) != want || p.contentLength == 0 && want != "" {
			t.Fatalf("lengths %q, content length %d", lengths, p.contentLength)
		}
	case p.contentLength != 0:
		t.Fatalf("no framing fields, content length %d", p.contentLength)
	}
	if keepAlive := !closeAsked && (p.info.http11 || keepAliveAsked); p.info.keepAlive != keepAlive {
		t.Fatalf("%s, close %v, keep-alive %v: keepAlive %v", p.proto, closeAsked, keepAliveAsked, p.info.keepAlive)
	}
	if p.info.expectContinue && (expects == 0 || !p.info.http11 || p.contentLength == 0) {
		t.Fatalf("expects 100 Continue for %s with content length %d", p.proto, p.contentLength)
	}
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}
