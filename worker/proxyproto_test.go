package worker

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/allowlist"
	"gowsgi/httpwire"
)

func TestDetectProxyHeader(t *testing.T) {
	cases := []struct {
		input  string
		v1, v2 bool
		want   int
	}{
		{"", true, true, proxyNeedMore},
		{"PRO", true, true, proxyNeedMore},
		{"PROXY ", true, true, proxyFound},
		{"PROXY TCP4", true, false, proxyFound},
		{"PROXY ", false, true, proxyAbsent},
		{"PROPFIND / HTTP/1.1", true, true, proxyAbsent},
		{"GET / HTTP/1.1\r\n", true, true, proxyAbsent},
		{"\r\n\r\n\x00", true, true, proxyNeedMore},
		{"\r\n\r\n\x00\r\nQUIT\n\x21", false, true, proxyFound},
		{"\r\n\r\n\x00\r\nQUIT\n\x21", true, false, proxyAbsent},
		{"\r\nGET /", true, true, proxyAbsent},
	}
	for _, c := range cases {
		if got := detectProxyHeader([]byte(c.input), c.v1, c.v2); got != c.want {
			t.Errorf("detect(%q, v1=%v, v2=%v) = %d, want %d", c.input, c.v1, c.v2, got, c.want)
		}
	}
}

func TestParseProxyV1(t *testing.T) {
	valid := map[string]string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET":       "TCP4 192.0.2.1:56324 198.51.100.2:443",
		"PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n":           "TCP6 [2001:db8::1]:1 [2001:db8::2]:65535",
		"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 80 8080\r\n": "TCP6 [::ffff:192.0.2.1]:80 [::ffff:192.0.2.2]:8080",
		"PROXY UNKNOWN\r\n":                          "local",
		"PROXY UNKNOWN ffff::1 ffff::2 whatever\r\n": "local",
		"PROXY TCP4 10.0.0.1 10.0.0.2 0 00080\r\n":   "TCP4 10.0.0.1:0 10.0.0.2:80",
	}
	for input, want := range valid {
		outcome, h, err := parseProxyHeader([]byte(input))
		if err != nil || outcome != proxyFound {
			t.Errorf("%q: outcome %d, error %v", input, outcome, err)
			continue
		}
		if got := describeHeader(h); got != want {
			t.Errorf("%q: got %s, want %s", input, got, want)
		}
		if h.size != strings.Index(input, "\r\n")+2 {
			t.Errorf("%q: size %d", input, h.size)
		}
	}
	malformed := []string{
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443 extra\r\n",
		"PROXY TCP4  192.0.2.1 198.51.100.2 56324 443\r\n",
		"PROXY UDP4 192.0.2.1 198.51.100.2 56324 443\r\n",
		"PROXY TCP4 2001:db8::1 198.51.100.2 56324 443\r\n",
		"PROXY TCP6 192.0.2.1 2001:db8::2 56324 443\r\n",
		"PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 65536 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 -1 443\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 +1 443\r\n",
		"PROXY TCP6 fe80::1%eth0 2001:db8::2 1 2\r\n",
		"PROXY tcp4 192.0.2.1 198.51.100.2 1 2\r\n",
		"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
		"PROXY " + strings.Repeat("x", 120),
	}
	for _, input := range malformed {
		if _, _, err := parseProxyHeader([]byte(input)); err == nil {
			t.Errorf("%q was accepted", input)
		}
	}
	if outcome, _, err := parseProxyHeader([]byte("PROXY TCP4 192.0.2.1 1")); outcome != proxyNeedMore || err != nil {
		t.Errorf("a line still arriving: outcome %d, error %v", outcome, err)
	}
}

func describeHeader(h proxyHeader) string {
	if h.local {
		return "local"
	}
	return h.proto + " " + h.source.String() + " " + h.dest.String()
}

// proxyV2 builds a version 2 header: command and family bytes, the address block and TLVs.
func proxyV2(verCmd, family byte, block []byte, tlvs int) []byte {
	b := append([]byte{}, proxyV2Signature...)
	b = append(b, verCmd, family)
	b = binary.BigEndian.AppendUint16(b, uint16(len(block)+tlvs))
	b = append(b, block...)
	return append(b, make([]byte, tlvs)...)
}

func addressBlock(source, dest string, sourcePort, destPort uint16) []byte {
	b := netip.MustParseAddr(source).AsSlice()
	b = append(b, netip.MustParseAddr(dest).AsSlice()...)
	b = binary.BigEndian.AppendUint16(b, sourcePort)
	return binary.BigEndian.AppendUint16(b, destPort)
}

