package accesslog

import (
	"strconv"
	"time"
)

// textEscape marks the bytes a text line shows escaped: '"' and '\' as \" and \\ (gunicorn
// escapes quotes so that quoted fields stay parseable), control characters as \xHH, as Apache
// and nginx do, so that no value can end a line or forge one. Bytes from 0x80 are written as
// they are: UTF-8 stays readable.
var textEscape = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'], t[0x7f] = true, true, true
	return t
}()

const hexDigits = "0123456789abcdef"

func appendTextValue(dst, v []byte) []byte {
	start := 0
	for i, c := range v {
		if !textEscape[c] {
			continue
		}
		dst = append(dst, v[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		default:
			dst = append(dst, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xf])
		}
		start = i + 1
	}
	return append(dst, v[start:]...)
}

// appendTextValueOrDash is appendTextValue, with "-" for a missing value, as gunicorn shows it.
func appendTextValueOrDash(dst, v []byte) []byte {
	if v == nil {
		return append(dst, '-')
	}
	return appendTextValue(dst, v)
}

func appendStringOrDash(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '-')
	}
	for i := 0; i < len(s); i++ {
		if textEscape[s[i]] {
			return appendTextValue(dst, []byte(s))
		}
	}
	return append(dst, s...)
}

// appendText formats r as one line of f, newline included.
func (l *Logger) appendText(dst []byte, r *Record) []byte {
	d := r.duration()
	for i := range l.format.ops {
		o := &l.format.ops[i]
		start := len(dst)
		dst = l.appendAtom(dst, o, r, d)
		if o.width > 0 {
			dst = pad(dst, start, o)
		}
	}
	return append(dst, '\n')
}

func (l *Logger) appendAtom(dst []byte, o *op, r *Record, d time.Duration) []byte {
	switch o.atom {
	case atomLiteral:
		return append(dst, o.text...)
	case atomRemoteAddr:
		return appendStringOrDash(dst, r.RemoteAddr)
	case atomUser:
		if out, ok := r.appendUserEscaped(dst); ok {
			return out
		}
		return append(dst, '-')
	case atomTime:
		return append(dst, l.clock.at(r.End).clf...)
	case atomRequestLine:
		if r.Method == nil {
			return append(dst, '-')
		}
		dst = appendTextValue(dst, r.Method)
		dst = append(dst, ' ')
		dst = appendTextValue(dst, r.RawURI)
		dst = append(dst, ' ')
		return append(dst, r.Protocol...)
	case atomStatus:
		return strconv.AppendInt(dst, int64(r.Status), 10)
	case atomMethod:
		return appendTextValueOrDash(dst, r.Method)
	case atomPathInfo:
		return appendTextValueOrDash(dst, r.PathInfo)
	case atomQuery:
		return appendTextValueOrDash(dst, r.Query)
	case atomProtocol:
		return appendStringOrDash(dst, r.Protocol)
	case atomBytesOrDash:
		if r.BodyBytes == 0 {
			return append(dst, '-')
		}
		return strconv.AppendInt(dst, r.BodyBytes, 10)
	case atomBytes:
		return strconv.AppendInt(dst, r.BodyBytes, 10)
	case atomReferer:
		return appendTextValueOrDash(dst, r.requestHeader(nameReferer))
	case atomUserAgent:
		return appendTextValueOrDash(dst, r.requestHeader(nameUserAgent))
	case atomSeconds:
		return strconv.AppendInt(dst, int64(d/time.Second), 10)
	case atomMicroseconds:
		return strconv.AppendInt(dst, int64(d/time.Microsecond), 10)
	case atomMilliseconds:
		return strconv.AppendInt(dst, int64(d/time.Millisecond), 10)
	case atomDecimalSeconds:
		return appendDecimalSeconds(dst, d)
	case atomPid:
		return append(dst, l.pidAtom...)
	case atomRequestHeader:
		return appendTextValueOrDash(dst, r.requestHeader(o.text))
	case atomResponseHeader:
		return appendTextValueOrDash(dst, r.responseHeader(o.text))
	case atomEnviron:
		return appendTextValueOrDash(dst, r.environ(o.environ))
	}
	return append(dst, '-') // l and unknown names
}

// appendUserEscaped is appendUser with the name escaped for a text line.
func (r *Record) appendUserEscaped(dst []byte) ([]byte, bool) {
	var scratch [192]byte
	user, ok := r.appendUser(scratch[:0])
	if !ok {
		return dst, false
	}
	return appendTextValue(dst, user), true
}

func (r *Record) environ(i int) []byte {
	if i < len(r.Environ) {
		return r.Environ[i]
	}
	return nil
}

// appendDecimalSeconds writes d as seconds with six decimals, "0.001234".
func appendDecimalSeconds(dst []byte, d time.Duration) []byte {
	us := int64(d / time.Microsecond)
	dst = strconv.AppendInt(dst, us/1e6, 10)
	dst = append(dst, '.')
	frac := us % 1e6
	for div := int64(1e5); div > 0; div /= 10 {
		dst = append(dst, byte('0'+frac/div%10))
	}
	return dst
}

// pad widens the value written since start to o.width, as Python's %-formatting does.
func pad(dst []byte, start int, o *op) []byte {
	n := o.width - (len(dst) - start)
	if n <= 0 {
		return dst
	}
	fill := byte(' ')
	if o.zeroPad {
		fill = '0'
	}
	for range n {
		dst = append(dst, fill)
	}
	if !o.leftAlign {
		value := dst[start : len(dst)-n]
		copy(dst[start+n:], value)
		for i := start; i < start+n; i++ {
			dst[i] = fill
		}
	}
	return dst
}
