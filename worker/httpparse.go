package worker

import (
	"bytes"
	"net/netip"

	"gowsgi/httpwire"
)

// requestError is an answer the engine gives by itself, before or instead of the application.
type requestError struct {
	status string // "400 Bad Request"
	reason string
}

var (
	errRequestLine     = &requestError{"400 Bad Request", "malformed request line"}
	errMethod          = &requestError{"400 Bad Request", "invalid method"}
	errTarget          = &requestError{"400 Bad Request", "invalid request target"}
	errTargetForm      = &requestError{"400 Bad Request", "request target form not allowed for this method"}
	errVersion         = &requestError{"400 Bad Request", "invalid HTTP version"}
	errVersionSupport  = &requestError{"505 HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1 are served"}
	errLineTooLong     = &requestError{"414 URI Too Long", "request line too long"}
	errHeaderLine      = &requestError{"400 Bad Request", "malformed header line"}
	errHeaderName      = &requestError{"400 Bad Request", "invalid header name"}
	errHeaderValue     = &requestError{"400 Bad Request", "invalid character in header value"}
	errFolding         = &requestError{"400 Bad Request", "obsolete line folding"}
	errFieldTooLarge   = &requestError{"431 Request Header Fields Too Large", "header line too long"}
	errTooManyFields   = &requestError{"431 Request Header Fields Too Large", "too many headers"}
	errHeadTooLarge    = &requestError{"431 Request Header Fields Too Large", "request head too large"}
	errContentLength   = &requestError{"400 Bad Request", "invalid Content-Length"}
	errLengthConflict  = &requestError{"400 Bad Request", "conflicting Content-Length headers"}
	errHostTwice       = &requestError{"400 Bad Request", "more than one Host header"}
	errTypeTwice       = &requestError{"400 Bad Request", "more than one Content-Type header"}
	errLengthAndCoding = &requestError{"400 Bad Request", "Content-Length with Transfer-Encoding"}
	errChunkedNotFinal = &requestError{"400 Bad Request", "chunked must be the final transfer coding, once"}
	errChunkedHTTP10   = &requestError{"400 Bad Request", "chunked transfer coding on HTTP/1.0"}
	errTransferCoding  = &requestError{"501 Not Implemented", "unsupported transfer coding"}
	errExpectation     = &requestError{"417 Expectation Failed", "only 100-continue is supported"}
	errNoResponse      = &requestError{"500 Internal Server Error", "no response"}
)

const (
	proto10 = "HTTP/1.0"
	proto11 = "HTTP/1.1"
)

// headInfo is what the engine itself needs from a request head, beside the httpwire.Request.
type headInfo struct {
	http11         bool
	isHead         bool
	keepAlive      bool // the client allows another request on this connection
	expectContinue bool

	contentLength                    int64 // -1 when absent
	connClose, connKeepAlive         bool
	hasCoding, lastChunked, badCodes bool
	chunkedTwice, badExpect          bool
	hostSeen, typeSeen               bool

	// lim holds the switches that relax the parse, set by readHead and kept by parseHead;
	// without it (a parse outside a server), every switch is off. Only the paths where a strict
	// check has failed read it, so the usual request pays nothing for the switches.
	lim *httpwire.Limits
}

// readHead reads until buf[r:] starts with a complete request head and returns its length,
// through the blank line that ends it; lineEnds gets the offset of each line's LF. Empty lines
// before the request line are consumed. A head over the limits yields a requestError; a
// closed, timed-out or shut-down connection yields err, and the connection closes unanswered.
// A header line counts against FieldSize with its CRLF, even when the client sent a bare LF:
// gunicorn counts so, and a limit must let in the same requests there and here.
func (c *httpConn) readHead() (n int, rerr *requestError, err error) {
	lim := &c.srv.lim.Limits
	c.head.lim = lim
	scan := 0
	c.lineEnds = c.lineEnds[:0]
	headArmed := false
	for {
		lines := len(c.lineEnds)
		i := bytes.IndexByte(c.buf[c.r+scan:c.w], '\n')
		if i < 0 {
			partial := c.w - c.r - scan
			switch {
			case lines == 0 && partial > lim.RequestLine+1:
				return 0, errLineTooLong, nil
			// Of a line still without its LF, all but a last CR is text (a lone CR is the
			// blank line that ends the head).
			case lines > 0 && partial > 1 && partial-1+len(crlf) > lim.FieldSize:
				return 0, errFieldTooLarge, nil
			case c.w-c.r >= c.srv.headMax:
				return 0, errHeadTooLarge, nil
			}
			if err := c.fillHead(&headArmed); err != nil {
				return 0, nil, err
			}
			continue
		}
		size := i
		if i > 0 && c.buf[c.r+scan+i-1] == '\r' {
			size--
		}
		switch {
		case lines == 0 && size == 0:
			c.r += i + 1 // an empty line before the request line (RFC 9112 §2.2)
			continue
		case lines == 0 && size > lim.RequestLine:
			return 0, errLineTooLong, nil
		case lines > 0 && size > 0 && size+len(crlf) > lim.FieldSize:
			return 0, errFieldTooLarge, nil
		case lines > lim.Fields && size > 0:
			return 0, errTooManyFields, nil
		}
		c.lineEnds = append(c.lineEnds, int32(scan+i))
		scan += i + 1
		if lines > 0 && size == 0 {
			return scan, nil, nil
		}
	}
}

