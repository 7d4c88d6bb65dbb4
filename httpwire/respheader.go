package httpwire

// HeaderKind is how the engine treats a response header that the application sets.
type HeaderKind int

const (
	HeaderOther HeaderKind = iota // sent as it is
	// HeaderHopByHop is dropped: framing and connection handling are the engine's.
	HeaderHopByHop
	// HeaderConnection is dropped, but its "close" is honoured.
	HeaderConnection
	// HeaderContentLength bounds the body, when ParseContentLength reads it.
	HeaderContentLength
	// HeaderServer and HeaderDate stand instead of the engine's own.
	HeaderServer
	HeaderDate
)

// ResponseHeaderKind is how the engine treats the response header called name. A server that
// speaks HTTP/2 beside the engine holds the application's headers to the same rules.
func ResponseHeaderKind(name []byte) HeaderKind {
	switch {
	case equalFold(name, "content-length"):
		return HeaderContentLength
	case equalFold(name, "connection"):
		return HeaderConnection
	case equalFold(name, "server"):
		return HeaderServer
	case equalFold(name, "date"):
		return HeaderDate
	case equalFold(name, "keep-alive"), equalFold(name, "proxy-authenticate"),
		equalFold(name, "proxy-authorization"), equalFold(name, "te"), equalFold(name, "trailer"),
		equalFold(name, "transfer-encoding"), equalFold(name, "upgrade"):
		return HeaderHopByHop
	}
	return HeaderOther
}

// ParseContentLength reads the value of a Content-Length response header: digits only, with
// blanks around them.
func ParseContentLength(value []byte) (int64, bool) { return parseDecimal(trimOWS(value)) }
