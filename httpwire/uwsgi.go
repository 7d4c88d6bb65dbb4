package httpwire

import (
	"bytes"
	"encoding/binary"
)

// The uwsgi protocol (--protocol uwsgi) is what nginx's uwsgi_pass speaks: each connection
// carries one request as a binary packet — modifier1 (0 for WSGI), the size of the vars block
// (u16, little-endian), modifier2, then the vars, each a u16 length and bytes for the name and
// again for the value, CGI-style — followed by CONTENT_LENGTH bytes of body. The answer is
// plain HTTP/1.x, delimited by closing the connection.

// uwsgiHeaderSize is modifier1, the vars block's size and modifier2.
const uwsgiHeaderSize = 4

// UwsgiMalformed is a packet whose framing cannot be trusted: the connection closes unanswered,
// as nothing says where the request ends or that the peer speaks uwsgi at all.
type UwsgiMalformed string

func (e UwsgiMalformed) Error() string { return string(e) }

const (
	errUwsgiModifier  = UwsgiMalformed("modifier1 is not 0 (a WSGI request)")
	errUwsgiTruncated = UwsgiMalformed("the connection ended or stalled inside the packet")
	errUwsgiVarLength = UwsgiMalformed("a var's length runs past the vars block")
)

var (
	methodGET         = []byte("GET")
	contentTypeName   = []byte("Content-Type")
	contentLengthName = []byte("Content-Length")
)

// uwsgiVars is what a packet's vars say beyond its headers; the slices point into the packet.
type uwsgiVars struct {
	method, uri, pathInfo, query []byte
	proto                        string
	contentType, contentLength   []byte
	length                       int64
	remoteAddr, remotePort       []byte
	serverName, serverPort       []byte
	scheme                       string // "" keeps the connection's
}

// ReadUwsgiRequest is ReadRequest for a connection that speaks uwsgi: it reads the
// connection's one packet into Request, and the response will end with the connection. A
// packet whose framing cannot be trusted closes the connection unanswered, with an
// UwsgiMalformed error; one that breaks the limits is answered as a head would be, with a
// *Refusal. Whoever may send a packet may claim any client address, scheme and header: whether
// to believe the peer is the caller's to decide first.
func (c *Conn) ReadUwsgiRequest() error {
	n, rerr, err := c.readUwsgiPacket()
	var v uwsgiVars
	if err == nil && rerr == nil {
		rerr, err = parseUwsgiVars(c.buf[c.r+uwsgiHeaderSize:c.r+n], &c.eng.lim, &v, &c.req)
	}
	if err != nil {
		c.Close(false)
		return err
	}
	if rerr != nil {
		c.Refuse(rerr)
		return rerr
	}
	c.useUwsgiVars(&v)
	c.r += n
	c.requests++
	return nil
}

// readUwsgiPacket reads until buf[r:] holds a whole packet, vars included, and returns its size.
func (c *Conn) readUwsgiPacket() (int, *Refusal, error) {
	armed := false
	for {
		have := c.w - c.r
		if have > 0 && c.buf[c.r] != 0 {
			return 0, nil, errUwsgiModifier
		}
		if have >= uwsgiHeaderSize {
			size := uwsgiHeaderSize + int(binary.LittleEndian.Uint16(c.buf[c.r+1:]))
			switch {
			case size > c.eng.headMax:
				return 0, errHeadTooLarge, nil
			case have >= size:
				return size, nil, nil
			}
		}
		if err := c.fillHead(&armed); err != nil {
			if c.w > c.r {
				return 0, nil, errUwsgiTruncated
			}
			return 0, nil, err
		}
	}
}

// parseUwsgiVars reads a vars block into v and the headers into req. HTTP_* vars become headers
// again ("HTTP_ACCEPT_ENCODING" is "ACCEPT-ENCODING"), renamed in place in block, under the
// limits on request heads. A block that breaks the framing is an error, whatever else is wrong
// with it; a well-framed one that breaks the limits is a Refusal.
func parseUwsgiVars(block []byte, lim *Limits, v *uwsgiVars, req *Request) (*Refusal, error) {
	*v = uwsgiVars{method: methodGET, pathInfo: slashPath, proto: proto11}
	req.Header = req.Header[:0]
	var refusal *Refusal
	for len(block) > 0 {
		key, rest, okKey := uwsgiString(block)
		value, rest, okValue := uwsgiString(rest)
		if !okKey || !okValue {
			return nil, errUwsgiVarLength
		}
		block = rest
		if rerr := v.note(key, value, lim, req); refusal == nil {
			refusal = rerr
		}
	}
	if refusal != nil {
		return refusal, nil
	}
	return v.finish(lim, req), nil
}

// uwsgiString splits a u16-length-prefixed string off b.
func uwsgiString(b []byte) (s, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := 2 + int(binary.LittleEndian.Uint16(b))
	if len(b) < n {
		return nil, nil, false
	}
	return b[2:n], b[n:], true
}

