package worker

import (
	"io"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/allowlist"
	"gowsgi/config"
	"gowsgi/httpwire"
	"gowsgi/wsgi"
)

// peerPolicy is what the engine believes of the peers that connect to it: whose scheme and
// forwarder headers count (forwarded_allow_ips), and who may open a connection with a PROXY
// protocol header, and of which versions.
type peerPolicy struct {
	forwardedAllow   allowlist.List
	proxyV1, proxyV2 bool
	proxyAllow       allowlist.List
}

func newPeerPolicy(p config.ProxyConfig) peerPolicy {
	return peerPolicy{
		forwardedAllow: p.ForwardedAllowIPs,
		proxyV1:        p.ProxyProtocol == "v1" || p.ProxyProtocol == "auto",
		proxyV2:        p.ProxyProtocol == "v2" || p.ProxyProtocol == "auto",
		proxyAllow:     p.ProxyAllowIPs,
	}
}

// proxyHeaders is the part of the proxy settings that the wsgi package applies to each request.
func proxyHeaders(p config.ProxyConfig) wsgi.ProxyHeaders {
	return wsgi.ProxyHeaders{SecureScheme: p.SecureSchemeHeaders, Forwarders: p.ForwarderHeaders, HeaderMap: p.HeaderMap}
}

// trusts reports whether the peer of nc is in list. A peer on a unix socket has no address to
// check and is trusted, as gunicorn trusts it: only local processes reach the socket.
func trusts(list allowlist.List, nc net.Conn) bool {
	if _, local := nc.LocalAddr().(*net.UnixAddr); local {
		return true
	}
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		ip, valid := netip.AddrFromSlice(a.IP)
		return valid && list.Allows(ip)
	}
	return list.AllowsAll()
}

var (
	errProxyForbidden = &httpwire.Refusal{Status: "403 Forbidden", Reason: "PROXY protocol header from a peer not in --proxy-allow-from"}
	errProxyInvalid   = &httpwire.Refusal{Status: "400 Bad Request", Reason: "malformed PROXY protocol header"}
)

// prepareConn makes a newly accepted connection ready for HTTP (or for a TLS handshake): with
// the PROXY protocol on, it reads the header a load balancer may send before anything else,
// and returns the connection to serve and the header (nil without one, or for a header that
// names no client). A header from a peer not allowed to send one, or a malformed one, gets a
// refusal to answer before closing; a peer that leaves or stays silent for httpwire.HeaderTimeout gets
// a nil connection, already closed.
//
// The header is taken off the socket itself — peeked at, then read exactly — so no byte after
// it is consumed and the connection served is still the accepted one, with its sendfile and
// half-close.
func (p *peerPolicy) prepareConn(nc net.Conn) (net.Conn, *httpwire.ProxyHeader, *httpwire.Refusal) {
	if !p.proxyV1 && !p.proxyV2 {
		return nc, nil, nil
	}
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nc, nil, nil // not a socket: nothing in front of it to send a header
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		nc.Close()
		return nil, nil, nil
	}
	nc.SetReadDeadline(time.Now().Add(httpwire.HeaderTimeout))
	defer nc.SetReadDeadline(time.Time{})
	var buf [httpwire.ProxyPeekSize]byte
	for seen := 0; ; {
		n, err := peek(raw, buf[:], seen)
		if err != nil || n == 0 {
			nc.Close()
			return nil, nil, nil
		}
		seen = n
		switch httpwire.DetectProxyHeader(buf[:n], p.proxyV1, p.proxyV2) {
		case httpwire.ProxyAbsent:
			return nc, nil, nil
		case httpwire.ProxyNeedMore:
			continue
		}
		if !trusts(p.proxyAllow, nc) {
			return nc, nil, errProxyForbidden
		}
		outcome, h, err := httpwire.ParseProxyHeader(buf[:n])
		switch {
		case err != nil:
			return nc, nil, errProxyInvalid
		case outcome == httpwire.ProxyNeedMore:
			continue
		}
		if _, err := io.CopyN(io.Discard, nc, int64(h.Size)); err != nil {
			nc.Close()
			return nil, nil, nil
		}
		if h.Local {
			return nc, nil, nil
		}
		return nc, &h, nil
	}
}

// peek copies the bytes waiting on the socket into buf without consuming them, once there are
// more than seen of them, and returns how many there are; 0 means the peer closed. It waits no
// longer than the connection's read deadline.
func peek(raw syscall.RawConn, buf []byte, seen int) (int, error) {
	var n int
	var recvErr error
	err := raw.Read(func(fd uintptr) bool {
		n, _, recvErr = unix.Recvfrom(int(fd), buf, unix.MSG_PEEK|unix.MSG_DONTWAIT)
		switch {
		case recvErr == unix.EAGAIN:
			return false
		case recvErr == nil && n > 0 && n <= seen:
			return false // nothing new: wait for the next arrival
		}
		return true
	})
	if err != nil {
		return 0, err
	}
	return n, recvErr
}

// setPeer fills the Request fields of a connection nc that depend on who is at the other end:
// the client a PROXY header named, if any, and whether the peer itself is a trusted proxy.
// Trust goes by the peer, not by the client its header names, as in gunicorn: the peer is who
// wrote the bytes.
func (p *peerPolicy) setPeer(req *httpwire.Request, nc net.Conn, client *httpwire.ProxyHeader) {
	req.TrustedPeer = trusts(p.forwardedAllow, nc)
	if client != nil {
		req.SetProxyClient(client)
	}
}
