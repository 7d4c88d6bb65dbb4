package wsgi

import (
	"bytes"
	"strconv"
	"strings"

	"gowsgi/httpwire"
)

// ProxyHeaders says what request headers may change in the environ: a trusted proxy's word on
// the scheme and the mount point, and what becomes of header names with "_", which would
// otherwise land on the same environ key as their "-" spelling.
type ProxyHeaders struct {
	// SecureScheme maps header names to the value that means the client used https.
	SecureScheme map[string]string
	// Forwarders are the header names with "_" that a trusted proxy may send; "*" allows any.
	Forwarders []string
	// HeaderMap is what becomes of any other name with "_": "drop" (the default), "refuse"
	// (answer 400) or "dangerous" (map it like "-").
	HeaderMap string
}

const (
	underscoreDrop = iota
	underscoreRefuse
	underscoreMap
)

// proxyPolicy is ProxyHeaders in the form a request checks quickly.
type proxyPolicy struct {
	scheme       []schemeHeader
	forwarders   []string // upper case
	anyForwarder bool
	underscore   int
}

type schemeHeader struct {
	name   string // upper case
	secure []byte
}

func newProxyPolicy(p ProxyHeaders) proxyPolicy {
	policy := proxyPolicy{}
	for name, value := range p.SecureScheme {
		policy.scheme = append(policy.scheme, schemeHeader{name: strings.ToUpper(name), secure: []byte(value)})
	}
	for _, name := range p.Forwarders {
		if name == "*" {
			policy.anyForwarder = true
		}
		policy.forwarders = append(policy.forwarders, strings.ToUpper(name))
	}
	switch p.HeaderMap {
	case "refuse":
		policy.underscore = underscoreRefuse
	case "dangerous":
		policy.underscore = underscoreMap
	}
	return policy
}

// forwardedView is what a request's headers change in its environ.
type forwardedView struct {
	scheme                     string
	scriptName, pathInfo       []byte
	hasScriptName, hasPathInfo bool
}

var (
	answerContradictoryScheme = refusal("contradictory scheme headers")
	answerUnderscoreName      = refusal("header name with an underscore")
)

// inspect reads what the headers of req say under the policy into v, or returns the answer
// for a request that must be refused: one whose secure scheme headers disagree, or one with a
// header name holding "_" under "refuse". Only a trusted peer's scheme and forwarder headers
// count; anyone else's are ordinary headers.
func (p *proxyPolicy) inspect(req *httpwire.Request, v *forwardedView) *errorAnswer {
	*v = forwardedView{scheme: req.Scheme}
	schemeSeen := false
	for i := range req.Header {
		name, value := req.Header[i].Name, req.Header[i].Value
		if req.TrustedPeer {
			if secure, found := p.secureValue(name); found {
				scheme := "http"
				if bytes.Equal(value, secure) {
					scheme = "https"
				}
				if schemeSeen && scheme != v.scheme {
					return &answerContradictoryScheme
				}
				v.scheme, schemeSeen = scheme, true
			}
		}
		if bytes.IndexByte(name, '_') < 0 {
			continue
		}
		switch {
		case req.TrustedPeer && p.isForwarder(name):
			if equalUpper(name, "SCRIPT_NAME") {
				v.scriptName, v.hasScriptName = bytes.TrimRight(value, "/"), true
			} else if equalUpper(name, "PATH_INFO") {
				v.pathInfo, v.hasPathInfo = value, true
			}
		case p.underscore == underscoreRefuse:
			return &answerUnderscoreName
		}
	}
	return nil
}

// passes reports whether a header reaches the environ: any name without "_"; one with "_" when
// a trusted peer may send it, or when the policy maps such names anyway.
func (p *proxyPolicy) passes(name []byte, trusted bool) bool {
	if bytes.IndexByte(name, '_') < 0 {
		return true
	}
	return p.underscore == underscoreMap || trusted && p.isForwarder(name)
}

func (p *proxyPolicy) secureValue(name []byte) ([]byte, bool) {
	for i := range p.scheme {
		if equalUpper(name, p.scheme[i].name) {
			return p.scheme[i].secure, true
		}
	}
	return nil, false
}

func (p *proxyPolicy) isForwarder(name []byte) bool {
	if p.anyForwarder {
		return true
	}
	for _, f := range p.forwarders {
		if equalUpper(name, f) {
			return true
		}
	}
	return false
}

// mountPoint splits the decoded request path into SCRIPT_NAME and PATH_INFO. A trusted
// proxy's SCRIPT_NAME header wins over the server's own mount point; the proxy may pass the
// path with the prefix (which is then removed) or without it. Its PATH_INFO header, when sent,
// is PATH_INFO.
func (h *Handler) mountPoint(path []byte, v *forwardedView) (scriptName, pathInfo []byte) {
	if v.hasScriptName {
		scriptName, pathInfo = v.scriptName, path
		if mounted, rest := underMount(path, v.scriptName); mounted {
			pathInfo = rest
		}
	} else if mounted, rest := underMount(path, h.scriptName); mounted {
		scriptName, pathInfo = h.scriptName, rest
	} else {
		pathInfo = path
	}
	if v.hasPathInfo {
		pathInfo = v.pathInfo
	}
	return scriptName, pathInfo
}

// equalUpper compares name with upper, an upper-case ASCII string, ignoring the case of name.
func equalUpper(name []byte, upper string) bool {
	if len(name) != len(upper) {
		return false
	}
	for i, c := range name {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

// refusal is a 400 answer that says why.
func refusal(why string) errorAnswer {
	body := []byte("Bad Request\n" + why + "\n")
	return errorAnswer{
		status: []byte("400 Bad Request"),
		code:   400,
		body:   body,
		header: []httpwire.HeaderField{
			{Name: []byte("Content-Type"), Value: []byte("text/plain; charset=utf-8")},
			{Name: []byte("Content-Length"), Value: []byte(strconv.Itoa(len(body)))},
			{Name: []byte("Connection"), Value: []byte("close")},
		},
	}
}