// note takes in one var. Unknown ones (DOCUMENT_ROOT, SCRIPT_NAME, REQUEST_SCHEME) are dropped,
// as in gunicorn: the environ is built from the request, not copied from the peer.
func (v *uwsgiVars) note(key, value []byte, lim *Limits, req *Request) *Refusal {
	switch string(key) {
	case "REQUEST_METHOD":
		v.method = value
	case "REQUEST_URI":
		v.uri = value
	case "PATH_INFO":
		v.pathInfo = value
	case "QUERY_STRING":
		v.query = value
	case "SERVER_PROTOCOL":
		v.proto = uwsgiProto(value)
	case "CONTENT_TYPE":
		v.contentType = value
	case "CONTENT_LENGTH":
		v.contentLength = value
	// nginx also passes the client's own Content-Type and Content-Length as HTTP_ vars: the
	// CGI ones above are what it forwards, so these would only repeat or contradict them.
	case "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH":
	case "REMOTE_ADDR":
		v.remoteAddr = value
	case "REMOTE_PORT":
		v.remotePort = value
	case "SERVER_NAME":
		v.serverName = value
	case "SERVER_PORT":
		v.serverPort = value
	case "HTTPS":
		if equalFold(value, "on") || equalFold(value, "1") || equalFold(value, "true") {
			v.scheme = "https"
		}
	case "UWSGI_SCHEME", "wsgi.url_scheme":
		switch string(value) {
		case "http":
			v.scheme = "http"
		case "https":
			v.scheme = "https"
		}
	default:
		if name, ok := bytes.CutPrefix(key, []byte("HTTP_")); ok {
			for i, b := range name {
				if b == '_' {
					name[i] = '-'
				}
			}
			return addUwsgiHeader(name, value, lim, req)
		}
	}
	return nil
}

// uwsgiProto is SERVER_PROTOCOL as the environ shows it: nginx's own names without allocating,
// anything else that looks like an HTTP version as sent, and "" for the rest (refused).
func uwsgiProto(value []byte) string {
	switch string(value) {
	case proto11:
		return proto11
	case proto10:
		return proto10
	case "HTTP/2.0":
		return "HTTP/2.0"
	case "HTTP/3.0":
		return "HTTP/3.0"
	}
	version, ok := bytes.CutPrefix(value, []byte("HTTP/"))
	if !ok || len(version) == 0 || len(version) > 8 {
		return ""
	}
	for _, b := range version {
		if !isDigit(b) && b != '.' {
			return ""
		}
	}
	return string(value)
}

func addUwsgiHeader(name, value []byte, lim *Limits, req *Request) *Refusal {
	switch {
	case !isToken(name):
		return errHeaderName
	case len(name)+2+len(value) > lim.FieldSize:
		return ErrFieldTooLarge
	case len(req.Header) >= lim.Fields:
		return ErrTooManyFields
	}
	for _, b := range value {
		if !fieldValueByte[b] {
			return errHeaderValue
		}
	}
	req.Header = append(req.Header, HeaderField{Name: name, Value: value})
	return nil
}

// finish checks what the vars said as a whole and adds the body's headers. An empty
// CONTENT_TYPE or CONTENT_LENGTH, which nginx sends for a request without them, is no header.
func (v *uwsgiVars) finish(lim *Limits, req *Request) *Refusal {
	uriSize := len(v.uri)
	if uriSize == 0 {
		uriSize = len(v.pathInfo) + 1 + len(v.query)
	}
	switch {
	case !isToken(v.method):
		return errMethod
	case v.proto == "":
		return errVersion
	case len(v.method)+1+uriSize+1+len(v.proto) > lim.RequestLine:
		return ErrLineTooLong
	}
	for _, b := range v.uri {
		if b <= ' ' || b == 0x7f {
			return errTarget
		}
	}
	if len(v.contentType) > 0 {
		if rerr := addUwsgiHeader(contentTypeName, v.contentType, lim, req); rerr != nil {
			return rerr
		}
	}
	if len(v.contentLength) > 0 {
		n, ok := parseDecimal(v.contentLength)
		if !ok {
			return errContentLength
		}
		v.length = n
		return addUwsgiHeader(contentLengthName, v.contentLength, lim, req)
	}
	return nil
}

// useUwsgiVars puts the parsed vars in the connection's Request and headInfo. Method, RawURI,
// Path and Query are copied out of the read buffer, which body reads overwrite, into
// requestLine. PATH_INFO arrives decoded (nginx's $document_uri) while Path is percent-encoded,
// so its '%' are escaped: the environ then shows PATH_INFO exactly as nginx sent it.
func (c *Conn) useUwsgiVars(v *uwsgiVars) {
	line := append(c.requestLine[:0], v.method...)
	methodEnd := len(line)
	if len(v.uri) > 0 {
		line = append(line, v.uri...)
	} else {
		line = append(line, v.pathInfo...)
		if len(v.query) > 0 {
			line = append(append(line, '?'), v.query...)
		}
	}
	uriEnd := len(line)
	for _, b := range v.pathInfo {
		if b == '%' {
			line = append(line, "%25"...)
		} else {
			line = append(line, b)
		}
	}
	pathEnd := len(line)
	line = append(line, v.query...)
	c.requestLine = line
	c.lineInBuf = false

	req := &c.req
	req.Method, req.RawURI = line[:methodEnd:methodEnd], line[methodEnd:uriEnd:uriEnd]
	req.Path, req.Query = line[uriEnd:pathEnd:pathEnd], line[pathEnd:]
	req.Proto, req.ContentLength = v.proto, v.length
	if v.scheme != "" {
		req.Scheme = v.scheme
	}
	setIfGiven(&req.RemoteAddr, v.remoteAddr)
	setIfGiven(&req.RemotePort, v.remotePort)
	setIfGiven(&req.ServerName, v.serverName)
	setIfGiven(&req.ServerPort, v.serverPort)
	// Not HTTP/1.1 to the engine: the answer is then never chunked, and ends with the
	// connection, which is what uwsgi peers expect.
	c.head = headInfo{isHead: string(v.method) == "HEAD"}
}

func setIfGiven(field *string, value []byte) {
	if len(value) > 0 {
		*field = string(value)
	}
}
