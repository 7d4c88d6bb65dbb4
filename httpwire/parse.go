package httpwire

import "bytes"

const (
	proto10 = "HTTP/1.0"
	proto11 = "HTTP/1.1"
)

// headInfo is what the engine itself needs from a request head, beside the Request.
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
	lim *Limits
}

// parseHead parses a complete request head (request line, header lines, blank line) into req
// and h; ends holds the offset of each line's LF in head. The Request's slices point into head,
// which parsing may rewrite in place (folded lines, a case-folded method).
func parseHead(head []byte, ends []int32, req *Request, h *headInfo) *Refusal {
	*h = headInfo{contentLength: -1, lim: h.lim}
	req.Header = req.Header[:0]
	start := 0
	for i := 0; i < len(ends); i++ {
		line := trimCR(head[start:ends[i]])
		start = int(ends[i]) + 1
		var rerr *Refusal
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
func parseHeaderLine(line []byte, req *Request, h *headInfo) *Refusal {
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
	req.Header = append(req.Header, HeaderField{Name: name, Value: value})
	return nil
}

func parseRequestLine(line []byte, req *Request, h *headInfo) *Refusal {
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
	req.SplitTarget()
	return nil
}

// noteHeader records the headers that decide framing and connection handling. Names with "_"
// never match here, so "Content_Length" cannot smuggle a length past the checks.
func (h *headInfo) noteHeader(name, value []byte) *Refusal {
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
func (h *headInfo) finish(req *Request) *Refusal {
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
