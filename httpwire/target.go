package httpwire

import (
	"bytes"
	"net/netip"
)

// checkTargetForm holds the request target to the form its method allows (RFC 9112 §3.2), as
// gunicorn does: a target in another form is read differently by different servers, and an
// authority- or asterisk-form target would reach the app as a PATH_INFO without its leading
// "/". It runs after case-folding, so "connect" folded to CONNECT may use authority-form.
func checkTargetForm(method, target []byte) *Refusal {
	switch {
	case target[0] == '/':
		return nil
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return errTargetForm
		}
		return nil
	case string(method) == "CONNECT" && isAuthorityForm(target):
		return nil
	}
	return checkAbsoluteForm(target)
}

// isAuthorityForm is RFC 9112 §3.2.3's uri-host ":" port, the target of CONNECT.
func isAuthorityForm(target []byte) bool {
	host, port, ok := splitAuthority(target)
	return ok && len(host) > 0 && len(port) > 0 && bytes.IndexByte(target, '@') < 0
}

// checkAbsoluteForm accepts scheme "://" authority, then anything, as absolute-form (RFC 9112
// §3.2.2), and refuses what is neither that nor origin-form, as gunicorn does. The authority
// must parse (RFC 3986 §3.2), which Python's urlsplit partly checks for gunicorn, and an http
// or https one must name a host (RFC 9110 §4.2.1).
func checkAbsoluteForm(target []byte) *Refusal {
	sep := bytes.Index(target, []byte("://"))
	if sep <= 0 || !isScheme(target[:sep]) {
		return errTargetForm
	}
	authority := target[sep+3:]
	if end := bytes.IndexAny(authority, "/?#"); end >= 0 {
		authority = authority[:end]
	}
	host, _, ok := splitAuthority(authority)
	if !ok {
		return errTarget
	}
	scheme := target[:sep]
	if len(host) == 0 && (equalFold(scheme, "http") || equalFold(scheme, "https")) {
		return errTarget
	}
	return nil
}

// isScheme is RFC 3986 §3.1's scheme: a letter, then letters, digits, "+", "-" and ".".
func isScheme(b []byte) bool {
	if len(b) == 0 || !isAlpha(b[0]) {
		return false
	}
	for _, c := range b {
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

// splitAuthority parses [ userinfo "@" ] host [ ":" port ] (RFC 3986 §3.2) and returns host
// and port, which may be empty. A bracketed host must be an IPv6 address or an IPvFuture
// literal: an unmatched or misplaced bracket, which urlsplit refuses for gunicorn, makes
// proxies and the app disagree on which host was meant.
func splitAuthority(a []byte) (host, port []byte, ok bool) {
	if at := bytes.LastIndexByte(a, '@'); at >= 0 {
		if !isURIText(a[:at], true) {
			return nil, nil, false
		}
		a = a[at+1:]
	}
	hostEnd := 0
	if len(a) > 0 && a[0] == '[' {
		hostEnd = bytes.IndexByte(a, ']') + 1
		if hostEnd == 0 || !isIPLiteral(a[1:hostEnd-1]) {
			return nil, nil, false
		}
	} else {
		if hostEnd = bytes.IndexByte(a, ':'); hostEnd < 0 {
			hostEnd = len(a)
		}
		if !isURIText(a[:hostEnd], false) {
			return nil, nil, false
		}
	}
	host, port = a[:hostEnd], a[hostEnd:]
	if len(port) > 0 {
		if port[0] != ':' {
			return nil, nil, false
		}
		port = port[1:]
	}
	for _, d := range port {
		if !isDigit(d) {
			return nil, nil, false
		}
	}
	return host, port, true
}

// isIPLiteral checks what is between the brackets of an IP-literal: an IPv6 address (with a
// zone, which urlsplit accepts too) or "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" ).
// ParseAddr allocates, but only for an absolute-form target with a bracketed host.
func isIPLiteral(b []byte) bool {
	if len(b) > 0 && (b[0] == 'v' || b[0] == 'V') {
		dot := bytes.IndexByte(b, '.')
		if dot < 2 || dot == len(b)-1 {
			return false
		}
		for _, c := range b[1:dot] {
			if hexValue(c) < 0 {
				return false
			}
		}
		return isURIText(b[dot+1:], true) && bytes.IndexByte(b[dot+1:], '%') < 0
	}
	addr, err := netip.ParseAddr(string(b))
	return err == nil && addr.Is6()
}

// isURIText reports whether b holds only RFC 3986 unreserved and sub-delims characters,
// percent-encoded octets and, if colon, ":": the text of a reg-name or, with colon, a userinfo.
func isURIText(b []byte, colon bool) bool {
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case uriTextByte[c], colon && c == ':':
		case c == '%' && i+2 < len(b) && hexValue(b[i+1]) >= 0 && hexValue(b[i+2]) >= 0:
			i += 2
		default:
			return false
		}
	}
	return true
}

// slashPath is the path of an absolute-form target that names no path ("http://host").
var slashPath = []byte("/")

// SplitTarget sets Path and Query from RawURI. An absolute-form target ("http://host/p?q",
// sent to proxies) contributes only its path; a fragment is not part of either.
func (req *Request) SplitTarget() {
	target := req.RawURI
	if i := bytes.IndexByte(target, '#'); i >= 0 {
		target = target[:i]
	}
	path, query := target, []byte(nil)
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = target[:i], target[i+1:]
	}
	if len(path) > 0 && path[0] != '/' {
		if i := bytes.Index(path, []byte("://")); i > 0 && isToken(path[:i]) {
			path = path[i+3:]
			if j := bytes.IndexByte(path, '/'); j >= 0 {
				path = path[j:]
			} else {
				path = slashPath
			}
		}
	}
	req.Path, req.Query = path, query
}
