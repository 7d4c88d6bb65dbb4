package httpwire_test

import (
	"strings"
	"testing"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

func TestDetectProxyHeader(t *testing.T) {
	cases := []struct {
		input  string
		v1, v2 bool
		want   httpwire.ProxyOutcome
	}{
		{"", true, true, httpwire.ProxyNeedMore},
		{"PRO", true, true, httpwire.ProxyNeedMore},
		{"PROXY ", true, true, httpwire.ProxyFound},
		{"PROXY TCP4", true, false, httpwire.ProxyFound},
		{"PROXY ", false, true, httpwire.ProxyAbsent},
		{"PROPFIND / HTTP/1.1", true, true, httpwire.ProxyAbsent},
		{"GET / HTTP/1.1\r\n", true, true, httpwire.ProxyAbsent},
		{"\r\n\r\n\x00", true, true, httpwire.ProxyNeedMore},
		{"\r\n\r\n\x00\r\nQUIT\n\x21", false, true, httpwire.ProxyFound},
		{"\r\n\r\n\x00\r\nQUIT\n\x21", true, false, httpwire.ProxyAbsent},
		{"\r\nGET /", true, true, httpwire.ProxyAbsent},
	}
	for _, c := range cases {
		if got := httpwire.DetectProxyHeader([]byte(c.input), c.v1, c.v2); got != c.want {
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
		outcome, h, err := httpwire.ParseProxyHeader([]byte(input))
		if err != nil || outcome != httpwire.ProxyFound {
			t.Errorf("%q: outcome %d, error %v", input, outcome, err)
			continue
		}
		if got := describeHeader(h); got != want {
			t.Errorf("%q: got %s, want %s", input, got, want)
		}
		if h.Size != strings.Index(input, "\r\n")+2 {
			t.Errorf("%q: size %d", input, h.Size)
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
		if _, _, err := httpwire.ParseProxyHeader([]byte(input)); err == nil {
			t.Errorf("%q was accepted", input)
		}
	}
	if outcome, _, err := httpwire.ParseProxyHeader([]byte("PROXY TCP4 192.0.2.1 1")); outcome != httpwire.ProxyNeedMore || err != nil {
		t.Errorf("a line still arriving: outcome %d, error %v", outcome, err)
	}
}

func describeHeader(h httpwire.ProxyHeader) string {
	if h.Local {
		return "local"
	}
	return h.Proto + " " + h.Source.String() + " " + h.Dest.String()
}

func TestParseProxyV2(t *testing.T) {
	inet := wiretest.AddressBlock("192.0.2.1", "198.51.100.2", 56324, 443)
	inet6 := wiretest.AddressBlock("2001:db8::1", "2001:db8::2", 4000, 8443)
	valid := []struct {
		header []byte
		want   string
	}{
		{wiretest.ProxyV2(0x21, 0x11, inet, 0), "TCP4 192.0.2.1:56324 198.51.100.2:443"},
		{wiretest.ProxyV2(0x21, 0x21, inet6, 0), "TCP6 [2001:db8::1]:4000 [2001:db8::2]:8443"},
		{wiretest.ProxyV2(0x21, 0x11, inet, 30), "TCP4 192.0.2.1:56324 198.51.100.2:443"},
		{wiretest.ProxyV2(0x20, 0x11, inet, 0), "local"},
		{wiretest.ProxyV2(0x20, 0x00, nil, 0), "local"},
		{wiretest.ProxyV2(0x21, 0x00, nil, 8), "local"},
	}
	for _, c := range valid {
		outcome, h, err := httpwire.ParseProxyHeader(c.header)
		if err != nil || outcome != httpwire.ProxyFound {
			t.Errorf("% x: outcome %d, error %v", c.header, outcome, err)
			continue
		}
		if got := describeHeader(h); got != c.want || h.Size != len(c.header) {
			t.Errorf("% x: got %s size %d, want %s size %d", c.header, got, h.Size, c.want, len(c.header))
		}
	}
	malformed := [][]byte{
		wiretest.ProxyV2(0x11, 0x11, inet, 0),             // version 1 in a version 2 block
		wiretest.ProxyV2(0x22, 0x11, inet, 0),             // unknown command
		wiretest.ProxyV2(0x21, 0x12, inet, 0),             // UDP
		wiretest.ProxyV2(0x21, 0x31, inet, 200),           // unix socket addresses
		wiretest.ProxyV2(0x21, 0x21, inet, 0),             // IPv6 family, IPv4-sized block
		wiretest.ProxyV2(0x21, 0x11, inet[:8], 0),         // block too short for IPv4
		wiretest.ProxyV2(0x21, 0x41, make([]byte, 12), 0), // unknown family
	}
	for _, header := range malformed {
		if _, _, err := httpwire.ParseProxyHeader(header); err == nil {
			t.Errorf("% x was accepted", header)
		}
	}
	if outcome, _, _ := httpwire.ParseProxyHeader(wiretest.ProxyV2(0x21, 0x21, inet6, 0)[:30]); outcome != httpwire.ProxyNeedMore {
		t.Errorf("an address block still arriving: outcome %d", outcome)
	}
}
