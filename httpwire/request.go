package httpwire

import (
	"errors"
	"io"
	"net"
	"os"
	"strconv"
)

// ErrMalformedBody is what Body.Read errors wrap when the client sent a body that breaks HTTP
// framing (a bad chunk size, say): the answer is then 400, not an application error.
var ErrMalformedBody = errors.New("malformed request body")

// HeaderField is one request or response header as it travels on the wire. The engine's slices
// may point into its read buffer: they stay valid until the first Body.Read of the request
// (Method, RawURI, Path and Query of a Request stay valid for the whole request).
type HeaderField struct {
	Name  []byte
	Value []byte
}

// Request is one request as the HTTP engine parsed it.
type Request struct {
	Method []byte
	// RawURI is the request target exactly as sent ("/a%20b?x=1").
	RawURI []byte
	// Path and Query split RawURI at the first '?'; Path is still percent-encoded, and the
	// scheme and authority of an absolute-form target are already removed.
	Path  []byte
	Query []byte
	// Proto is "HTTP/1.0", "HTTP/1.1" or "HTTP/2".
	Proto  string
	Header []HeaderField
	// ContentLength is the declared body length, or -1 for a chunked body.
	ContentLength int64
	// Body yields the decoded body bytes and then io.EOF. It is never nil; a request without a
	// body reads as empty. The engine answers "Expect: 100-continue" on the first Read. Errors
	// caused by malformed framing wrap ErrMalformedBody.
	Body io.Reader

	RemoteAddr string
	RemotePort string
	ServerName string
	ServerPort string
	// Scheme is "http" or "https".
	Scheme string
	// TrustedPeer says the connection comes from a proxy in forwarded_allow_ips (or over a unix
	// socket), whose secure scheme and forwarder headers are believed.
	TrustedPeer bool
	// ProxyProtocol is "TCP4" or "TCP6" when a PROXY protocol header gave RemoteAddr and
	// RemotePort; ProxyAddr and ProxyPort are then the address the client connected to.
	ProxyProtocol        string
	ProxyAddr, ProxyPort string
}

// ResponseWriter is how a response goes back to the engine, which owns framing: Date and Server,
// Connection and other hop-by-hop headers (the ones the application sets are dropped), chunked
// encoding on HTTP/1.1 when there is no Content-Length, no body for HEAD, 1xx, 204 and 304, and no
// byte past a declared Content-Length.
type ResponseWriter interface {
	// WriteHeader queues the status line and headers. status is the WSGI status ("200 OK"),
	// already validated; code is its numeric part. Nothing is sent before the first Write,
	// SendFile or Flush, so a later error can still turn the answer into a 500.
	WriteHeader(status []byte, code int, header []HeaderField) error
	// Write sends body bytes (after the queued header).
	Write(p []byte) (int, error)
	// Flush pushes everything queued to the client.
	Flush() error
	// SendFile sends n bytes of f from offset off (n < 0: to the end) with sendfile where it can.
	SendFile(f *os.File, off, n int64) error
	// HeaderSent reports whether any byte of the response has reached the connection.
	HeaderSent() bool
	// Abort marks the connection to be closed after this response, without completing it when
	// the header was already sent (an application error half way through a body).
	Abort()
}

// SetAddresses fills the addresses and the scheme of a request from those of its connection.
// For unix sockets, SERVER_NAME is the socket path and SERVER_PORT the scheme's default port, as
// gunicorn reports them.
func (req *Request) SetAddresses(local, remote net.Addr, scheme string) {
	req.Scheme = scheme
	switch a := local.(type) {
	case *net.TCPAddr:
		req.ServerName, req.ServerPort = a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		req.ServerName, req.ServerPort = a.Name, "80"
		if scheme == "https" {
			req.ServerPort = "443"
		}
	default:
		req.ServerName, req.ServerPort = splitAddr(a)
	}
	switch a := remote.(type) {
	case *net.TCPAddr:
		req.RemoteAddr, req.RemotePort = a.IP.String(), strconv.Itoa(a.Port)
	case *net.UnixAddr:
		req.RemoteAddr, req.RemotePort = "", ""
	default:
		req.RemoteAddr, req.RemotePort = splitAddr(a)
	}
}

func splitAddr(a net.Addr) (host, port string) {
	if a == nil {
		return "", ""
	}
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), ""
	}
	return host, port
}
