// Package allowlist matches client addresses against the lists of trusted proxies that gunicorn's
// forwarded_allow_ips and proxy_allow_ips hold: IP addresses, CIDR networks, or "*" for any.
package allowlist

import (
	"fmt"
	"net/netip"
	"strings"
)

// List is a parsed allow list. The zero List allows nothing.
type List struct {
	any      bool
	prefixes []netip.Prefix
}

// Parse reads a comma-separated list. Entries are trimmed and empty ones skipped, so "" allows
// nothing; a network with host bits set ("10.1.2.3/8") means the whole network, as gunicorn
// reads it.
func Parse(text string) (List, error) {
	var l List
	for _, entry := range strings.Split(text, ",") {
		entry = strings.TrimSpace(entry)
		switch {
		case entry == "":
			continue
		case entry == "*":
			l.any = true
			continue
		}
		prefix, err := parseEntry(entry)
		if err != nil {
			return List{}, err
		}
		l.prefixes = append(l.prefixes, prefix)
	}
	return l, nil
}

func parseEntry(entry string) (netip.Prefix, error) {
	if strings.Contains(entry, "/") {
		prefix, err := netip.ParsePrefix(entry)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not an IP network", entry)
		}
		addr := prefix.Addr()
		if addr.Is4In6() && prefix.Bits() >= 96 {
			return netip.PrefixFrom(addr.Unmap(), prefix.Bits()-96).Masked(), nil
		}
		return prefix.Masked(), nil
	}
	addr, err := netip.ParseAddr(entry)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or network", entry)
	}
	addr = addr.WithZone("").Unmap()
	return netip.PrefixFrom(addr, addr.BitLen()), nil
}

// AllowsAll reports whether the list holds "*".
func (l List) AllowsAll() bool { return l.any }

// Allows reports whether addr is in the list. An IPv4 address seen through an IPv6 socket
// (::ffff:127.0.0.1) matches the IPv4 entries, and a zone is ignored.
func (l List) Allows(addr netip.Addr) bool {
	if l.any {
		return true
	}
	addr = addr.WithZone("").Unmap()
	for _, p := range l.prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// String is the list as it is matched, comma-separated, with single addresses without their
// prefix length: what --print-config shows.
func (l List) String() string {
	var entries []string
	if l.any {
		entries = append(entries, "*")
	}
	for _, p := range l.prefixes {
		if p.IsSingleIP() {
			entries = append(entries, p.Addr().String())
		} else {
			entries = append(entries, p.String())
		}
	}
	return strings.Join(entries, ",")
}