func TestParseProxyV2(t *testing.T) {
	inet := addressBlock("192.0.2.1", "198.51.100.2", 56324, 443)
	inet6 := addressBlock("2001:db8::1", "2001:db8::2", 4000, 8443)
	valid := []struct {
		header []byte
		want   string
	}{
		{proxyV2(0x21, 0x11, inet, 0), "TCP4 192.0.2.1:56324 198.51.100.2:443"},
		{proxyV2(0x21, 0x21, inet6, 0), "TCP6 [2001:db8::1]:4000 [2001:db8::2]:8443"},
		{proxyV2(0x21, 0x11, inet, 30), "TCP4 192.0.2.1:56324 198.51.100.2:443"},
		{proxyV2(0x20, 0x11, inet, 0), "local"},
		{proxyV2(0x20, 0x00, nil, 0), "local"},
		{proxyV2(0x21, 0x00, nil, 8), "local"},
	}
	for _, c := range valid {
		outcome, h, err := parseProxyHeader(c.header)
		if err != nil || outcome != proxyFound {
			t.Errorf("% x: outcome %d, error %v", c.header, outcome, err)
			continue
		}
		if got := describeHeader(h); got != c.want || h.size != len(c.header) {
			t.Errorf("% x: got %s size %d, want %s size %d", c.header, got, h.size, c.want, len(c.header))
		}
	}
	malformed := [][]byte{
		proxyV2(0x11, 0x11, inet, 0),             // version 1 in a version 2 block
		proxyV2(0x22, 0x11, inet, 0),             // unknown command
		proxyV2(0x21, 0x12, inet, 0),             // UDP
		proxyV2(0x21, 0x31, inet, 200),           // unix socket addresses
		proxyV2(0x21, 0x21, inet, 0),             // IPv6 family, IPv4-sized block
		proxyV2(0x21, 0x11, inet[:8], 0),         // block too short for IPv4
		proxyV2(0x21, 0x41, make([]byte, 12), 0), // unknown family
	}
	for _, header := range malformed {
		if _, _, err := parseProxyHeader(header); err == nil {
			t.Errorf("% x was accepted", header)
		}
	}
	if outcome, _, _ := parseProxyHeader(proxyV2(0x21, 0x21, inet6, 0)[:30]); outcome != proxyNeedMore {
		t.Errorf("an address block still arriving: outcome %d", outcome)
	}
}

