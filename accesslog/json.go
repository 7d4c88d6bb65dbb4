package accesslog

import (
	"strconv"
	"unicode/utf8"
)

// jsonEscape marks the ASCII bytes a JSON string cannot hold as they are.
var jsonEscape = func() (t [128]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'], t['\\'] = true, true
	return t
}()

// appendJSONString writes v as a JSON string. Valid UTF-8 is kept; a byte that is not part of
// valid UTF-8 becomes the character it stands for in latin-1 (0xE9 is "\u00e9"), which is how
// the WSGI environ decodes it, so that every line is valid JSON whatever a client sends. The
// characters that some readers take for line breaks are escaped too: one object stays one line.
func appendJSONString(dst, v []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(v); {
		c := v[i]
		if c < utf8.RuneSelf {
			if !jsonEscape[c] {
				i++
				continue
			}
			dst = append(dst, v[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = appendUnicodeEscape(dst, rune(c))
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(v[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, v[start:i]...)
			dst = appendUnicodeEscape(dst, rune(c))
		case r == 0x85 || r == 0x2028 || r == 0x2029:
			// Valid in JSON, but line breaks to JavaScript and to Python's splitlines().
			dst = append(dst, v[start:i]...)
			dst = appendUnicodeEscape(dst, r)
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"')
}

// appendUnicodeEscape writes r, from the Basic Multilingual Plane, as \uXXXX.
func appendUnicodeEscape(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendJSONStringOrNull writes a missing value as null.
func appendJSONStringOrNull(dst, v []byte) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, v)
}

func appendJSONStringOrNullString(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return appendJSONString(dst, []byte(s))
}

// appendJSON formats r as one JSON object and a newline: the fixed fields below, then the
// request headers, response headers and environ keys the format names, each as an object.
func (l *Logger) appendJSON(dst []byte, r *Record) []byte {
	dst = append(dst, `{"time":"`...)
	dst = l.clock.at(r.End).appendISO(dst, r.End)
	dst = append(dst, `","pid":`...)
	dst = append(dst, l.pid...)
	dst = append(dst, `,"remote_addr":`...)
	dst = appendJSONStringOrNullString(dst, r.RemoteAddr)
	dst = append(dst, `,"user":`...)
	var scratch [192]byte
	if user, ok := r.appendUser(scratch[:0]); ok {
		dst = appendJSONString(dst, user)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"method":`...)
	dst = appendJSONStringOrNull(dst, r.Method)
	dst = append(dst, `,"path":`...)
	dst = appendJSONStringOrNull(dst, r.Path)
	dst = append(dst, `,"query":`...)
	dst = appendJSONStringOrNull(dst, r.Query)
	dst = append(dst, `,"protocol":`...)
	dst = appendJSONStringOrNullString(dst, r.Protocol)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"bytes":`...)
	dst = strconv.AppendInt(dst, r.BodyBytes, 10)
	dst = append(dst, `,"duration":`...)
	dst = appendDecimalSeconds(dst, r.duration())
	dst = append(dst, `,"referer":`...)
	dst = appendJSONStringOrNull(dst, r.requestHeader(nameReferer))
	dst = append(dst, `,"user_agent":`...)
	dst = appendJSONStringOrNull(dst, r.requestHeader(nameUserAgent))
	dst = l.appendJSONNamed(dst, r, atomRequestHeader, `,"request_headers":{`)
	dst = l.appendJSONNamed(dst, r, atomResponseHeader, `,"response_headers":{`)
	dst = l.appendJSONNamed(dst, r, atomEnviron, `,"environ":{`)
	return append(dst, "}\n"...)
}

// appendJSONNamed writes the object of the format's pieces of one kind ({name}i, {name}o or
// {key}e), under key, or nothing when the format has none. A name used twice is written once.
func (l *Logger) appendJSONNamed(dst []byte, r *Record, kind atom, key string) []byte {
	first := true
	for i := range l.format.ops {
		o := &l.format.ops[i]
		if o.atom != kind || l.format.seenBefore(i) {
			continue
		}
		if first {
			dst = append(dst, key...)
			first = false
		} else {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, o.text)
		dst = append(dst, ':')
		switch kind {
		case atomRequestHeader:
			dst = appendJSONStringOrNull(dst, r.requestHeader(o.text))
		case atomResponseHeader:
			dst = appendJSONStringOrNull(dst, r.responseHeader(o.text))
		default:
			dst = appendJSONStringOrNull(dst, r.environ(o.environ))
		}
	}
	if !first {
		dst = append(dst, '}')
	}
	return dst
}

// seenBefore says whether an op before ops[i] names the same header or environ key.
func (f *Format) seenBefore(i int) bool {
	o := &f.ops[i]
	for j := range i {
		p := &f.ops[j]
		if p.atom != o.atom {
			continue
		}
		if o.atom == atomEnviron && p.environ == o.environ || o.atom != atomEnviron && string(p.text) == string(o.text) {
			return true
		}
	}
	return false
}