// parseHead parses a complete request head (request line, header lines, blank line) into req
// and h; ends holds the offset of each line's LF in head. The Request's slices point into head,
// which parsing may rewrite in place (folded lines, a case-folded method).
func parseHead(head []byte, ends []int32, req *httpwire.Request, h *headInfo) *requestError {
	*h = headInfo{contentLength: -1, lim: h.lim}
	req.Header = req.Header[:0]
	start := 0
	for i := 0; i < len(ends); i++ {
		line := trimCR(head[start:ends[i]])
		start = int(ends[i]) + 1
		var rerr *requestError
		// A line that starts with a blank continues the one before (obs-fold).
		if start < len(head) && (head[start] == ' ' || head[start] == '\t') && len(line) > 0 {
			if line, i, rerr = h.unfold(head, ends, i, line); rerr != nil {
				return rerr
			}
			start = int(ends[i]) + 1
		}
		switch {
		case i == 0:
			rerr = parseRequestLine(line, req, h)
		case len(line) == 0:
			return h.finish(req)
		default:
			rerr = parseHeaderLine(line, req, h)
		}
		if rerr != nil {
			return rerr
		}
	}
	return errHeaderLine // not reached: readHead ends every head with a blank line
}

// parseHeaderLine checks one "name: value" line in a single pass over the name and adds it to
// req.Header. Names with "_" are kept: whether they reach the app, where they would alias their
// "-" spelling, is the wsgi package's decision (--header-map, --forwarder-headers).
func parseHeaderLine(line []byte, req *httpwire.Request, h *headInfo) *requestError {
	colon := 0
	for colon < len(line) && tokenByte[line[colon]] {
		colon++
	}
	name, sep := line[:colon], colon
	switch {
	case colon == len(line):
		return errHeaderLine
	case colon == 0:
		return errHeaderName
	case line[colon] != ':':
		if sep = h.colonAfterBlanks(line, colon); sep < 0 {
			return errHeaderName
		}
	}
	value := trimOWS(line[sep+1:])
	for _, b := range value {
		if !fieldValueByte[b] {
			return errHeaderValue
		}
	}
	if rerr := h.noteHeader(name, value); rerr != nil {
		return rerr
	}
	req.Header = append(req.Header, httpwire.HeaderField{Name: name, Value: value})
	return nil
}

func parseRequestLine(line []byte, req *httpwire.Request, h *headInfo) *requestError {
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1+1 {
		return errRequestLine
	}
	method, target, version := line[:sp1], line[sp1+1:sp2], line[sp2+1:]
	if !isConventionalMethod(method) {
		if rerr := h.unconventionalMethod(method); rerr != nil {
			return rerr
		}
	}
	for _, b := range target {
		if b <= ' ' || b == 0x7f {
			return errTarget
		}
	}
	if rerr := checkTargetForm(method, target); rerr != nil {
		return rerr
	}
	switch string(version) {
	case proto11:
		req.Proto, h.http11 = proto11, true
	case proto10:
		req.Proto = proto10
	default:
		if rerr := h.unconventionalVersion(version, req); rerr != nil {
			return rerr
		}
	}
	req.Method, req.RawURI = method, target
	h.isHead = string(method) == "HEAD"
	splitTarget(target, req)
	return nil
}

