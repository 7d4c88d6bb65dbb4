package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"gowsgi/allowlist"
)

// ProxyConfig says which proxies in front of gowsgi are believed, and about what; each field
// has the meaning of the gunicorn setting it is named after.
type ProxyConfig struct {
	// ForwardedAllowIPs are the peers whose secure scheme and forwarder headers count. Peers on
	// a unix socket always count.
	ForwardedAllowIPs allowlist.List
	// SecureSchemeHeaders maps upper-case header names to the value that makes a request https.
	SecureSchemeHeaders map[string]string
	// ForwarderHeaders are the upper-case header names with "_" that a trusted peer may send
	// ("*": any such name).
	ForwarderHeaders []string
	// HeaderMap is what becomes of the other header names with "_": "drop", "refuse" or
	// "dangerous".
	HeaderMap string
	// ProxyProtocol is which PROXY protocol headers are read at the start of a connection:
	// "off", "v1", "v2" or "auto" (either).
	ProxyProtocol string
	// ProxyAllowIPs are the peers allowed to send a PROXY protocol header.
	ProxyAllowIPs allowlist.List
	// UwsgiAllowIPs are the peers allowed to send uwsgi requests (--protocol uwsgi).
	UwsgiAllowIPs allowlist.List
}

// forwardedAllowEnv is the environment variable that gives forwarded_allow_ips its default.
const forwardedAllowEnv = "FORWARDED_ALLOW_IPS"

const (
	defaultAllowIPs         = "127.0.0.1,::1"
	defaultForwarderHeaders = "SCRIPT_NAME,PATH_INFO"
	schemeHeadersKey        = "secure-scheme-headers"
)

// defaultSchemeHeaders are gunicorn's secure_scheme_headers.
func defaultSchemeHeaders() map[string]string {
	return map[string]string{"X-FORWARDED-PROTOCOL": "ssl", "X-FORWARDED-PROTO": "https", "X-FORWARDED-SSL": "on"}
}

// proxyOptions are the proxy flags as given.
type proxyOptions struct {
	forwardedAllowIPs allowFlag
	forwarderHeaders  namesFlag
	headerMap         choiceFlag
	proxyProtocol     choiceFlag
	proxyAllowIPs     allowFlag
}

func newProxyOptions() proxyOptions {
	return proxyOptions{
		forwarderHeaders: namesFlag{text: defaultForwarderHeaders, names: []string{"SCRIPT_NAME", "PATH_INFO"}},
		headerMap: choiceFlag{value: "drop", help: "choose drop, refuse or dangerous",
			choices: map[string]string{"drop": "drop", "refuse": "refuse", "dangerous": "dangerous"}},
		// true and false are what a config file written for older gunicorns, where the
		// setting was a switch, holds.
		proxyProtocol: choiceFlag{value: "off", help: "choose off, v1, v2 or auto",
			choices: map[string]string{"off": "off", "v1": "v1", "v2": "v2", "auto": "auto", "true": "auto", "false": "off"}},
		proxyAllowIPs: defaultAllowFlag(),
	}
}

func defaultAllowFlag() allowFlag {
	list, _ := allowlist.Parse(defaultAllowIPs)
	return allowFlag{text: defaultAllowIPs, list: list}
}

func (p *proxyOptions) addFlags(fs *pflag.FlagSet) {
	fs.Var(&p.forwardedAllowIPs, "forwarded-allow-ips",
		"believe the scheme and forwarder headers of the proxies at `IPS`: comma-separated addresses, CIDR networks, or * for any (default $FORWARDED_ALLOW_IPS or 127.0.0.1,::1)")
	fs.Var(&p.forwarderHeaders, "forwarder-headers",
		"let those proxies send these `HEADERS` with _ in their names; SCRIPT_NAME and PATH_INFO set the app's mount point and path (default SCRIPT_NAME,PATH_INFO)")
	fs.Var(&p.headerMap, "header-map",
		"what to do with other header names holding _, `MODE`: drop them, refuse the request (400), or dangerous: map them like - (default drop)")
	fs.Var(&p.proxyProtocol, "proxy-protocol",
		"read the PROXY protocol header a load balancer may send first on a connection, `MODE`: off, v1, v2 or auto (either); the flag alone means auto (default off)")
	fs.Lookup("proxy-protocol").NoOptDefVal = "auto"
	fs.Var(&p.proxyAllowIPs, "proxy-allow-from",
		"accept PROXY protocol headers only from `IPS`: comma-separated addresses, CIDR networks, or * for any (default 127.0.0.1,::1)")
}

// resolve applies the defaults that come from the environment and the config file.
func (p *proxyOptions) resolve(file *configFile, getenv func(string) string) (ProxyConfig, error) {
	cfg := ProxyConfig{
		ForwardedAllowIPs:   p.forwardedAllowIPs.list,
		SecureSchemeHeaders: defaultSchemeHeaders(),
		ForwarderHeaders:    p.forwarderHeaders.names,
		HeaderMap:           p.headerMap.value,
		ProxyProtocol:       p.proxyProtocol.value,
		ProxyAllowIPs:       p.proxyAllowIPs.list,
	}
	if !p.forwardedAllowIPs.set {
		cfg.ForwardedAllowIPs = defaultAllowFlag().list
		if text := getenv(forwardedAllowEnv); text != "" {
			list, err := allowlist.Parse(text)
			if err != nil {
				return cfg, fmt.Errorf("invalid value %q for %s: %v", text, forwardedAllowEnv, err)
			}
			cfg.ForwardedAllowIPs = list
		}
	}
	if file.schemeHeaders != nil {
		cfg.SecureSchemeHeaders = file.schemeHeaders
	}
	return cfg, nil
}

