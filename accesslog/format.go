// Package accesslog writes one line per answered request, in gunicorn's access log format
// (Apache's combined log format by default) or as one JSON object a line. Lines are formatted in
// Go into a buffer that is written out in whole lines every few milliseconds, so logging costs a
// request well under a microsecond and no system call.
package accesslog

import (
	"bytes"
	"fmt"
	"strings"
)

// DefaultFormat is gunicorn's default access_log_format, Apache's combined log format.
const DefaultFormat = `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`

// atom is what one %(name)s of the format stands for.
type atom uint8

const (
	atomLiteral        atom = iota
	atomRemoteAddr          // h
	atomLogname             // l: identd is never asked, so always "-"
	atomUser                // u: the user of a Basic Authorization header
	atomTime                // t: [10/Oct/2000:13:55:36 -0700]
	atomRequestLine         // r: "GET /path?q HTTP/1.1"
	atomStatus              // s
	atomMethod              // m
	atomPathInfo            // U: PATH_INFO, decoded
	atomQuery               // q
	atomProtocol            // H
	atomBytesOrDash         // b: body bytes, "-" for none
	atomBytes               // B: body bytes
	atomReferer             // f
	atomUserAgent           // a
	atomSeconds             // T: whole seconds
	atomMicroseconds        // D
	atomMilliseconds        // M
	atomDecimalSeconds      // L: seconds with six decimals
	atomPid                 // p: "<pid>"
	atomRequestHeader       // {name}i
	atomResponseHeader      // {name}o
	atomEnviron             // {key}e: a key of the request's WSGI environ
	atomUnknown             // any other name: "-", as gunicorn prints it
)

var letterAtoms = map[string]atom{
	"h": atomRemoteAddr, "l": atomLogname, "u": atomUser, "t": atomTime, "r": atomRequestLine,
	"s": atomStatus, "m": atomMethod, "U": atomPathInfo, "q": atomQuery, "H": atomProtocol,
	"b": atomBytesOrDash, "B": atomBytes, "f": atomReferer, "a": atomUserAgent, "T": atomSeconds,
	"D": atomMicroseconds, "M": atomMilliseconds, "L": atomDecimalSeconds, "p": atomPid,
}

// op is one piece of a compiled format.
type op struct {
	atom atom
	// text is the literal text, the lower-case header name, or the environ key as written.
	text []byte
	// environ is the index of the key in Format.environKeys.
	environ int
	// width pads the value with spaces to at least this many bytes, on the left unless
	// leftAlign; zeroPad pads numbers with zeros instead.
	width     int
	leftAlign bool
	zeroPad   bool
}

// Format is a compiled --access-logformat.
type Format struct {
	ops []op
	// requestHeaders are the lower-case names of the request headers the format reads.
	requestHeaders [][]byte
	// responseHeaders says whether it reads any response header.
	responseHeaders bool
	// environKeys are the environ keys it reads, in the order of their first use.
	environKeys []string
}

// ParseFormat compiles a format written as gunicorn takes it: Python's %-formatting against a
// mapping, so "%(name)s" pieces (d and i work as s; a "-" flag and a width are honoured),
// "%%" for a percent sign, and text between them. Unknown names log "-" as in gunicorn;
// anything Python would refuse is an error here, reported once at start-up rather than on
// every request.
func ParseFormat(text string) (*Format, error) {
	f := &Format{}
	var literal []byte
	flushLiteral := func() {
		if len(literal) > 0 {
			f.ops = append(f.ops, op{atom: atomLiteral, text: literal})
			literal = nil
		}
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c != '%' {
			literal = append(literal, c)
			i++
			continue
		}
		if i+1 < len(text) && text[i+1] == '%' {
			literal = append(literal, '%')
			i += 2
			continue
		}
		piece, next, err := parsePiece(text, i)
		if err != nil {
			return nil, err
		}
		flushLiteral()
		f.add(piece)
		i = next
	}
	flushLiteral()
	return f, nil
}