// checkTargetForm holds the request target to the form its method allows (RFC 9112 §3.2), as
// gunicorn does: a target in another form is read differently by different servers, and an
// authority- or asterisk-form target would reach the app as a PATH_INFO without its leading
// "/". It runs after case-folding, so "connect" folded to CONNECT may use authority-form.
func checkTargetForm(method, target []byte) *requestError {
	switch {
	case target[0] == '/':
		return nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return errTargetForm
		}
		return nil
	case string(method) == "CONNECT" && isAuthorityForm(target):
		return nil
	}
	return checkAbsoluteForm(target)
}

// isAuthorityForm is RFC 9112 §3.2.3's uri-host ":" port, the target of CONNECT.
func isAuthorityForm(target []byte) bool {
	host, port, ok := splitAuthority(target)
	return ok && len(host) > 0 && len(port) > 0 && bytes.IndexByte(target, '@') < 0
}

// checkAbsoluteForm accepts scheme "://" authority, then anything, as absolute-form (RFC 9112
// §3.2.2), and refuses what is neither that nor origin-form, as gunicorn does. The authority
// must parse (RFC 3986 §3.2), which Python's urlsplit partly checks for gunicorn, and an http
// or https one must name a host (RFC 9110 §4.2.1).
func checkAbsoluteForm(target []byte) *requestError {
	sep := bytes.Index(target, []byte("://"))
	if sep <= 0 || !isScheme(target[:sep]) {
		return errTargetForm
	}
	authority := target[sep+3:]
	if end := bytes.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	host, _, ok := splitAuthority(authority)
	if !ok {
		return errTarget
	}
	scheme := target[:sep]
	if len(host) == 0 && (equalFold(scheme, "http") || equalFold(scheme, "https")) {
		return errTarget
	}
	return nil
}

// isScheme is RFC 3986 §3.1's scheme: a letter, then letters, digits, "+", "-" and ".".
func isScheme(b []byte) bool {
	if len(b) == 0 || !isAlpha(b[0]) {
		return false
	}
	for _, c := range b {
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// splitAuthority parses [ userinfo "@" ] host [ ":" port ] (RFC 3986 §3.2) and returns host
// and port, which may be empty. A bracketed host must be an IPv6 address or an IPvFuture
// literal: an unmatched or misplaced bracket, which urlsplit refuses for gunicorn, makes
// proxies and the app disagree on which host was meant.
func splitAuthority(a []byte) (host, port []byte, ok bool) {
	if at := bytes.LastIndexByte(a, '@'); at >= 0 {
		if !isURIText(a[:at], true) {
			return nil, nil, false
		}
		a = a[at+1:]
	}
	hostEnd := 0
	if len(a) > 0 && a[0] == '[' {
		hostEnd = bytes.IndexByte(a, ']') + 1
		if hostEnd == 0 || !isIPLiteral(a[1:hostEnd-1]) {
			return nil, nil, false
		}
	} else {
		if hostEnd = bytes.IndexByte(a, ':'); hostEnd < 0 {
			hostEnd = len(a)
		}
		if !isURIText(a[:hostEnd], false) {
			return nil, nil, false
		}
	}
	host, port = a[:hostEnd], a[hostEnd:]
	if len(port) > 0 {
		if port[0] != ':' {
			return nil, nil, false
		}
		port = port[1:]
	}
	for _, d := range port {
		if !isDigit(d) {
			return nil, nil, false
		}
	}
	return host, port, true
}

// isIPLiteral checks what is between the brackets of an IP-literal: an IPv6 address (with a
// zone, which urlsplit accepts too) or "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
// ParseAddr allocates, but only for an absolute-form target with a bracketed host.
func isIPLiteral(b []byte) bool {
	if len(b) > 0 && (b[0] == 'v' || b[0] == 'V') {
		dot := bytes.IndexByte(b, '.')
		if dot < 2 || dot == len(b)-1 {
			return false
		}
		for _, c := range b[1:dot] {
			if hexValue(c) < 0 {
				return false
			}
		}
		return isURIText(b[dot+1:], true) && bytes.IndexByte(b[dot+1:], '%') < 0
	}
	addr, err := netip.ParseAddr(string(b))
	return err == nil && addr.Is6()
}

// isURIText reports whether b holds only RFC 3986 unreserved and sub-delims characters,
// percent-encoded octets and, if colon, ":": the text of a reg-name or, with colon, a userinfo.
func isURIText(b []byte, colon bool) bool {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case uriTextByte[c], colon && c == ':':
		case c == '%' && i+2 < len(b) && hexValue(b[i+1]) >= 0 && hexValue(b[i+2]) >= 0:
			i += 2
		default:
			return false
		}
	}
	return true
}

