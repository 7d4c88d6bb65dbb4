package wsgi

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"

	"gowsgi/httpwire"
)

var gunicornDefaults = ProxyHeaders{
	SecureScheme: map[string]string{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"},
	Forwarders:   []string{"SCRIPT_NAME", "PATH_INFO"},
	HeaderMap:    "drop",
}

// serveProxied runs the environ_dump app (reached at path) for a request from a trusted or
// untrusted peer under policy, and returns the answer and the environ when there is one.
func serveProxied(t *testing.T, policy ProxyHeaders, trusted bool, path string, header ...string) (*recorder, map[string]any) {
	t.Helper()
	h := NewHandler(testHandler.app, "")
	h.proxy = newProxyPolicy(policy)
	req := &httpwire.Request{
		Method: []byte("GET"), RawURI: []byte(path), Path: []byte(path), Proto: "HTTP/1.1",
		Body: strings.NewReader(""), RemoteAddr: "10.0.0.1", RemotePort: "5555", ServerName: "localhost",
		ServerPort: "8000", Scheme: "http", TrustedPeer: trusted,
	}
	for _, field := range header {
		name, value, _ := strings.Cut(field, ": ")
		req.Header = append(req.Header, httpwire.HeaderField{Name: []byte(name), Value: []byte(value)})
	}
	rec := &recorder{}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	h.Serve(req, rec)
	if rec.code != 200 {
		return rec, nil
	}
	var env map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &env); err != nil {
		t.Fatalf("%v: %s", err, rec.body.String())
	}
	return rec, env
}

func TestSchemeHeadersCountOnlyFromTrustedPeers(t *testing.T) {
	cases := []struct {
		trusted bool
		header  []string
		scheme  string
	}{
		{true, []string{"X-Forwarded-Proto: https"}, "https"},
		{true, []string{"x-forwarded-ssl: on"}, "https"},
		{true, []string{"X-Forwarded-Protocol: ssl", "X-Forwarded-Proto: https"}, "https"},
		{true, []string{"X-Forwarded-Proto: http"}, "http"},
		{true, []string{"X-Forwarded-Proto: HTTPS"}, "http"},
		{false, []string{"X-Forwarded-Proto: https"}, "http"},
		{true, nil, "http"},
	}
	for _, c := range cases {
		_, env := serveProxied(t, gunicornDefaults, c.trusted, "/environ_dump", c.header...)
		if env["wsgi.url_scheme"] != c.scheme {
			t.Errorf("trusted=%v %q: scheme %v, want %s", c.trusted, c.header, env["wsgi.url_scheme"], c.scheme)
		}
		if len(c.header) > 0 && env["HTTP_"+strings.ToUpper(strings.ReplaceAll(strings.Split(c.header[0], ":")[0], "-", "_"))] == nil {
			t.Errorf("%q: the scheme header itself should stay in the environ", c.header)
		}
	}
}

func TestContradictorySchemeHeadersAre400(t *testing.T) {
	rec, _ := serveProxied(t, gunicornDefaults, true, "/environ_dump", "X-Forwarded-Proto: https", "X-Forwarded-Ssl: off")
	if rec.code != 400 || !strings.Contains(rec.body.String(), "contradictory scheme headers") {
		t.Fatalf("got %d %q", rec.code, rec.body.String())
	}
	if rec, _ := serveProxied(t, gunicornDefaults, false, "/environ_dump", "X-Forwarded-Proto: https", "X-Forwarded-Ssl: off"); rec.code != 200 {
		t.Errorf("an untrusted peer's scheme headers mean nothing, yet got %d", rec.code)
	}
}

func TestUnderscoreHeaderNames(t *testing.T) {
	header := []string{"X-Auth-User: good", "X_Auth_User: evil", "X_Only: alone"}
	_, env := serveProxied(t, gunicornDefaults, true, "/environ_dump", header...)
	if env["HTTP_X_AUTH_USER"] != "good" || env["HTTP_X_ONLY"] != nil {
		t.Errorf("drop: X_AUTH_USER=%v X_ONLY=%v", env["HTTP_X_AUTH_USER"], env["HTTP_X_ONLY"])
	}
	dangerous := gunicornDefaults
	dangerous.HeaderMap = "dangerous"
	_, env = serveProxied(t, dangerous, false, "/environ_dump", header...)
	if env["HTTP_X_AUTH_USER"] != "good,evil" || env["HTTP_X_ONLY"] != "alone" {
		t.Errorf("dangerous: X_AUTH_USER=%v X_ONLY=%v", env["HTTP_X_AUTH_USER"], env["HTTP_X_ONLY"])
	}
	refuse := gunicornDefaults
	refuse.HeaderMap = "refuse"
	if rec, _ := serveProxied(t, refuse, true, "/environ_dump", header...); rec.code != 400 {
		t.Errorf("refuse: got %d", rec.code)
	}
	if rec, _ := serveProxied(t, refuse, true, "/environ_dump", "X-Auth-User: good"); rec.code != 200 {
		t.Errorf("refuse turned down a request without underscores: %d", rec.code)
	}
}

