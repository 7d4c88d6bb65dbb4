package httpwire

import "bytes"

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func isAlpha(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }

// hexValue is the value of a hexadecimal digit, and -1 for any other byte.
func hexValue(b byte) int {
	switch {
	case isDigit(b):
		return int(b - '0')
	case 'a' <= b|0x20 && b|0x20 <= 'f':
		return int(b|0x20-'a') + 10
	}
	return -1
}

// trimCR drops the CR of a line that ended with CRLF.
func trimCR(line []byte) []byte {
	if n := len(line); n > 0 && line[n-1] == '\r' {
		return line[:n-1]
	}
	return line
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// equalFold compares b with lower, an all-lowercase ASCII string, ignoring the case of b.
func equalFold(b []byte, lower string) bool {
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

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !tokenByte[c] {
			return false
		}
	}
	return true
}

// tokenByte and fieldValueByte are the RFC 9110 tchar set and the bytes allowed in a field
// value (visible ASCII, SP, HTAB and obs-text; no other control character); methodByte is
// tokenByte without lower-case letters and "#" (isConventionalMethod); uriTextByte is RFC 3986's
// unreserved and sub-delims (isURIText).
var tokenByte, fieldValueByte, methodByte, uriTextByte = func() (token, value, method, uri [256]bool) {
	for c := 0; c < 256; c++ {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		token[c] = alnum || c < 128 && bytes.IndexByte([]byte("!#$%&'*+-.^_`|~"), byte(c)) >= 0
		value[c] = c >= ' ' && c != 0x7f || c == '\t'
		method[c] = token[c] && !('a' <= c && c <= 'z') && c != '#'
		uri[c] = alnum || c < 128 && bytes.IndexByte([]byte("-._~!$&'()*+,;="), byte(c)) >= 0
	}
	return token, value, method, uri
}()
