package wiretest

import "encoding/binary"

// UwsgiPacket builds a uwsgi packet with modifier1 0 (a WSGI request) from name, value pairs.
func UwsgiPacket(pairs ...string) []byte {
	var vars []byte
	for _, s := range pairs {
		vars = binary.LittleEndian.AppendUint16(vars, uint16(len(s)))
		vars = append(vars, s...)
	}
	return append(UwsgiHeader(len(vars)), vars...)
}

// UwsgiHeader is the start of a packet whose vars take datasize bytes.
func UwsgiHeader(datasize int) []byte {
	return []byte{0, byte(datasize), byte(datasize >> 8), 0}
}

// NginxPost is a request as nginx sends it with uwsgi_pass and Debian's uwsgi_params, with a
// body of 5 bytes to follow.
var NginxPost = UwsgiPacket(
	"QUERY_STRING", "x=1", "REQUEST_METHOD", "POST", "CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "5",
	"REQUEST_URI", "/p%25q?x=1", "PATH_INFO", "/p%q", "DOCUMENT_ROOT", "/usr/share/nginx/html",
	"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "https", "HTTPS", "on",
	"REMOTE_ADDR", "203.0.113.9", "REMOTE_PORT", "40123", "SERVER_PORT", "443", "SERVER_NAME", "example.com",
	"HTTP_HOST", "example.com", "HTTP_X_FORWARDED_FOR", "198.51.100.1",
	"HTTP_CONTENT_TYPE", "text/plain", "HTTP_CONTENT_LENGTH", "5")

// MalformedUwsgi are packets whose framing is broken: the connection closes unanswered.
var MalformedUwsgi = map[string][]byte{
	"modifier1 not 0":        append([]byte{5}, UwsgiPacket("REQUEST_METHOD", "GET")[1:]...),
	"HTTP instead":           []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	"header cut short":       {0, 10},
	"vars cut short":         append(UwsgiHeader(100), UwsgiPacket("REQUEST_METHOD", "GET")[4:]...),
	"key past the block":     append(UwsgiHeader(3), 0xff, 0, 'A'),
	"value past the block":   append(UwsgiHeader(7), 1, 0, 'A', 10, 0, 'b', 'c'),
	"value size missing":     append(UwsgiHeader(3), 1, 0, 'A'),
	"byte after the last":    append(UwsgiHeader(7), 1, 0, 'A', 1, 0, 'b', 7),
	"datasize over the vars": append(UwsgiHeader(7), 1, 0, 'A', 1, 0, 'b'),
	// An empty header name would be refused, but the stray byte after it breaks the framing.
	"refusal then bad framing": append(UwsgiHeader(10), append(UwsgiPacket("HTTP_", "")[4:], 9)...),
}