func TestForwarderHeaders(t *testing.T) {
	_, env := serveProxied(t, gunicornDefaults, true, "/app/environ_dump", "Script_Name: /app")
	if env["SCRIPT_NAME"] != "/app" || env["PATH_INFO"] != "/environ_dump" || env["HTTP_SCRIPT_NAME"] != "/app" {
		t.Errorf("prefixed path: SCRIPT_NAME=%v PATH_INFO=%v HTTP_SCRIPT_NAME=%v", env["SCRIPT_NAME"], env["PATH_INFO"], env["HTTP_SCRIPT_NAME"])
	}
	_, env = serveProxied(t, gunicornDefaults, true, "/environ_dump", "SCRIPT_NAME: /app/")
	if env["SCRIPT_NAME"] != "/app" || env["PATH_INFO"] != "/environ_dump" {
		t.Errorf("path the proxy already stripped: SCRIPT_NAME=%v PATH_INFO=%v", env["SCRIPT_NAME"], env["PATH_INFO"])
	}
	_, env = serveProxied(t, gunicornDefaults, true, "/somewhere/else", "SCRIPT_NAME: /app", "PATH_INFO: /environ_dump")
	if env["SCRIPT_NAME"] != "/app" || env["PATH_INFO"] != "/environ_dump" {
		t.Errorf("PATH_INFO header: SCRIPT_NAME=%v PATH_INFO=%v", env["SCRIPT_NAME"], env["PATH_INFO"])
	}
	_, env = serveProxied(t, gunicornDefaults, false, "/environ_dump", "SCRIPT_NAME: /app", "PATH_INFO: /x")
	if env["SCRIPT_NAME"] != "" || env["PATH_INFO"] != "/environ_dump" || env["HTTP_SCRIPT_NAME"] != nil {
		t.Errorf("untrusted peer: SCRIPT_NAME=%v PATH_INFO=%v HTTP_SCRIPT_NAME=%v", env["SCRIPT_NAME"], env["PATH_INFO"], env["HTTP_SCRIPT_NAME"])
	}
	anyName := ProxyHeaders{Forwarders: []string{"*"}}
	_, env = serveProxied(t, anyName, true, "/environ_dump", "REMOTE_USER: alice")
	if env["HTTP_REMOTE_USER"] != "alice" {
		t.Errorf(`"*" forwarders: HTTP_REMOTE_USER=%v`, env["HTTP_REMOTE_USER"])
	}
}

func TestServerMountAndProxyMount(t *testing.T) {
	h := NewHandler(testHandler.app, "/mnt")
	h.proxy = newProxyPolicy(gunicornDefaults)
	for _, c := range []struct {
		path, header, script, info string
	}{
		{"/mnt/environ_dump", "", "/mnt", "/environ_dump"},
		{"/environ_dump", "", "", "/environ_dump"},
		{"/other/environ_dump", "SCRIPT_NAME: /other", "/other", "/environ_dump"},
	} {
		var v forwardedView
		req := &httpwire.Request{TrustedPeer: true}
		if c.header != "" {
			name, value, _ := strings.Cut(c.header, ": ")
			req.Header = []httpwire.HeaderField{{Name: []byte(name), Value: []byte(value)}}
		}
		if refused := h.proxy.inspect(req, &v); refused != nil {
			t.Fatalf("%q refused", c.header)
		}
		script, info := h.mountPoint([]byte(c.path), &v)
		if string(script) != c.script || string(info) != c.info {
			t.Errorf("%s %q: %q %q, want %q %q", c.path, c.header, script, info, c.script, c.info)
		}
	}
}

func TestProxyProtocolEnviron(t *testing.T) {
	h := NewHandler(testHandler.app, "")
	req := &httpwire.Request{
		Method: []byte("GET"), RawURI: []byte("/environ_dump"), Path: []byte("/environ_dump"), Proto: "HTTP/1.1",
		Body: strings.NewReader(""), RemoteAddr: "203.0.113.7", RemotePort: "40000", Scheme: "http",
		ProxyProtocol: "TCP4", ProxyAddr: "198.51.100.1", ProxyPort: "443",
	}
	rec := &recorder{}
	runtime.LockOSThread()
	h.Serve(req, rec)
	runtime.UnlockOSThread()
	var env map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &env); err != nil {
		t.Fatalf("%v: %s", err, rec.body.String())
	}
	for k, want := range map[string]string{"REMOTE_ADDR": "203.0.113.7", "REMOTE_PORT": "40000",
		"PROXY_PROTOCOL": "TCP4", "PROXY_ADDR": "198.51.100.1", "PROXY_PORT": "443"} {
		if env[k] != want {
			t.Errorf("%s = %v, want %s", k, env[k], want)
		}
	}
}
