package worker

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/allowlist"
	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

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
	if got := h.Proto + " " + h.Source.String() + " " + h.Dest.String(); got != "TCP4 203.0.113.9:40000 192.0.2.1:443" {
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
		want         *httpwire.Refusal
	}{
		{"10.0.0.0/8", "PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\n", errProxyForbidden},
		{"10.0.0.0/8", string(wiretest.ProxyV2(0x21, 0x11, wiretest.AddressBlock("192.0.2.1", "192.0.2.2", 1, 2), 0)), errProxyForbidden},
		{"127.0.0.1", "PROXY TCP4 203.0.113.9\r\n", errProxyInvalid},
		{"*", string(wiretest.ProxyV2(0x31, 0x11, nil, 0)), errProxyInvalid},
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
		wiretest.WriteText(w, "200 OK", strings.Join([]string{req.RemoteAddr, req.RemotePort, req.ProxyProtocol,
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
	c := wiretest.Dial(t, addr)
	c.Send("PROXY TCP6 2001:db8::7 2001:db8::1 5000 443\r\n" + request + request)
	for range 2 {
		if r := c.Read(false); r.Code != 200 || r.Body != "2001:db8::7 5000 TCP6 2001:db8::1 443 trusted" {
			t.Errorf("v1: %d %q", r.Code, r.Body)
		}
	}
	c = wiretest.Dial(t, addr)
	c.Send(string(wiretest.ProxyV2(0x20, 0x00, nil, 0)) + request)
	local := c.Conn.LocalAddr().(*net.TCPAddr)
	if r := c.Read(false); r.Body != "127.0.0.1 "+strconv.Itoa(local.Port)+"    trusted" {
		t.Errorf("LOCAL: %q", r.Body)
	}
	c = wiretest.Dial(t, addr)
	c.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\nGET / HTTP/1.1\r\n" + "Host: x\r\n\r\n")
	if r := c.Read(false); r.Body != "203.0.113.9 40000 TCP4 192.0.2.1 443 trusted" {
		t.Errorf("trust goes by the peer, not by the client the header names: %q", r.Body)
	}
}

func TestProxyHeaderRefusedOverHTTP(t *testing.T) {
	addr := startProxiedServer(t, peerPolicy{proxyV1: true, proxyAllow: mustAllow(t, "10.0.0.1")})
	c := wiretest.Dial(t, addr)
	c.Send("PROXY TCP4 203.0.113.9 192.0.2.1 40000 443\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.Read(false); r.Code != 403 {
		t.Errorf("untrusted peer: %d %q", r.Code, r.Body)
	}
	c.ExpectClosed()
	c = wiretest.Dial(t, addr)
	c.Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.Read(false); r.Code != 200 || !strings.HasSuffix(r.Body, "untrusted") {
		t.Errorf("a connection without a header from the same peer: %d %q", r.Code, r.Body)
	}
}
