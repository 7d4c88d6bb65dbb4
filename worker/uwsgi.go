package worker

import (
	"errors"

	"gowsgi/allowlist"
	"gowsgi/config"
)

// uwsgiPolicy is present on a server whose sockets speak the uwsgi protocol (--protocol uwsgi,
// nginx's uwsgi_pass) instead of HTTP: the engine reads the packets (httpwire.Conn's
// ReadUwsgiRequest), the policy says whose to read.
type uwsgiPolicy struct {
	// allow are the peers that may send requests (--uwsgi-allow-from): the packet's vars set
	// the client address, the scheme and every header, so whoever can send one can claim them.
	allow allowlist.List
}

// newUwsgiPolicy is nil when the sockets speak HTTP, which keeps the HTTP path to one check.
func newUwsgiPolicy(cfg *config.Config) *uwsgiPolicy {
	if cfg.Protocol != "uwsgi" {
		return nil
	}
	return &uwsgiPolicy{allow: cfg.Proxy.UwsgiAllowIPs}
}

// errUwsgiPeer is what nextRequest returns for a peer not in --uwsgi-allow-from.
var errUwsgiPeer = errors.New("uwsgi peer not allowed")
