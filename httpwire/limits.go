package httpwire

import "time"

// Limits bound what one request may make the engine hold, so that a hostile client cannot make
// it buffer without end, and say how it treats what it reads.
type Limits struct {
	// RequestLine, Fields and FieldSize are gunicorn's limit_request_line, limit_request_fields
	// and limit_request_field_size, already resolved: 0 does not mean unlimited but the engine's
	// own bound (8190, 32768 and 65534).
	RequestLine, Fields, FieldSize int
	// Keepalive is the idle time allowed between requests on a keep-alive connection; 0 or less
	// turns keep-alive off.
	Keepalive time.Duration
	// Sendfile lets SendFile use sendfile(2); off, file bodies are copied through user space.
	Sendfile bool
	// Parsing relaxes the request parser.
	Parsing Parsing
}

// Parsing holds gunicorn's switches that relax the request parser, each off by default: each
// lets in requests that RFC 9112 refuses, and that a proxy in front may read otherwise.
type Parsing struct {
	// PermitUnconventionalMethod accepts any token as a method: shorter than 3 or longer than
	// 20 characters, with lower-case letters or with "#".
	PermitUnconventionalMethod bool
	// PermitUnconventionalVersion serves HTTP versions other than 1.0 and 1.1.
	PermitUnconventionalVersion bool
	// CasefoldMethod upper-cases a method that PermitUnconventionalMethod lets in.
	CasefoldMethod bool
	// StripHeaderSpaces drops blanks between a header's name and its colon instead of
	// refusing the request.
	StripHeaderSpaces bool
	// PermitObsoleteFolding joins a header line that starts with a blank to the line before.
	PermitObsoleteFolding bool
}