// parsePiece reads the "%(name)-10s" that starts at text[at].
func parsePiece(text string, at int) (op, int, error) {
	i := at + 1
	if i >= len(text) || text[i] != '(' {
		return op{}, 0, fmt.Errorf("%q at byte %d is not a %%(name)s piece (write %%%% for a percent sign)", clip(text[at:]), at+1)
	}
	// Python allows nested parentheses in the name; so do we.
	depth, start := 1, i+1
	for i++; i < len(text) && depth > 0; i++ {
		switch text[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
	}
	if depth > 0 {
		return op{}, 0, fmt.Errorf("%q at byte %d has no closing parenthesis", clip(text[at:]), at+1)
	}
	name := text[start : i-1]
	o := nameOp(name)
	for ; i < len(text) && (text[i] == '-' || text[i] == '0'); i++ {
		o.leftAlign = o.leftAlign || text[i] == '-'
		o.zeroPad = o.zeroPad || text[i] == '0'
	}
	for ; i < len(text) && text[i] >= '0' && text[i] <= '9'; i++ {
		o.width = o.width*10 + int(text[i]-'0')
		if o.width > 1000 {
			return op{}, 0, fmt.Errorf("the width of %%(%s) is over 1000", name)
		}
	}
	if i >= len(text) {
		return op{}, 0, fmt.Errorf("%%(%s) has no conversion: write %%(%s)s", name, name)
	}
	switch text[i] {
	case 's', 'd', 'i':
	default:
		return op{}, 0, fmt.Errorf("%q at byte %d: only %%(name)s pieces are supported, with an optional - and width", clip(text[at:i+1]), at+1)
	}
	o.zeroPad = o.zeroPad && !o.leftAlign && text[i] != 's'
	return o, i + 1, nil
}

func clip(s string) string {
	if len(s) > 20 {
		return s[:20] + "…"
	}
	return s
}

// nameOp is what a name between the parentheses stands for. {name}i, {name}o and {key}e are
// looked up without regard to case, as gunicorn does.
func nameOp(name string) op {
	if a, ok := letterAtoms[name]; ok {
		return op{atom: a}
	}
	if len(name) > 3 && name[0] == '{' && name[len(name)-2] == '}' {
		inner := name[1 : len(name)-2]
		switch name[len(name)-1] {
		case 'i':
			return op{atom: atomRequestHeader, text: []byte(strings.ToLower(inner))}
		case 'o':
			return op{atom: atomResponseHeader, text: []byte(strings.ToLower(inner))}
		case 'e':
			return op{atom: atomEnviron, text: []byte(inner)}
		}
	}
	return op{atom: atomUnknown}
}

// add appends o and notes what it will need of each request.
func (f *Format) add(o op) {
	switch o.atom {
	case atomUser:
		f.needRequestHeader([]byte("authorization"))
	case atomReferer:
		f.needRequestHeader([]byte("referer"))
	case atomUserAgent:
		f.needRequestHeader([]byte("user-agent"))
	case atomRequestHeader:
		f.needRequestHeader(o.text)
	case atomResponseHeader:
		f.responseHeaders = true
	case atomEnviron:
		o.environ = -1
		for i, key := range f.environKeys {
			if strings.EqualFold(key, string(o.text)) {
				o.environ = i
			}
		}
		if o.environ < 0 {
			o.environ = len(f.environKeys)
			f.environKeys = append(f.environKeys, string(o.text))
		}
	}
	f.ops = append(f.ops, o)
}

func (f *Format) needRequestHeader(name []byte) {
	for _, known := range f.requestHeaders {
		if bytes.Equal(known, name) {
			return
		}
	}
	f.requestHeaders = append(f.requestHeaders, name)
}

// EnvironKeys are the environ keys the format reads ({key}e); the Record carries their values.
func (f *Format) EnvironKeys() []string { return f.environKeys }

// WantsRequestHeader says whether the format reads the request header name: only those are
// copied out of each request.
func (f *Format) WantsRequestHeader(name []byte) bool {
	for _, known := range f.requestHeaders {
		if len(known) == len(name) && equalFoldLower(name, known) {
			return true
		}
	}
	return false
}

// WantsResponseHeaders says whether the format reads any response header.
func (f *Format) WantsResponseHeaders() bool { return f.responseHeaders }

// equalFoldLower compares b with lower, which is already lower case, ignoring ASCII case.
func equalFoldLower(b, lower []byte) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}
