package allowlist

import (
	"net/netip"
	"testing"
)

func TestAllows(t *testing.T) {
	cases := []struct {
		list  string
		addr  string
		allow bool
	}{
		{"127.0.0.1,::1", "127.0.0.1", true},
		{"127.0.0.1,::1", "::1", true},
		{"127.0.0.1,::1", "127.0.0.2", false},
		{"127.0.0.1,::1", "::ffff:127.0.0.1", true},
		{"127.0.0.1", "::1", false},
		{" 10.0.0.0/8 , 192.168.1.7 ", "10.200.3.4", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.1.2.3/8", "10.9.9.9", true},
		{"2001:db8::/32", "2001:db8:1::5", true},
		{"2001:db8::/32", "2001:db9::5", false},
		{"fe80::1", "fe80::1%eth0", true},
		{"::ffff:10.0.0.0/104", "10.3.3.3", true},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"*", "203.0.113.9", true},
		{"10.0.0.1,*", "::1", true},
		{"", "127.0.0.1", false},
		{" , ", "127.0.0.1", false},
	}
	for _, c := range cases {
		l, err := Parse(c.list)
		if err != nil {
			t.Fatalf("Parse(%q): %v", c.list, err)
		}
		if got := l.Allows(netip.MustParseAddr(c.addr)); got != c.allow {
			t.Errorf("Parse(%q).Allows(%s) = %v, want %v", c.list, c.addr, got, c.allow)
		}
	}
}

func TestAllowsAll(t *testing.T) {
	for list, want := range map[string]bool{"*": true, "127.0.0.1, *": true, "0.0.0.0/0": false, "": false} {
		l, err := Parse(list)
		if err != nil || l.AllowsAll() != want {
			t.Errorf("Parse(%q).AllowsAll() = %v (%v), want %v", list, l.AllowsAll(), err, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, list := range []string{"localhost", "127.0.0.1,example.com", "10.0.0.0/33", "10.0.0/8", "1.2.3.4.5", "::1/129", "**"} {
		if _, err := Parse(list); err == nil {
			t.Errorf("Parse(%q) accepted a bad entry", list)
		}
	}
}
