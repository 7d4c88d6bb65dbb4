package wsgi

import "encoding/binary"

// Environ keys the C side knows by index; the order matches key_names in pyembed/environ.c.
const (
	keyRequestMethod = iota
	keyScriptName
	keyPathInfo
	keyQueryString
	keyContentType
	keyContentLength
	keyServerName
	keyServerPort
	keyServerProtocol
	keyRemoteAddr
	keyRemotePort
	keyRawURI
	keyURLScheme
	firstHeaderKey
)

// literalKey marks an entry whose key name follows in the buffer.
const literalKey = 255

// commonHeaders maps lower-case header names to their interned environ key, so the most
// frequent headers cost no key string per request. The order continues key_names in
// pyembed/environ.c.
var commonHeaders = map[string]byte{}

func init() {
	names := []string{"host", "user-agent", "accept", "accept-encoding", "accept-language",
		"connection", "cookie", "referer", "cache-control", "origin", "authorization",
		"x-forwarded-for", "x-forwarded-proto", "x-requested-with", "if-modified-since",
		"if-none-match", "upgrade-insecure-requests", "pragma", "x-real-ip"}
	for i, n := range names {
		commonHeaders[n] = byte(firstHeaderKey + i)
	}
}

// environBuffer packs the per-request environ entries for one C call: a key byte (or 255, a
// u16 length and the name), a u32 value length and the value bytes.
type environBuffer struct {
	b []byte
}

func (e *environBuffer) reset() { e.b = e.b[:0] }

func (e *environBuffer) add(key byte, value []byte) {
	e.b = append(e.b, key)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(value)))
	e.b = append(e.b, value...)
}

func (e *environBuffer) addString(key byte, value string) {
	e.b = append(e.b, key)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(value)))
	e.b = append(e.b, value...)
}

// addLiteral adds an entry whose key has no index: a name the C side does not intern.
func (e *environBuffer) addLiteral(name, value string) {
	e.b = append(e.b, literalKey)
	e.b = binary.LittleEndian.AppendUint16(e.b, uint16(len(name)))
	e.b = append(e.b, name...)
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(value)))
	e.b = append(e.b, value...)
}

// addHeader adds a request header under its CGI name: CONTENT_TYPE and CONTENT_LENGTH as they
// are, every other as HTTP_NAME with "-" turned into "_".
func (e *environBuffer) addHeader(name, value []byte) {
	var lower [32]byte
	if len(name) <= len(lower) {
		for i, c := range name {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
		switch string(lower[:len(name)]) {
		case "content-type":
			e.add(keyContentType, value)
			return
		case "content-length":
			e.add(keyContentLength, value)
			return
		}
		if key, ok := commonHeaders[string(lower[:len(name)])]; ok {
			e.add(key, value)
			return
		}
	}
	e.b = append(e.b, literalKey)
	e.b = binary.LittleEndian.AppendUint16(e.b, uint16(len("HTTP_")+len(name)))
	e.b = append(e.b, "HTTP_"...)
	for _, c := range name {
		switch {
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		case c == '-':
			c = '_'
		}
		e.b = append(e.b, c)
	}
	e.b = binary.LittleEndian.AppendUint32(e.b, uint32(len(value)))
	e.b = append(e.b, value...)
}

// appendUnescaped appends the percent-decoded path. A '%' not followed by two hex digits stays
// as it is, as most servers do, instead of failing the request.
func appendUnescaped(dst, path []byte) []byte {
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c == '%' && i+2 < len(path) {
			hi, ok1 := unhex(path[i+1])
			lo, ok2 := unhex(path[i+2])
			if ok1 && ok2 {
				dst = append(dst, hi<<4|lo)
				i += 2
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
