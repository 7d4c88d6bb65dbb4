package httpwire

import "strconv"

// Refusal is an answer the engine gives by itself, before or instead of the application: to a
// request it cannot serve, or one its caller will not (Conn.Refuse). It is Status, with Reason
// in a short plain-text body, and the connection closes after it.
type Refusal struct {
	Status string // "400 Bad Request"
	Reason string
}

func (r *Refusal) Error() string { return r.Status + ": " + r.Reason }

// Code is the numeric part of Status.
func (r *Refusal) Code() int {
	s := r.Status
	return int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
}

// BodySize is the size of the answer's body: the reason phrase of Status and Reason, each on a
// line of its own.
func (r *Refusal) BodySize() int { return len(r.Status) - 4 + len(r.Reason) + 2 }

// The Refusals a server that speaks HTTP/2 beside the engine answers as the engine does: for
// the limits they share, and for an application that returned without a response.
var (
	ErrNoResponse    = &Refusal{"500 Internal Server Error", "no response"}
	ErrLineTooLong   = &Refusal{"414 URI Too Long", "request line too long"}
	ErrFieldTooLarge = &Refusal{"431 Request Header Fields Too Large", "header line too long"}
	ErrTooManyFields = &Refusal{"431 Request Header Fields Too Large", "too many headers"}
)

var (
	errRequestLine     = &Refusal{"400 Bad Request", "malformed request line"}
	errMethod          = &Refusal{"400 Bad Request", "invalid method"}
	errTarget          = &Refusal{"400 Bad Request", "invalid request target"}
	errTargetForm      = &Refusal{"400 Bad Request", "request target form not allowed for this method"}
	errVersion         = &Refusal{"400 Bad Request", "invalid HTTP version"}
	errVersionSupport  = &Refusal{"505 HTTP Version Not Supported", "only HTTP/1.0 and HTTP/1.1 are served"}
	errHeaderLine      = &Refusal{"400 Bad Request", "malformed header line"}
	errHeaderName      = &Refusal{"400 Bad Request", "invalid header name"}
	errHeaderValue     = &Refusal{"400 Bad Request", "invalid character in header value"}
	errFolding         = &Refusal{"400 Bad Request", "obsolete line folding"}
	errHeadTooLarge    = &Refusal{"431 Request Header Fields Too Large", "request head too large"}
	errContentLength   = &Refusal{"400 Bad Request", "invalid Content-Length"}
	errLengthConflict  = &Refusal{"400 Bad Request", "conflicting Content-Length headers"}
	errHostTwice       = &Refusal{"400 Bad Request", "more than one Host header"}
	errTypeTwice       = &Refusal{"400 Bad Request", "more than one Content-Type header"}
	errLengthAndCoding = &Refusal{"400 Bad Request", "Content-Length with Transfer-Encoding"}
	errChunkedNotFinal = &Refusal{"400 Bad Request", "chunked must be the final transfer coding, once"}
	errChunkedHTTP10   = &Refusal{"400 Bad Request", "chunked transfer coding on HTTP/1.0"}
	errTransferCoding  = &Refusal{"501 Not Implemented", "unsupported transfer coding"}
	errExpectation     = &Refusal{"417 Expectation Failed", "only 100-continue is supported"}
)

// appendError queues one of the engine's own answers: a short plain-text body, and the
// connection closes after it.
func (c *Conn) appendError(e *Refusal) {
	text := e.Status[4:] // the reason phrase
	w := append(c.wbuf, "HTTP/1.1 "...)
	w = append(w, e.Status...)
	w = append(w, "\r\nServer: gowsgi\r\n"...)
	w = appendDate(w)
	w = append(w, "Connection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "...)
	w = strconv.AppendInt(w, int64(e.BodySize()), 10)
	w = append(w, "\r\n\r\n"...)
	w = append(w, text...)
	w = append(w, '\n')
	w = append(w, e.Reason...)
	c.wbuf = append(w, '\n')
}