// acceptedPair connects a client to a fresh loopback listener and returns both ends.
func acceptedPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func mustAllow(t *testing.T, text string) allowlist.List {
	t.Helper()
	l, err := allowlist.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestPrepareConnTakesOnlyTheHeader(t *testing.T) {
	client, server := acceptedPair(t)
	policy := peerPolicy{proxyV1: true, proxyV2: true, proxyAllow: mustAllow(t, "127.0.0.1")}
	go func() {
		io.WriteString(client, "PROXY TCP4 203.0.")
		time.Sleep(50 * time.Millisecond) // the rest arrives later: prepareConn must wait for it
		io.WriteString(client, "113.9 192.0.2.1 40000 443\r\nGET / HTTP/1.1\r\n")
	}()
	nc, h, refusal := policy.prepareConn(server)
	if nc != server || refusal != nil || h == nil {
		t.Fatalf("conn %v (accepted %v), header %v, refusal %v", nc, server, h, refusal)
	}
	if got := describeHeader(*h); got != "TCP4 203.0.113.9:40000 192.0.2.1:443" {
		t.Errorf("header %s", got)
	}
	if _, ok := nc.(io.ReaderFrom); !ok {
		t.Errorf("the connection lost its ReadFrom, so sendfile")
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	rest := make([]byte, len("GET / HTTP/1.1\r\n"))
	if _, err := io.ReadFull(nc, rest); err != nil || string(rest) != "GET / HTTP/1.1\r\n" {
		t.Errorf("after the header: %q, %v", rest, err)
	}
}

func TestPrepareConnWithoutHeaderConsumesNothing(t *testing.T) {
	client, server := acceptedPair(t)
	io.WriteString(client, "GET / HTTP/1.1\r\n")
	policy := peerPolicy{proxyV1: true, proxyV2: true, proxyAllow: mustAllow(t, "127.0.0.1")}
	nc, h, refusal := policy.prepareConn(server)
	if nc != server || h != nil || refusal != nil {
		t.Fatalf("conn %v header %v refusal %v", nc, h, refusal)
	}
	buf := make([]byte, 16)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "GET / HTTP/1.1\r\n" {
		t.Errorf("read %q, %v", buf, err)
	}
}

func TestPrepareConnRefusals(t *testing.T) {
	cases := []struct {
		allow, input string
		want         *requestError
	}{
		{"10.0.0.0/8", "PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\n", errProxyForbidden},
		{"10.0.0.0/8", string(proxyV2(0x21, 0x11, addressBlock("192.0.2.1", "192.0.2.2", 1, 2), 0)), errProxyForbidden},
		{"127.0.0.1", "PROXY TCP4 203.0.113.9\r\n", errProxyInvalid},
		{"*", string(proxyV2(0x31, 0x11, nil, 0)), errProxyInvalid},
	}
	for _, c := range cases {
		client, server := acceptedPair(t)
		io.WriteString(client, c.input)
		policy := peerPolicy{proxyV1: true, proxyV2: true, proxyAllow: mustAllow(t, c.allow)}
		if _, _, refusal := policy.prepareConn(server); refusal != c.want {
			t.Errorf("allow %s, %q: refusal %v, want %v", c.allow, c.input, refusal, c.want)
		}
	}
}

func TestPrepareConnClosesWhenThePeerLeaves(t *testing.T) {
	client, server := acceptedPair(t)
	client.Close()
	policy := peerPolicy{proxyV1: true, proxyV2: true, proxyAllow: mustAllow(t, "*")}
	if nc, _, refusal := policy.prepareConn(server); nc != nil || refusal != nil {
		t.Errorf("a connection closed at once: conn %v refusal %v", nc, refusal)
	}
}

// startProxiedServer is startServer with a peer policy, answering with what setPeer gave.
func startProxiedServer(t *testing.T, policy peerPolicy) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(testLimits, "http", func(req *httpwire.Request, w httpwire.ResponseWriter) {
		trusted := "untrusted"
		if req.TrustedPeer {
			trusted = "trusted"
		}
		writeText(w, "200 OK", strings.Join([]string{req.RemoteAddr, req.RemotePort, req.ProxyProtocol,
			req.ProxyAddr, req.ProxyPort, trusted}, " "))
	})
	srv.peers = policy
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go srv.serveConn(c)
		}
	}()
	t.Cleanup(func() { l.Close(); srv.shutdown(); srv.wait(time.Now().Add(5 * time.Second)) })
	return l.Addr().String()
}

func TestServedThroughAProxyHeader(t *testing.T) {
	addr := startProxiedServer(t, peerPolicy{proxyV1: true, proxyV2: true, proxyAllow: mustAllow(t, "127.0.0.1"),
		forwardedAllow: mustAllow(t, "127.0.0.1")})
	request := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	c := dial(t, addr)
	c.send("PROXY TCP6 2001:db8::7 2001:db8::1 5000 443\r\n" + request + request)
	for range 2 {
		if r := c.read(false); r.code != 200 || r.body != "2001:db8::7 5000 TCP6 2001:db8::1 443 trusted" {
			t.Errorf("v1: %d %q", r.code, r.body)
		}
	}
	c = dial(t, addr)
	c.send(string(proxyV2(0x20, 0x00, nil, 0)) + request)
	local := c.nc.LocalAddr().(*net.TCPAddr)
	if r := c.read(false); r.body != "127.0.0.1 "+strconv.Itoa(local.Port)+"    trusted" {
		t.Errorf("LOCAL: %q", r.body)
	}
	c = dial(t, addr)
	c.send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\nGET / HTTP/1.1\r\n" + "Host: x\r\n\r\n")
	if r := c.read(false); r.body != "203.0.113.9 40000 TCP4 192.0.2.1 443 trusted" {
		t.Errorf("trust goes by the peer, not by the client the header names: %q", r.body)
	}
}

func TestProxyHeaderRefusedOverHTTP(t *testing.T) {
	addr := startProxiedServer(t, peerPolicy{proxyV1: true, proxyAllow: mustAllow(t, "10.0.0.1")})
	c := dial(t, addr)
	c.send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read(false); r.code != 403 {
		t.Errorf("untrusted peer: %d %q", r.code, r.body)
	}
	c.expectClosed()
	c = dial(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read(false); r.code != 200 || !strings.HasSuffix(r.body, "untrusted") {
		t.Errorf("a connection without a header from the same peer: %d %q", r.code, r.body)
	}
}