// slashPath is the path of an absolute-form target that names no path ("http://host").
var slashPath = []byte("/")

// splitTarget sets Path and Query from the request target. An absolute-form target
// ("http://host/p?q", sent to proxies) contributes only its path; a fragment is not part of
// either.
func splitTarget(target []byte, req *httpwire.Request) {
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	path, query := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	if len(path) > 0 && path[0] != '/' {
		if i := bytes.Index(path, []byte("://")); i > 0 && isToken(path[:i]) {
			path = path[i+3:]
			if j := bytes.IndexByte(path, '/'); j >= 0 {
				path = path[j:]
			} else {
				path = slashPath
			}
		}
	}
	req.Path, req.Query = path, query
}

// noteHeader records the headers that decide framing and connection handling. Names with "_"
// never match here, so "Content_Length" cannot smuggle a length past the checks.
func (h *headInfo) noteHeader(name, value []byte) *requestError {
	switch {
	case equalFold(name, "content-length"):
		n, ok := parseDecimal(value)
		if !ok {
			return errContentLength
		}
		if h.contentLength >= 0 && h.contentLength != n {
			return errLengthConflict
		}
		h.contentLength = n
	case equalFold(name, "transfer-encoding"):
		h.hasCoding = true
		for rest := value; len(rest) > 0; {
			var coding []byte
			coding, rest = nextElement(rest)
			switch {
			case len(coding) == 0:
				continue
			case equalFold(coding, "chunked"):
				h.chunkedTwice = h.chunkedTwice || h.lastChunked
				h.lastChunked = true
			default:
				h.badCodes = true
				h.lastChunked = false
			}
		}
	// Host and Content-Type hold one value (RFC 9110 §5.3): two of them mean different things to
	// different readers, and RFC 9112 §3.2 makes a second Host line a 400.
	case equalFold(name, "host"):
		if h.hostSeen {
			return errHostTwice
		}
		h.hostSeen = true
	case equalFold(name, "content-type"):
		if h.typeSeen {
			return errTypeTwice
		}
		h.typeSeen = true
	case equalFold(name, "connection"):
		h.connClose = h.connClose || hasToken(value, "close")
		h.connKeepAlive = h.connKeepAlive || hasToken(value, "keep-alive")
	case equalFold(name, "expect"):
		if equalFold(value, "100-continue") {
			h.expectContinue = true
		} else {
			h.badExpect = true
		}
	}
	return nil
}

// finish checks the framing headers against each other (RFC 9112 §6) and sets ContentLength.
func (h *headInfo) finish(req *httpwire.Request) *requestError {
	req.ContentLength = 0
	if h.hasCoding {
		switch {
		case h.contentLength >= 0:
			return errLengthAndCoding
		case h.badCodes:
			return errTransferCoding
		case !h.lastChunked || h.chunkedTwice:
			return errChunkedNotFinal
		case !h.http11:
			return errChunkedHTTP10
		}
		req.ContentLength = -1
	} else if h.contentLength > 0 {
		req.ContentLength = h.contentLength
	}
	if h.badExpect {
		return errExpectation
	}
	// HTTP/1.0 clients never expect 100 Continue (RFC 9110 §10.1.1), and nothing needs it
	// without a body.
	h.expectContinue = h.expectContinue && h.http11 && req.ContentLength != 0
	h.keepAlive = !h.connClose && (h.http11 || h.connKeepAlive)
	return nil
}

// parseDecimal accepts digits only: no sign, no spaces, no list, nothing that overflows.
func parseDecimal(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, d := range b {
		if !isDigit(d) {
			return 0, false
		}
		n = n*10 + int64(d-'0')
	}
	return n, true
}

// nextElement splits the first element, trimmed of OWS, off a comma-separated list.
func nextElement(list []byte) (element, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		return trimOWS(list[:i]), list[i+1:]
	}
	return trimOWS(list), nil
}

// hasToken reports whether the comma-separated list holds token, ignoring case.
func hasToken(list []byte, token string) bool {
	for len(list) > 0 {
		var element []byte
		element, list = nextElement(list)
		if equalFold(element, token) {
			return true
		}
	}
	return false
}

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
