package worker

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"time"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/httpwire"
)

// handshakeTimeout bounds the TLS handshake of a new connection, as httpwire.HeaderTimeout
// bounds the silence of a plain one.
const handshakeTimeout = httpwire.HeaderTimeout

// tlsLayer secures accepted connections: it runs the TLS handshake on the connection's own
// goroutine, then passes the connection on to the HTTP/1.1 engine or, when ALPN chose h2, to
// the HTTP/2 server.
type tlsLayer struct {
	config *tls.Config
	http1  bool
	h2     *h2Server // nil unless --http-protocols offers h2
}

// newTLSLayer sets up TLS in front of engine, or returns nil when s says plain HTTP.
func newTLSLayer(s *config.TLSSettings, engine *httpServer) *tlsLayer {
	if !s.Enabled() {
		return nil
	}
	t := &tlsLayer{
		config: &tls.Config{
			Certificates: []tls.Certificate{s.Certificate},
			ClientAuth:   s.ClientAuth,
			ClientCAs:    s.ClientCAs,
			CipherSuites: s.CipherSuites,
			NextProtos:   s.Protocols,
			MinVersion:   tls.VersionTLS12,
		},
		http1: slices.Contains(s.Protocols, config.ALPNHTTP1),
	}
	if slices.Contains(s.Protocols, config.ALPNHTTP2) {
		t.h2 = newH2Server(engine)
	}
	return t
}

// urlScheme is wsgi.url_scheme for connections set up by s.
func urlScheme(s *config.TLSSettings) string {
	if s.Enabled() {
		return "https"
	}
	return "http"
}

// shutdown starts the graceful stop of the HTTP/2 connections.
func (t *tlsLayer) shutdown() {
	if t.h2 != nil {
		t.h2.shutdown()
	}
}

// wait reports whether the HTTP/2 connections all closed before deadline.
func (t *tlsLayer) wait(deadline time.Time) bool {
	return t.h2 == nil || t.h2.wait(deadline)
}

// secure runs the handshake on nc, whose PROXY header (if any) gave client, and returns the connection for the HTTP/1.1 engine, or nil
// when the handshake failed or HTTP/2 took the connection over. A client that fails the
// handshake (no client certificate, no common cipher) is logged at debug level only: it is the
// client's problem, and gunicorn does not log it either at its default level.
func (t *tlsLayer) secure(nc net.Conn, client *httpwire.ProxyHeader) net.Conn {
	tc := tls.Server(nc, t.config)
	tc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := tc.Handshake(); err != nil {
		errorlog.Debug("TLS handshake with %s failed: %v", nc.RemoteAddr(), err)
		answerPlainHTTP(err)
		nc.Close()
		return nil
	}
	tc.SetDeadline(time.Time{})
	switch proto := tc.ConnectionState().NegotiatedProtocol; {
	case proto == config.ALPNHTTP2 && t.h2 != nil:
		t.h2.serve(tc, client)
		return nil
	case !t.http1:
		// Only h2 is offered, and a client without ALPN got through the handshake.
		tc.Close()
		return nil
	}
	return tc
}

// answerPlainHTTP tells a client that spoke plain HTTP to the HTTPS port what went wrong,
// instead of leaving it with a closed connection.
func answerPlainHTTP(err error) {
	var header tls.RecordHeaderError
	if !errors.As(err, &header) || header.Conn == nil || !looksLikeHTTP(header.RecordHeader[:]) {
		return
	}
	header.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	io.WriteString(header.Conn, "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"+
		"Connection: close\r\n\r\nThis server speaks HTTPS only.\n")
}

// looksLikeHTTP reports whether the first bytes of a connection are the start of an HTTP
// request line rather than a TLS record.
func looksLikeHTTP(first []byte) bool {
	for _, method := range []string{"GET ", "HEAD ", "POST ", "PUT ", "DELETE", "OPTIONS", "PATCH"} {
		n := min(len(method), len(first))
		if string(first[:n]) == method[:n] {
			return true
		}
	}
	return false
}