// allowFlag is an allow list, checked when it is set.
type allowFlag struct {
	text string
	list allowlist.List
	set  bool
}

func (f *allowFlag) Set(text string) error {
	list, err := allowlist.Parse(text)
	if err != nil {
		return err
	}
	f.text, f.list, f.set = text, list, true
	return nil
}

func (f *allowFlag) String() string { return f.text }
func (f *allowFlag) Type() string   { return "string" }

// namesFlag is a comma-separated list of header names, kept upper-case as gunicorn compares them.
type namesFlag struct {
	text  string
	names []string
}

func (f *namesFlag) Set(text string) error {
	var names []string
	for _, name := range strings.Split(text, ",") {
		name = strings.ToUpper(strings.TrimSpace(name))
		switch {
		case name == "":
			continue
		case name != "*" && !isHeaderName(name):
			return fmt.Errorf("%q is not a header name", name)
		}
		names = append(names, name)
	}
	f.text, f.names = text, names
	return nil
}

func (f *namesFlag) String() string { return f.text }
func (f *namesFlag) Type() string   { return "string" }

// choiceFlag takes one of a few words, in any case; choices maps each accepted word to the
// value it stands for, and help says which to choose.
type choiceFlag struct {
	value   string
	help    string
	choices map[string]string
}

func (f *choiceFlag) Set(text string) error {
	value, ok := f.choices[strings.ToLower(strings.TrimSpace(text))]
	if !ok {
		return errors.New(f.help)
	}
	f.value = value
	return nil
}

func (f *choiceFlag) String() string { return f.value }
func (f *choiceFlag) Type() string   { return "string" }

// joinOptionalValues rewrites "--proxy-protocol MODE" as "--proxy-protocol=MODE": the flag may
// stand alone (meaning auto), and the flag parser only takes its value in the "=" form, while
// gunicorn's command line also takes the separate word.
func joinOptionalValues(args []string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			return append(out, args[i:]...)
		}
		if args[i] == "--proxy-protocol" && i+1 < len(args) && isProxyMode(args[i+1]) {
			out = append(out, args[i]+"="+args[i+1])
			i++
			continue
		}
		out = append(out, args[i])
	}
	return out
}

func isProxyMode(word string) bool {
	switch strings.ToLower(word) {
	case "off", "v1", "v2", "auto":
		return true
	}
	return false
}

// isSchemeHeadersKey says whether a config file key is secure_scheme_headers, the one setting
// that is a mapping and has no flag, as in gunicorn.
func isSchemeHeadersKey(key string) bool { return normalizeKey(key) == schemeHeadersKey }

// readSchemeHeaders reads secure_scheme_headers: a mapping of header names to values, or an
// empty mapping to believe no such header.
func (c *configFile) readSchemeHeaders(key string, line int, value *yaml.Node) error {
	if value.Kind != yaml.MappingNode {
		return c.errorAt(line, "setting %q must be a mapping of header names to values, like {X-FORWARDED-PROTO: https}", key)
	}
	headers := map[string]string{}
	for i := 0; i+1 < len(value.Content); i += 2 {
		name, want := value.Content[i], value.Content[i+1]
		if name.Kind != yaml.ScalarNode || !isHeaderName(name.Value) {
			return c.errorAt(name.Line, "setting %q: %q is not a header name", key, name.Value)
		}
		if want.Kind != yaml.ScalarNode || want.Tag == "!!null" {
			return c.errorAt(want.Line, "setting %q: header %s needs a single value", key, name.Value)
		}
		headers[strings.ToUpper(name.Value)] = want.Value
	}
	c.schemeHeaders, c.schemeHeadersLine = headers, line
	return nil
}

// schemeHeadersSetting is secure_scheme_headers for --print-config, which lists flags only
// otherwise: its names sorted, as {NAME: value, ...}.
func schemeHeadersSetting(cfg *Config, file *configFile) Setting {
	names := make([]string, 0, len(cfg.Proxy.SecureSchemeHeaders))
	for name := range cfg.Proxy.SecureSchemeHeaders {
		names = append(names, name)
	}
	sort.Strings(names)
	for i, name := range names {
		names[i] = name + ": " + quoteIfNeeded(cfg.Proxy.SecureSchemeHeaders[name])
	}
	source := fromDefault
	if file.schemeHeaders != nil {
		source = file.at(file.schemeHeadersLine)
	}
	return Setting{Key: "secure_scheme_headers", Value: "{" + strings.Join(names, ", ") + "}", Source: source}
}

// isHeaderName reports whether name is an RFC 9110 token.
func isHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range []byte(name) {
		alnum := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
		if !alnum && !strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c)) {
			return false
		}
	}
	return true
}
