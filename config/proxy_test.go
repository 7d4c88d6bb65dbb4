package config

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"gowsgi/allowlist"
)

func mustAllowList(t *testing.T, text string) allowlist.List {
	t.Helper()
	l, err := allowlist.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// defaultProxyConfig is gunicorn's defaults, written out.
func defaultProxyConfig(t *testing.T) ProxyConfig {
	return ProxyConfig{
		ForwardedAllowIPs:   mustAllowList(t, "127.0.0.1,::1"),
		SecureSchemeHeaders: map[string]string{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"},
		ForwarderHeaders:    []string{"SCRIPT_NAME", "PATH_INFO"},
		HeaderMap:           "drop",
		ProxyProtocol:       "off",
		ProxyAllowIPs:       mustAllowList(t, "127.0.0.1,::1"),
	}
}

func TestProxyFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	cfg := mustParse(t, nil, "--forwarded-allow-ips", "10.0.0.0/8, 192.0.2.1", "--forwarder-headers", "script_name,REMOTE_USER",
		"--header-map", "Refuse", "--proxy-protocol=v2", "--proxy-allow-from", "*", "a:b")
	p := cfg.Proxy
	if !p.ForwardedAllowIPs.Allows(netip.MustParseAddr("10.9.8.7")) || p.ForwardedAllowIPs.Allows(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("forwarded allow list not taken from the flag")
	}
	if !reflect.DeepEqual(p.ForwarderHeaders, []string{"SCRIPT_NAME", "REMOTE_USER"}) || p.HeaderMap != "refuse" ||
		p.ProxyProtocol != "v2" || !p.ProxyAllowIPs.AllowsAll() {
		t.Errorf("proxy settings %+v", p)
	}
}

func TestProxyProtocolValueMayBeOmittedOrSeparate(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := []struct {
		args []string
		mode string
	}{
		{[]string{"--proxy-protocol", "a:b"}, "auto"},
		{[]string{"a:b", "--proxy-protocol"}, "auto"},
		{[]string{"--proxy-protocol", "v1", "a:b"}, "v1"},
		{[]string{"--proxy-protocol", "OFF", "a:b"}, "off"},
		{[]string{"--proxy-protocol=auto", "a:b"}, "auto"},
		{[]string{"a:b"}, "off"},
	}
	for _, c := range cases {
		cfg := mustParse(t, nil, c.args...)
		if cfg.Proxy.ProxyProtocol != c.mode || cfg.App.Raw != "a:b" {
			t.Errorf("%q: mode %q app %q, want %q", c.args, cfg.Proxy.ProxyProtocol, cfg.App.Raw, c.mode)
		}
	}
	env := map[string]string{CmdArgsEnv: "--proxy-protocol v1"}
	if cfg := mustParse(t, env, "a:b"); cfg.Proxy.ProxyProtocol != "v1" {
		t.Errorf("GOWSGI_CMD_ARGS gave mode %q", cfg.Proxy.ProxyProtocol)
	}
}

func TestForwardedAllowIPsFromTheEnvironment(t *testing.T) {
	inTempDirWith(t, "workers: 1\n")
	env := map[string]string{forwardedAllowEnv: "192.0.2.0/24"}
	if cfg := mustParse(t, env, "a:b"); !cfg.Proxy.ForwardedAllowIPs.Allows(netip.MustParseAddr("192.0.2.9")) ||
		cfg.Proxy.ForwardedAllowIPs.Allows(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("FORWARDED_ALLOW_IPS not used")
	}
	if cfg := mustParse(t, env, "--forwarded-allow-ips", "127.0.0.1", "a:b"); cfg.Proxy.ForwardedAllowIPs.Allows(netip.MustParseAddr("192.0.2.9")) {
		t.Errorf("the flag did not win over FORWARDED_ALLOW_IPS")
	}
	inTempDirWith(t, "forwarded_allow_ips: '*'\n")
	if cfg := mustParse(t, env, "a:b"); !cfg.Proxy.ForwardedAllowIPs.AllowsAll() {
		t.Errorf("the config file did not win over FORWARDED_ALLOW_IPS")
	}
	t.Chdir(t.TempDir())
	got := parseError(t, map[string]string{forwardedAllowEnv: "proxy.example"}, "a:b")
	if want := `invalid value "proxy.example" for FORWARDED_ALLOW_IPS: "proxy.example" is not an IP address or network`; got != want {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

func TestBadProxyFlags(t *testing.T) {
	t.Chdir(t.TempDir())
	cases := map[string][]string{
		`invalid value "10.0.0.300" for --forwarded-allow-ips: "10.0.0.300" is not an IP address or network`: {"--forwarded-allow-ips", "10.0.0.300"},
		`invalid value "10.0.0.0/40" for --proxy-allow-from: "10.0.0.0/40" is not an IP network`:             {"--proxy-allow-from", "10.0.0.0/40"},
		`invalid value "map" for --header-map: choose drop, refuse or dangerous`:                             {"--header-map", "map"},
		`invalid value "v3" for --proxy-protocol: choose off, v1, v2 or auto`:                                {"--proxy-protocol=v3"},
		`invalid value "SCRIPT NAME" for --forwarder-headers: "SCRIPT NAME" is not a header name`:            {"--forwarder-headers", "SCRIPT NAME"},
	}
	for want, args := range cases {
		if got := parseError(t, nil, append(args, "a:b")...); got != want {
			t.Errorf("%q:\n got %s\nwant %s", args, got, want)
		}
	}
}

func TestProxySettingsInTheConfigFile(t *testing.T) {
	inTempDirWith(t, `
secure_scheme_headers:
  X-Forwarded-Proto: https
  X-FORWARDED-SSL: on
forwarder_headers: SCRIPT_NAME
header_map: dangerous
proxy_protocol: true
proxy_allow_ips: 10.0.0.1
`)
	p := mustParse(t, nil, "a:b").Proxy
	if want := map[string]string{"X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}; !reflect.DeepEqual(p.SecureSchemeHeaders, want) {
		t.Errorf("secure_scheme_headers %v, want %v", p.SecureSchemeHeaders, want)
	}
	if !reflect.DeepEqual(p.ForwarderHeaders, []string{"SCRIPT_NAME"}) || p.HeaderMap != "dangerous" || p.ProxyProtocol != "auto" ||
		!p.ProxyAllowIPs.Allows(netip.MustParseAddr("10.0.0.1")) || p.ProxyAllowIPs.Allows(netip.MustParseAddr("127.0.0.1")) {
		t.Errorf("proxy settings %+v", p)
	}
	inTempDirWith(t, "secure_scheme_headers: {}\n")
	if p := mustParse(t, nil, "a:b").Proxy; p.SecureSchemeHeaders == nil || len(p.SecureSchemeHeaders) != 0 {
		t.Errorf("an empty mapping should believe no header, got %v", p.SecureSchemeHeaders)
	}
}

func TestBadSchemeHeadersNameTheLine(t *testing.T) {
	cases := map[string]string{
		"secure_scheme_headers: X-FORWARDED-PROTO\n":          `gowsgi.yaml:1: setting "secure_scheme_headers" must be a mapping of header names to values`,
		"secure_scheme_headers: [X-FORWARDED-PROTO, https]\n": `gowsgi.yaml:1: setting "secure_scheme_headers" must be a mapping`,
		"workers: 1\nsecure-scheme-headers:\n  X-A: [1, 2]\n": `gowsgi.yaml:3: setting "secure-scheme-headers": header X-A needs a single value`,
		"secure_scheme_headers:\n  X-A: https\n  'X B': on\n": `gowsgi.yaml:3: setting "secure_scheme_headers": "X B" is not a header name`,
		"secure_scheme_headers:\n  X-A:\n":                    `gowsgi.yaml:2: setting "secure_scheme_headers": header X-A needs a single value`,
	}
	for text, want := range cases {
		inTempDirWith(t, text)
		if got := parseError(t, nil, "a:b"); !strings.HasPrefix(got, want) {
			t.Errorf("file %q:\n got %s\nwant %s…", text, got, want)
		}
	}
}
