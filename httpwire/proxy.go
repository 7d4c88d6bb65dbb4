package httpwire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net/netip"
	"strconv"
)

// The PROXY protocol (haproxy's proxy-protocol.txt) lets a load balancer that forwards TCP
// connections say, before any other byte, whom each connection is really from: version 1 as a
// text line, version 2 as a binary block.

var (
	proxyV1Signature = []byte("PROXY ")
	proxyV2Signature = []byte("\r\n\r\n\x00\r\nQUIT\n")
)

const (
	// proxyV1MaxLine is the longest version 1 line the specification allows, CRLF included.
	proxyV1MaxLine = 107
	// proxyV2Fixed is the signature, version and command, family and length of version 2.
	proxyV2Fixed = 16
	// ProxyPeekSize is enough of a connection's first bytes to parse either version: a whole
	// version 1 line, or version 2's fixed part and an IPv6 address block. TLVs are skipped
	// without being parsed.
	ProxyPeekSize = proxyV1MaxLine
)

// ProxyHeader is a parsed PROXY header.
type ProxyHeader struct {
	// Size is how many bytes the header takes on the connection, TLVs included.
	Size int
	// Local means the header carries no client address (version 1 UNKNOWN, version 2 LOCAL or
	// an unspecified family): the connection's own addresses stand.
	Local bool
	// Proto is "TCP4" or "TCP6"; Source is the client, Dest the address it connected to.
	Proto        string
	Source, Dest netip.AddrPort
}

// ProxyOutcome is what a connection's first bytes say about a PROXY header.
type ProxyOutcome int

const (
	ProxyNeedMore ProxyOutcome = iota // the bytes so far could still begin a header
	ProxyAbsent                       // no header: the bytes are the client's own
	ProxyFound
)

var errProxyMalformed = errors.New("malformed PROXY protocol header")

// DetectProxyHeader says whether b, a connection's first bytes, begins with a header of a
// version enabled by v1 and v2, without parsing it.
func DetectProxyHeader(b []byte, v1, v2 bool) ProxyOutcome {
	outcome := ProxyAbsent
	for _, s := range []struct {
		enabled   bool
		signature []byte
	}{{v1, proxyV1Signature}, {v2, proxyV2Signature}} {
		n := min(len(b), len(s.signature))
		if !s.enabled || !bytes.Equal(b[:n], s.signature[:n]) {
			continue
		}
		if n == len(s.signature) {
			return ProxyFound
		}
		outcome = ProxyNeedMore
	}
	return outcome
}

// ParseProxyHeader parses the header that b begins with (DetectProxyHeader found one). It
// reports ProxyNeedMore while b is too short to hold all it needs. A caller that peeks at the
// connection needs no more than ProxyPeekSize bytes for it to decide.
func ParseProxyHeader(b []byte) (ProxyOutcome, ProxyHeader, error) {
	if bytes.HasPrefix(b, proxyV1Signature) {
		return parseProxyV1(b)
	}
	return parseProxyV2(b)
}

func parseProxyV1(b []byte) (ProxyOutcome, ProxyHeader, error) {
	lf := bytes.IndexByte(b[:min(len(b), proxyV1MaxLine)], '\n')
	switch {
	case lf < 0 && len(b) >= proxyV1MaxLine, lf >= 0 && b[lf-1] != '\r':
		return ProxyFound, ProxyHeader{}, errProxyMalformed
	case lf < 0:
		return ProxyNeedMore, ProxyHeader{}, nil
	}
	end := lf - 1
	h := ProxyHeader{Size: lf + 1}
	fields := bytes.Split(b[len(proxyV1Signature):end], []byte(" "))
	if string(fields[0]) == "UNKNOWN" {
		h.Local = true // the rest of the line is to be ignored
		return ProxyFound, h, nil
	}
	if len(fields) != 5 {
		return ProxyFound, h, errProxyMalformed
	}
	h.Proto = string(fields[0])
	source, errSource := netip.ParseAddr(string(fields[1]))
	dest, errDest := netip.ParseAddr(string(fields[2]))
	sourcePort, okSource := parsePort(fields[3])
	destPort, okDest := parsePort(fields[4])
	family4 := h.Proto == "TCP4"
	switch {
	case h.Proto != "TCP4" && h.Proto != "TCP6", errSource != nil, errDest != nil, !okSource, !okDest,
		source.Zone() != "" || dest.Zone() != "",
		source.Is4() != family4, dest.Is4() != family4:
		return ProxyFound, h, errProxyMalformed
	}
	h.Source, h.Dest = netip.AddrPortFrom(source, sourcePort), netip.AddrPortFrom(dest, destPort)
	return ProxyFound, h, nil
}

// parsePort reads a decimal port, digits only.
func parsePort(b []byte) (uint16, bool) {
	if len(b) == 0 || len(b) > 5 {
		return 0, false
	}
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(string(b), 10, 16)
	return uint16(n), err == nil
}

// Version 2's command, address family and transport protocol.
const (
	proxyV2Local   = 0x0
	proxyV2Proxy   = 0x1
	proxyV2Unspec  = 0x0
	proxyV2Inet    = 0x1
	proxyV2Inet6   = 0x2
	proxyV2Stream  = 0x1
	proxyV2Version = 0x2
)

func parseProxyV2(b []byte) (ProxyOutcome, ProxyHeader, error) {
	if len(b) < proxyV2Fixed {
		return ProxyNeedMore, ProxyHeader{}, nil
	}
	version, command := b[12]>>4, b[12]&0x0f
	family, transport := b[13]>>4, b[13]&0x0f
	length := int(binary.BigEndian.Uint16(b[14:16]))
	h := ProxyHeader{Size: proxyV2Fixed + length}
	if version != proxyV2Version || command != proxyV2Local && command != proxyV2Proxy {
		return ProxyFound, h, errProxyMalformed
	}
	if command == proxyV2Local || family == proxyV2Unspec {
		h.Local = true
		return ProxyFound, h, nil
	}
	addrLen := 0
	switch {
	case transport != proxyV2Stream:
		return ProxyFound, h, errProxyMalformed
	case family == proxyV2Inet:
		addrLen, h.Proto = 12, "TCP4"
	case family == proxyV2Inet6:
		addrLen, h.Proto = 36, "TCP6"
	default:
		return ProxyFound, h, errProxyMalformed // unix sockets are not served
	}
	if length < addrLen {
		return ProxyFound, h, errProxyMalformed
	}
	if len(b) < proxyV2Fixed+addrLen {
		return ProxyNeedMore, h, nil
	}
	block := b[proxyV2Fixed : proxyV2Fixed+addrLen]
	half := (addrLen - 4) / 2
	source, _ := netip.AddrFromSlice(block[:half])
	dest, _ := netip.AddrFromSlice(block[half : 2*half])
	ports := block[2*half:]
	h.Source = netip.AddrPortFrom(source, binary.BigEndian.Uint16(ports[0:2]))
	h.Dest = netip.AddrPortFrom(dest, binary.BigEndian.Uint16(ports[2:4]))
	return ProxyFound, h, nil
}

// SetProxyClient gives req the addresses a PROXY header named: the client's as RemoteAddr and
// RemotePort, and the one the client connected to as ProxyAddr and ProxyPort.
func (req *Request) SetProxyClient(h *ProxyHeader) {
	req.RemoteAddr, req.RemotePort = h.Source.Addr().String(), strconv.Itoa(int(h.Source.Port()))
	req.ProxyProtocol = h.Proto
	req.ProxyAddr, req.ProxyPort = h.Dest.Addr().String(), strconv.Itoa(int(h.Dest.Port()))
}
